"""The one place that builds the bundle of services from settings.

Each capability is built lazily on first use from the table below, for the configured backend, so
a turn that only greets never imports boto3 or onnxruntime. Tests hand in their own objects with
``Services(settings, overrides={"speech": fake})``.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from bot.errors import NotAvailable
from bot.settings import Settings

# capability -> {backend: "module:factory"}; a factory takes (settings, services) and returns the
# implementation. A missing entry or module means the capability is not built for that backend.
FACTORIES: dict[str, dict[str, str]] = {
    "conversations": {"local": "bot.local.wiring:conversations", "aws": "bot.aws.wiring:conversations"},
    "embedder": {"local": "bot.local.embedding:shared_embedder", "aws": "bot.local.embedding:shared_embedder"},
    "nlu": {"local": "bot.nlu:build", "aws": "bot.nlu:build"},
    "kb": {"local": "kb.local:build", "aws": "kb.bedrock:build"},
    "text": {"local": "bot.local.text:build", "aws": "bot.aws.comprehend:build"},
    "summarizer": {"local": "bot.local.text:build_summarizer", "aws": "bot.aws.llm:build_summarizer"},
    "translator": {"aws": "bot.aws.translate:build"},
    "speech": {"local": "bot.local.speech:build", "aws": "bot.aws.polly:build"},
    "blobs": {"local": "bot.local.blobs:build", "aws": "bot.aws.s3:build"},
    "vision": {"local": "bot.local.vision:build", "aws": "bot.aws.rekognition:build"},
    # local: only when COURSEBOT_IMAGE_ENDPOINT names a SageMaker endpoint (there is no offline model)
    "imagegen": {"local": "bot.aws.imagegen:build_local", "aws": "bot.aws.imagegen:build"},
    # short links <base>/l/<id> to stored files (Lex cannot carry presigned S3 URLs)
    "links": {"local": "bot.local.shortlinks:build", "aws": "bot.aws.shortlinks:build"},
    # fair-use counters (uploads per hour, pages per day, turns per minute) and the chat-upload worker queue
    "quotas": {"local": "bot.quotas:build_local", "aws": "bot.quotas:build_aws"},
    "uploads": {"local": "bot.uploads:build", "aws": "bot.uploads:build"},
}


class Services:
    """Lazily built capabilities for one backend. Attribute access builds and caches: ``services.kb``."""

    def __init__(self, settings: Settings, overrides: dict[str, Any] | None = None):
        self.settings = settings
        self._built: dict[str, Any] = dict(overrides or {})
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in FACTORIES:
            raise AttributeError(name)
        return self.get(name)

    def get(self, name: str) -> Any:
        built = self._built
        if name in built:
            return built[name]
        with self._lock:
            if name not in built:
                built[name] = self._build(name)
            return built[name]

    def has(self, name: str) -> bool:
        """Whether the capability is built already (does not build it)."""
        return name in self._built

    def _build(self, name: str) -> Any:
        backend = self.settings.backend
        target = FACTORIES[name].get(backend)
        if target is None:
            raise NotAvailable(_unavailable(name, backend), code="not_available")
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and (e.name == module_name or module_name.startswith(e.name + ".")):
                raise NotAvailable(f"{_LABELS.get(name, name)} is not built yet in this version of coursebot.",
                                   code="not_built") from e
            raise
        return getattr(module, attr)(self.settings, self)


_LABELS = {
    "kb": "The course knowledge base",
    "text": "Text analysis",
    "summarizer": "Summarizing",
    "translator": "Translation",
    "speech": "Speech",
    "blobs": "File storage",
    "vision": "Photo description",
    "imagegen": "Image generation",
    "links": "Short links",
}


def _unavailable(name: str, backend: str) -> str:
    label = _LABELS.get(name, name)
    if name == "imagegen":
        return (f"{label} has no offline engine, so it is not available on the {backend} backend. "
                "Set COURSEBOT_BACKEND=aws (Bedrock) or COURSEBOT_IMAGE_ENDPOINT (a SageMaker endpoint) to enable it.")
    if name == "translator":
        return f"{label} is not available offline. Set COURSEBOT_BACKEND=aws to use Amazon Translate."
    return f"{label} is not available on the {backend} backend."


_services: Services | None = None
_services_lock = threading.Lock()


def default() -> Services:
    """The process-wide services for the settings from the environment."""
    global _services
    with _services_lock:
        if _services is None:
            from bot import settings

            _services = Services(settings.get())
        return _services
