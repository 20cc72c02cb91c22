"""Providers registered per capability, with flags; bot/services.py builds the one the settings select.

Each capability (bot/capabilities.py names its Protocol) has providers registered below with
``register``: where its factory lives, whether it works offline, the pip extra it needs and the
settings it requires. A capability's setting (``COURSEBOT_SPEECH=polly|espeak``, ...) picks a
provider by name; unset, the provider registered as the default for ``COURSEBOT_BACKEND`` is used.
Adding a provider is its module plus one ``register`` line. The "not available" sentences users
read are written from these flags, never by hand per capability.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from bot.errors import ConfigError, NotAvailable, missing_extra
from bot.settings import ENV_PREFIX


@dataclass(frozen=True)
class Capability:
    """A capability: ``label`` is what users read, ``setting`` the settings field that picks its provider."""

    name: str
    label: str
    setting: str | None = None


@dataclass(frozen=True)
class Provider:
    """One implementation of a capability.

    Attributes:
        capability: the capability it implements.
        name: what the capability's setting names it by (``polly``).
        factory: ``"module:function"``; the function takes ``(settings, services)``.
        title: what users read (``Amazon Polly``).
        offline: works without an AWS account or network.
        extra: the pip extra its module needs, or None.
        needs: settings fields that must be set for it to work.
        default_on: the backends (``COURSEBOT_BACKEND``) where it is the default.
    """

    capability: str
    name: str
    factory: str
    title: str
    offline: bool
    extra: str | None = None
    needs: tuple[str, ...] = ()
    default_on: tuple[str, ...] = ()


CAPABILITIES: dict[str, Capability] = {}
PROVIDERS: dict[str, dict[str, Provider]] = {}


def capability(name: str, label: str, *, setting: str | None = None) -> None:
    CAPABILITIES[name] = Capability(name, label, setting)
    PROVIDERS.setdefault(name, {})


def register(capability_name: str, name: str, factory: str, *, title: str, offline: bool,
             extra: str | None = None, needs: tuple[str, ...] = (), default_on: tuple[str, ...] = ()) -> Provider:
    """Register a provider (the style of llm's ``register_models``); returns it."""
    if capability_name not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability_name!r}")
    provider = Provider(capability_name, name, factory, title, offline, extra, tuple(needs), tuple(default_on))
    PROVIDERS[capability_name][name] = provider
    return provider


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def providers(capability_name: str) -> list[Provider]:
    return list(PROVIDERS.get(capability_name, {}).values())


def select(capability_name: str, settings: Any) -> Provider:
    """The provider the settings pick for a capability.

    Raises:
        ConfigError: the capability's setting names no registered provider.
        NotAvailable: none is usable with these settings; the message says which setting enables one.
    """
    cap = CAPABILITIES[capability_name]
    chosen = getattr(settings, cap.setting, None) if cap.setting else None
    registered = PROVIDERS[capability_name]
    if chosen:
        provider = registered.get(str(chosen).strip().lower())
        if provider is None:
            names = ", ".join(sorted(registered))
            raise ConfigError(f"{env_name(cap.setting or '')} must be one of: {names} (got {chosen!r}).")
        if _missing(provider, settings):
            raise _needs(cap, provider, settings)
        return provider
    backend = settings.backend
    provider = next((p for p in registered.values() if backend in p.default_on), None)
    if provider is None or (_missing(provider, settings) and not provider.offline and backend == "local"):
        raise unavailable(capability_name, settings)
    if _missing(provider, settings):
        raise _needs(cap, provider, settings)
    return provider


def unavailable(capability_name: str, settings: Any) -> NotAvailable:
    """Why a capability cannot be built on this backend, and the settings that would enable it."""
    cap = CAPABILITIES[capability_name]
    backend = settings.backend
    registered = providers(capability_name)
    if any(p.offline for p in registered):
        start = f"{cap.label} is not available on the {backend} backend."
    else:
        start = f"{cap.label} has no offline engine, so it is not available on the {backend} backend."
    hints = []
    for p in registered:
        steps = [] if backend in p.default_on or not p.default_on else [f"{env_name('backend')}={p.default_on[0]}"]
        steps += [env_name(n) for n in _missing(p, settings)]
        if steps:
            hints.append(f"{' and '.join(steps)} ({p.title})")
    if hints:
        start += f" Set {' or '.join(hints)} to enable it."
    return NotAvailable(start, code="not_available", capability=capability_name)


def build(capability_name: str, settings: Any, services: Any) -> Any:
    """Import the selected provider's module and call its factory."""
    provider = select(capability_name, settings)
    module_name, _, attr = provider.factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        label = CAPABILITIES[capability_name].label
        if e.name and (e.name == module_name or module_name.startswith(e.name + ".")):
            raise NotAvailable(f"{label} is not built yet in this version of coursebot.", code="not_built",
                               capability=capability_name) from e
        if provider.extra and e.name and not e.name.startswith(("bot.", "kb.", "intents.")):
            raise missing_extra(provider.extra, e.name.split(".")[0], f"{label} ({provider.title})",
                                capability=capability_name) from e
        raise
    return getattr(module, attr)(settings, services)


def _missing(provider: Provider, settings: Any) -> list[str]:
    return [n for n in provider.needs if not getattr(settings, n, None)]


def _needs(cap: Capability, provider: Provider, settings: Any) -> NotAvailable:
    names = " and ".join(env_name(n) for n in _missing(provider, settings))
    return NotAvailable(f"{cap.label} with {provider.title} needs a setting: set {names}.", code="not_configured",
                        capability=cap.name)


# --- the capabilities and their providers -------------------------------------------------------
capability("conversations", "Conversation memory", setting="conversations")
register("conversations", "sqlite", "bot.local.state:build_conversations", title="SQLite in COURSEBOT_HOME",
         offline=True, default_on=("local",))
register("conversations", "dynamodb", "bot.aws.state_table:build_conversations", title="Amazon DynamoDB",
         offline=False, default_on=("aws",))

capability("embedder", "Sentence embeddings")
register("embedder", "onnx", "bot.local.embedding:shared_embedder", title="ONNX MiniLM", offline=True,
         default_on=("local", "aws"))

capability("nlu", "Intent recognition")
register("nlu", "local", "bot.nlu:build", title="coursebot NLU", offline=True, default_on=("local", "aws"))

capability("kb", "The course knowledge base", setting="kb")
register("kb", "local", "kb.local:build", title="the offline course index", offline=True, extra="kb",
         default_on=("local",))
register("kb", "bedrock", "kb.bedrock:build", title="Amazon Bedrock Knowledge Bases", offline=False,
         default_on=("aws",))

# practice quizzes: questions built from the course passages (bot/quiz)
capability("quiz", "Practice quizzes")
register("quiz", "offline", "bot.quiz.local:build", title="the offline question generator", offline=True,
         default_on=("local",))
register("quiz", "bedrock", "bot.quiz.bedrock:build", title="Amazon Bedrock", offline=False, default_on=("aws",))

capability("text", "Text analysis", setting="text")
register("text", "local", "bot.local.text:build", title="offline text analysis", offline=True, extra="text",
         default_on=("local",))
register("text", "comprehend", "bot.aws.comprehend:build", title="Amazon Comprehend", offline=False,
         default_on=("aws",))

capability("language", "Language detection")
register("language", "langid", "bot.local.text:build_language_detector", title="langid", offline=True,
         extra="text", default_on=("local", "aws"))

capability("summarizer", "Summarizing", setting="summarizer")
register("summarizer", "extractive", "bot.local.text:build_summarizer", title="the extractive summarizer",
         offline=True, default_on=("local",))
register("summarizer", "bedrock", "bot.aws.llm:build_summarizer", title="Amazon Bedrock", offline=False,
         default_on=("aws",))

capability("translator", "Translation")
register("translator", "translate", "bot.aws.translate:build", title="Amazon Translate", offline=False,
         default_on=("aws",))

capability("speech", "Speech", setting="speech")
register("speech", "espeak", "bot.local.speech:build", title="eSpeak NG", offline=True, extra="speech",
         default_on=("local",))
register("speech", "polly", "bot.aws.polly:build", title="Amazon Polly", offline=False,
         default_on=("aws",))

capability("blobs", "File storage", setting="blobs")
register("blobs", "local", "bot.local.blobs:build", title="files in COURSEBOT_HOME", offline=True,
         default_on=("local",))
register("blobs", "s3", "bot.aws.s3:build", title="Amazon S3", offline=False, needs=("media_bucket",),
         default_on=("aws",))

capability("remote_files", "Reading linked files")
register("remote_files", "s3", "bot.aws.s3:build_files", title="Amazon S3", offline=False,
         default_on=("local", "aws"))

capability("vision", "Photo description", setting="vision")
register("vision", "local", "bot.local.vision:build", title="the offline vision models", offline=True,
         extra="vision", default_on=("local",))
register("vision", "rekognition", "bot.aws.rekognition:build", title="Amazon Rekognition", offline=False,
         default_on=("aws",))

capability("imagegen", "Image generation", setting="imagegen")
register("imagegen", "bedrock", "bot.aws.imagegen:build", title="Bedrock", offline=False,
         default_on=("aws",))
register("imagegen", "jumpstart", "bot.aws.imagegen:build_jumpstart", title="a SageMaker endpoint", offline=False,
         needs=("image_endpoint",), default_on=("local",))

# short links <base>/l/<id> to stored files (Lex cannot carry presigned S3 URLs)
capability("links", "Short links")
register("links", "sqlite", "bot.local.shortlinks:build", title="SQLite in COURSEBOT_HOME", offline=True,
         default_on=("local",))
register("links", "dynamodb", "bot.aws.shortlinks:build", title="Amazon DynamoDB", offline=False,
         default_on=("aws",))

# answers, ratings and curated answers for instructors
capability("insight", "Instructor insight")
register("insight", "sqlite", "bot.insight.sqlite:build", title="SQLite in COURSEBOT_HOME", offline=True,
         default_on=("local",))
register("insight", "dynamodb", "bot.insight.dynamo:build", title="Amazon DynamoDB", offline=False,
         default_on=("aws",))

# fair-use counters (uploads per hour, pages per day, turns per minute) and the chat-upload worker queue
capability("quotas", "Fair-use limits")
register("quotas", "sqlite", "bot.quotas:build_local", title="SQLite in COURSEBOT_HOME", offline=True,
         default_on=("local",))
register("quotas", "dynamodb", "bot.quotas:build_aws", title="Amazon DynamoDB", offline=False,
         default_on=("aws",))
capability("uploads", "Reading PDFs sent in a chat")
register("uploads", "queue", "bot.uploads:build", title="a worker queue in this process", offline=True,
         default_on=("local", "aws"))
