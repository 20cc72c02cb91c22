"""Intent specs: the single source for the local NLU and the Lex V2 bot definition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from bot.conversation import Conversation
    from bot.services import Services
    from bot.settings import Settings
    from bot.turn import Reply, Turn


@dataclass(frozen=True)
class SlotSpec:
    """A value an intent needs. ``type`` is a Lex slot type (built-in ``AMAZON.*`` or our own)."""

    name: str
    type: str
    prompt: str
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class IntentSpec:
    """An intent: its name, what it does, how people ask for it, and the slots it fills.

    ``samples`` train the local NLU and become the Lex intent's sample utterances.
    ``lex_parent`` marks a Lex built-in (e.g. AMAZON.FallbackIntent, which takes no utterances).
    """

    name: str
    description: str
    samples: tuple[str, ...]
    slots: tuple[SlotSpec, ...] = ()
    lex_parent: str | None = None

    def slot(self, name: str) -> SlotSpec | None:
        return next((s for s in self.slots if s.name == name), None)

    @property
    def required_slots(self) -> tuple[SlotSpec, ...]:
        return tuple(s for s in self.slots if s.required)


@dataclass
class IntentContext:
    """What a handler gets besides the turn: filled slots, the conversation, and the services."""

    intent: str
    confidence: float
    slots: dict[str, Any]
    conversation: "Conversation"
    services: "Services"

    @property
    def settings(self) -> "Settings":
        return self.services.settings


class IntentModule(Protocol):
    """What every module in ``intents/`` provides."""

    SPEC: IntentSpec

    def handle(self, turn: "Turn", ctx: IntentContext) -> "Reply": ...


SlotFiller = Callable[["Turn", dict[str, Any], "Conversation"], dict[str, Any]]


@dataclass(frozen=True)
class Intent:
    """A registered intent: its spec, its handler, and an optional slot filler that runs before
    required slots are checked (e.g. "read that aloud" fills ``text`` from the last answer)."""

    spec: IntentSpec
    handle: Callable[["Turn", IntentContext], "Reply"]
    fill_slots: SlotFiller | None = field(default=None)
    # Right after this intent answered, does a message the local NLU gave to another intent continue
    # this one? (After a photo, "what does the text say?" is about the photo, not a summary.)
    follow_up: Callable[["Turn", Any], bool] | None = field(default=None)

    @property
    def name(self) -> str:
        return self.spec.name
