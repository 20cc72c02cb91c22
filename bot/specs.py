"""Intent specs: the single source for the local NLU, Help, the router's flags and the Lex V2 bot definition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from bot.conversation import Conversation
    from bot.services import Services
    from bot.settings import Settings
    from bot.turn import Reply, Turn


class Slots(dict):
    """Slot values by name (the dict Lex and the reply JSON see) plus typed facts about how they were filled.

    Attributes:
        explicit_payload: the user typed the value itself ("summarize: <text>", "say hello").
        refers_to_previous: the message points at the previous answer ("read that aloud").
        from_attachment: an attached file is the value (a photo, a .txt to summarize).
        previous_answer: the value was taken from the previous answer.
        ingest_only: an attached PDF is the whole request (add it to the course, no question).
    """

    FLAGS = ("explicit_payload", "refers_to_previous", "from_attachment", "previous_answer", "ingest_only")

    def __init__(self, values: Any = (), **flags: bool):
        super().__init__(values or ())
        inherited = {f: getattr(values, f) for f in self.FLAGS} if isinstance(values, Slots) else {}
        for name in self.FLAGS:
            setattr(self, name, bool(flags.get(name, inherited.get(name, False))))
        unknown = set(flags) - set(self.FLAGS)
        if unknown:
            raise TypeError(f"unknown slot flags: {sorted(unknown)}")

    @classmethod
    def of(cls, values: Any) -> "Slots":
        """``values`` itself when it is Slots already, else Slots holding a copy of the dict."""
        return values if isinstance(values, Slots) else cls(values)

    def copy(self) -> "Slots":
        return Slots(self)

    def with_(self, values: dict[str, Any] | None = None, **flags: bool) -> "Slots":
        """A copy with some values and flags changed."""
        out = Slots(self, **{**self.flags(), **flags})
        out.update(values or {})
        return out

    def flags(self) -> dict[str, bool]:
        return {f: getattr(self, f) for f in self.FLAGS}

    def satisfies(self, slot: str) -> bool:
        """Whether a required slot counts as filled: a value, or an attachment that stands for it."""
        value = self.get(slot)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return True
        return self.from_attachment or self.ingest_only


@dataclass(frozen=True)
class SlotSpec:
    """A value an intent needs. ``type`` is a Lex slot type (built-in ``AMAZON.*`` or our own).

    ``accepts`` says whether the next message is a plausible answer to this slot's prompt (an
    attachment, a link, pasted text); when it is not and the message is clearly its own request, the
    router drops the prompt and handles the request. None: any text the NLU does not claim is accepted.
    """

    name: str
    type: str
    prompt: str
    required: bool = False
    description: str = ""
    accepts: Callable[["Turn"], bool] | None = field(default=None, compare=False)


SlotExtractor = Callable[[str, str, "str | None"], Slots]  # (text, instruction, payload) -> slots


@dataclass(frozen=True)
class IntentSpec:
    """An intent: its name, what it does, how people ask for it, and the slots it fills.

    ``samples`` train the local NLU and become the Lex intent's sample utterances.
    ``lex_parent`` marks a Lex built-in (e.g. AMAZON.FallbackIntent, which takes no utterances).
    ``keywords`` are words that point to the intent wherever they appear (features of the NLU, topics
    Help recognizes); ``lead_verbs`` point to it when they open a message ("draw ...", "say ...").
    ``help`` is the intent's line in Help (None: not listed); ``extract`` pulls its slot values out of a
    message. Flags: ``small_talk`` (never the "last answer", never overrides a pending prompt), ``remembered``,
    ``uses_last_image`` (records the conversation's last image itself), ``remembers_question`` (the
    message is kept as the last question for follow-ups), ``is_fallback`` (the default intent),
    ``invites_rating`` (its answers ask for a rating: Helpful / Not helpful in Lex, 👍 / 👎 in Slack).
    """

    name: str
    description: str
    samples: tuple[str, ...]
    slots: tuple[SlotSpec, ...] = ()
    lex_parent: str | None = None
    keywords: tuple[str, ...] = ()
    lead_verbs: tuple[str, ...] = ()
    help: str | None = None
    extract: SlotExtractor | None = field(default=None, compare=False)
    help_status: Callable[[Any], "str | None"] | None = field(default=None, compare=False)  # services -> what is installed
    small_talk: bool = False
    remembered: bool = True  # its answer becomes "the last answer" that "read that aloud" speaks
    uses_last_image: bool = False
    remembers_question: bool = False
    is_fallback: bool = False
    invites_rating: bool = False  # its answers ask for a rating: Helpful / Not helpful (Lex), 👍 / 👎 (Slack)

    def slot(self, name: str) -> SlotSpec | None:
        return next((s for s in self.slots if s.name == name), None)

    @property
    def required_slots(self) -> tuple[SlotSpec, ...]:
        return tuple(s for s in self.slots if s.required)

    @property
    def remembers_answer(self) -> bool:
        return self.remembered and not self.small_talk and not self.is_fallback


@dataclass
class IntentContext:
    """What a handler gets besides the turn: filled slots, the conversation, and the services."""

    intent: str
    confidence: float
    slots: Slots
    conversation: "Conversation"
    services: "Services"
    intents: dict[str, "Intent"] = field(default_factory=dict)  # the router's registry (Help reads it)

    @property
    def settings(self) -> "Settings":
        return self.services.settings


# Follow-ups any course can answer, whatever its topics: its overview and the list of what the bot does.
# A suggestion is something the bot has checked it can answer, never a sample topic another course may lack.
OVERVIEW_QUESTION = "What does the course cover?"
HELP_QUESTION = "What can you do?"
START_SUGGESTIONS = (OVERVIEW_QUESTION, HELP_QUESTION)


SlotFiller = Callable[["Turn", Slots, "Conversation"], Slots]


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


def fallback_name(specs: Iterable[IntentSpec]) -> str:
    """The name of the default intent among ``specs``."""
    return next((s.name for s in specs if s.is_fallback), "Fallback")
