"""The one place that builds the bundle of services from settings.

Each capability is built lazily on first use by the provider the settings select
(bot/providers.py), so a turn that only greets never imports boto3 or onnxruntime. Tests hand in
their own objects with ``Services(settings, overrides={"speech": fake})``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from bot import providers
from bot.capabilities import (BlobStore, ConversationStore, Embedder, ImageGenerator, InsightStore, KnowledgeBase,
                              LanguageDetector, LinkStore, Nlu, Quotas, RemoteFiles, Speech, Summarizer, TextAnalyzer,
                              Translator, UploadQueue, Vision)
from bot.quiz import QuizMaker
from bot.settings import Settings


class Services:
    """Lazily built capabilities. Attribute access builds and caches: ``services.kb``."""

    def __init__(self, settings: Settings, overrides: dict[str, Any] | None = None):
        self.settings = settings
        self._built: dict[str, Any] = dict(overrides or {})
        self._lock = threading.RLock()

    def get(self, name: str) -> Any:
        built = self._built
        if name in built:
            return built[name]
        if name not in providers.CAPABILITIES:
            raise AttributeError(name)
        with self._lock:
            if name not in built:
                built[name] = providers.build(name, self.settings, self)
            return built[name]

    def has(self, name: str) -> bool:
        """Whether the capability is built already (does not build it)."""
        return name in self._built

    @property
    def conversations(self) -> ConversationStore:
        return self.get("conversations")

    @property
    def embedder(self) -> Embedder:
        return self.get("embedder")

    @property
    def nlu(self) -> Nlu:
        return self.get("nlu")

    @property
    def kb(self) -> KnowledgeBase:
        return self.get("kb")

    @property
    def quiz(self) -> QuizMaker:
        return self.get("quiz")

    @property
    def text(self) -> TextAnalyzer:
        return self.get("text")

    @property
    def language(self) -> LanguageDetector:
        return self.get("language")

    @property
    def summarizer(self) -> Summarizer:
        return self.get("summarizer")

    @property
    def translator(self) -> Translator:
        return self.get("translator")

    @property
    def speech(self) -> Speech:
        return self.get("speech")

    @property
    def blobs(self) -> BlobStore:
        return self.get("blobs")

    @property
    def remote_files(self) -> RemoteFiles:
        return self.get("remote_files")

    @property
    def vision(self) -> Vision:
        return self.get("vision")

    @property
    def imagegen(self) -> ImageGenerator:
        return self.get("imagegen")

    @property
    def links(self) -> LinkStore:
        return self.get("links")

    @property
    def insight(self) -> InsightStore:
        return self.get("insight")

    @property
    def quotas(self) -> Quotas:
        return self.get("quotas")

    @property
    def uploads(self) -> UploadQueue:
        return self.get("uploads")


@functools.cache
def default() -> Services:
    """The process-wide services for the settings from the environment (built once)."""
    from bot import settings

    return Services(settings.get())
