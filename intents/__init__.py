"""The intent registry: one module per intent, each with SPEC and handle(turn, ctx) -> Reply."""

from __future__ import annotations

import importlib
from functools import lru_cache

from bot.specs import Intent, IntentSpec, fallback_name

# Adding an intent: its module here, its test, and a fixture. Order is the order Help lists them.
MODULES = (
    "intents.ask_course_pdfs",
    "intents.quiz_me",
    "intents.summarize_text",
    "intents.describe_photo",
    "intents.speak_answer",
    "intents.generate_image",
    "intents.help",
    "intents.greeting",
    "intents.feedback",
    "intents.fallback",
)

FALLBACK = "Fallback"  # the name of the default intent (its spec says ``is_fallback``)


@lru_cache(maxsize=1)
def registry() -> dict[str, Intent]:
    """Intent name -> Intent, importing each module once (``registry.cache_clear()`` after MODULES changes)."""
    out: dict[str, Intent] = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        out[mod.SPEC.name] = Intent(spec=mod.SPEC, handle=mod.handle, fill_slots=getattr(mod, "fill_slots", None),
                                    follow_up=getattr(mod, "follow_up", None))
    return out


def specs() -> list[IntentSpec]:
    return [i.spec for i in registry().values()]


def fallback() -> str:
    """The registered default intent's name."""
    return fallback_name(specs())
