"""The fulfillment router: Turn -> checks -> intent (from Lex, or the local NLU) -> slots -> handler -> Reply.

A pipeline: pre-check steps (size, attachments, empty) may answer a turn by themselves; then the
intent is understood, its slots filled or elicited, and its handler called. It keeps conversation
state (pending slot, last answer, last image) and turns any failure into a polite Reply: no
traceback ever reaches a channel. It names no intent: what differs between intents is in their specs.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from bot.conversation import Conversation
from bot.courses import course_of, is_course_name
from bot.errors import CoursebotError, reply_for_error
from bot.files import unsupported
from bot.roles import owner_of
from bot.services import Services
from bot.specs import OVERVIEW_QUESTION, Intent, IntentContext, Slots, fallback_name
from bot.turn import Reply, Turn

log = logging.getLogger(__name__)

_CANCEL = re.compile(r"^\s*(cancel|stop|never ?mind|forget it|nothing|quit|abort)\s*[.!]*\s*$", re.I)
_SUPPORTED = ("image", "pdf", "text")
CLAIM_CONFIDENCE = 0.6  # a reply to a prompt that the NLU reads as another request this surely is one

# A pre-check step: may return a Reply that ends the turn (or raise a CoursebotError), else None.
Step = Callable[[Turn, Conversation], "Reply | None"]


@dataclass(frozen=True)
class Understood:
    """What the turn asks for: the intent, its confidence and its slots (and a prompt it dropped)."""

    intent: str
    confidence: float
    slots: Slots
    dropped_prompt: str | None = None


class Router:
    """Routes turns to intent handlers. One Router serves every channel.

    Args:
        services: the bundle of capabilities (conversation store, NLU, KB, ...).
        intents: name -> Intent; defaults to the registry in ``intents``.
    """

    def __init__(self, services: Services, intents: dict[str, Intent] | None = None,
                 steps: list[Step] | None = None):
        from intents import registry

        self.services = services
        self.intents = intents if intents is not None else registry()
        self.fallback = fallback_name(i.spec for i in self.intents.values())
        self.steps: list[Step] = steps if steps is not None else [check_size(services.settings), check_attachments,
                                                                   check_empty(self.fallback)]

    @property
    def settings(self):
        return self.services.settings

    def handle(self, turn: Turn) -> Reply:
        """Answer one turn. Never raises: failures become a Reply with ``error`` set."""
        started = time.perf_counter()
        store = None
        conversation = Conversation()
        try:
            store = self.services.conversations
            conversation = store.load(turn.conversation)
        except Exception:  # the store being down must not stop the bot from answering
            log.exception("could not load conversation state")
        wait = self._over_quota(turn)
        if wait is not None:  # nothing is read, changed or saved: the conversation continues after the wait
            return Reply(text=f"You're sending messages faster than I can answer them; please {wait}. "
                         "Nothing was lost.", intent=self.fallback, state="failed", error="rate_limited",
                         conversation=turn.conversation)
        try:
            reply = self._route(turn, conversation)
        except CoursebotError as e:
            reply = reply_for_error(e, conversation.extra.get("_intent", "Fallback"))
        except Exception as e:
            log.exception("handler failed for turn in channel %s", turn.channel)
            reply = reply_for_error(e, conversation.extra.get("_intent", "Fallback"))
        conversation.extra.pop("_intent", None)
        self._remember(turn, reply, conversation)
        if store is not None:
            try:
                store.save(turn.conversation, conversation)
            except Exception:
                log.exception("could not save conversation state")
        log.debug("turn routed to %s in %.1f ms", reply.intent, (time.perf_counter() - started) * 1000)
        reply = reply.with_(conversation=turn.conversation)
        from bot.insight import record_turn  # post-step: keep the answer for the instructor's report

        record_turn(turn, reply, self.services)
        return reply

    # -- the pipeline --
    def _over_quota(self, turn: Turn) -> str | None:
        """"try again in N minutes" when the conversation is over its turns per minute, else None."""
        from bot.quotas import MINUTE, wait_sentence

        try:
            left = self.services.quotas.take("turns", turn.conversation, 1, self.settings.turns_per_minute, MINUTE)
        except Exception:  # the counters being down must not stop the bot from answering
            log.warning("quota store unavailable", exc_info=True)
            return None
        return wait_sentence(left) if left is not None else None

    # -- the pipeline --
    def _route(self, turn: Turn, conversation: Conversation) -> Reply:
        for step in self.steps:
            reply = step(turn, conversation)
            if reply is not None:
                return reply
        understood = self._understand(turn, conversation)
        reply = self._fulfil(turn, conversation, understood)
        if understood.dropped_prompt:
            reply = reply.with_(text=f"(I set aside my earlier question, \u201c{understood.dropped_prompt}\u201d.)\n"
                                     + reply.text, details={**reply.details, "dropped_prompt": True})
        return reply

    def _fulfil(self, turn: Turn, conversation: Conversation, understood: Understood) -> Reply:
        intent = self.intents.get(understood.intent) or self.intents[self.fallback]
        confidence = understood.confidence
        conversation.extra["_intent"] = intent.name
        slots = understood.slots
        if intent.fill_slots is not None:
            slots = Slots.of(intent.fill_slots(turn, slots.copy(), conversation))
        for slot in intent.spec.required_slots:
            if not slots.satisfies(slot.name):
                conversation.pending = {"intent": intent.name, "slot": slot.name,
                                        "slots": {k: v for k, v in slots.items() if _storable(v)}}
                return Reply(text=slot.prompt, intent=intent.name, confidence=confidence, state="elicit",
                             elicit_slot=slot.name, slots=dict(slots))
        conversation.pending = None
        ctx = IntentContext(intent=intent.name, confidence=confidence, slots=slots, conversation=conversation,
                            services=self.services, intents=self.intents)
        reply = intent.handle(turn, ctx)
        return reply.with_(intent=reply.intent or intent.name,
                           confidence=reply.confidence or confidence,
                           slots={**dict(slots), **reply.slots})

    def _understand(self, turn: Turn, conversation: Conversation) -> Understood:
        """What the turn asks for: from the channel (Lex), a pending slot, or the local NLU."""
        if turn.intent:
            conversation.pending = None
            return Understood(turn.intent, 1.0 if turn.confidence is None else turn.confidence, Slots.of(dict(turn.slots)))
        pending = conversation.pending
        if pending and _CANCEL.match(turn.text or ""):
            conversation.pending = None
            raise CoursebotError("OK, cancelled. What would you like to do next?", code="cancelled")
        # the KB evidence reads what this conversation may read: its course and the student's own uploads
        course = course_of(turn, conversation)
        result = self.services.nlu.parse(turn.text or "", [a.kind for a in turn.attachments],
                                         course=course if is_course_name(course) else None,
                                         owner=owner_of(turn.conversation))
        if pending:
            answered = self._answer_to_prompt(turn, pending, result)
            if answered is not None:
                return answered
            conversation.pending = None
            intent = self.intents.get(pending.get("intent") or "")
            slot = intent.spec.slot(pending.get("slot") or "") if intent else None
            dropped = slot.prompt.split("?")[0].strip() + "?" if slot and "?" in slot.prompt else (slot.prompt if slot else None)
            return Understood(result.intent, result.confidence, Slots.of(result.slots), dropped)
        previous = self.intents.get(conversation.last_intent or "")
        if (previous is not None and previous.follow_up is not None and result.intent != previous.name
                and previous.follow_up(turn, conversation)):
            return Understood(previous.name, max(result.confidence, 0.9), Slots())
        return Understood(result.intent, result.confidence, Slots.of(result.slots))

    def _answer_to_prompt(self, turn: Turn, pending: dict[str, Any], result: Any) -> Understood | None:
        """The pending intent with the message as its slot's value, or None when the message is its own
        request (the NLU reads it as another intent, and it is no plausible value for the slot)."""
        name = pending.get("intent") or ""
        slot_name = pending.get("slot") or ""
        slots = Slots(pending.get("slots") or {})
        intent = self.intents.get(name)
        spec = intent.spec.slot(slot_name) if intent else None
        accepts = spec.accepts if spec else None
        plausible = accepts(turn) if accepts is not None else None
        if plausible is not True and result.intent == name and (result.slots.refers_to_previous
                                                                or result.slots.get(slot_name)):
            return Understood(result.intent, result.confidence, Slots.of(result.slots))  # the command restated
        other = self.intents.get(result.intent)
        claimed = (other is not None and result.intent != name and not other.spec.small_talk
                   and not other.spec.is_fallback)
        if plausible is not True and claimed and (plausible is False or result.confidence >= CLAIM_CONFIDENCE):
            return None
        text = (turn.text or "").strip()
        as_text = accepts(turn.with_(attachments=())) if accepts is not None else True
        if text and (as_text or not turn.attachments):
            slots[slot_name] = text
            slots.explicit_payload = True
        return Understood(name, 1.0, slots)

    def _remember(self, turn: Turn, reply: Reply, conversation: Conversation) -> None:
        intent = self.intents.get(reply.intent or "")
        spec = intent.spec if intent else None
        if reply.state == "fulfilled" and reply.error is None and spec is not None and spec.remembers_answer:
            conversation.last_answer = reply.text
            conversation.last_intent = reply.intent
            conversation.last_answer_id = reply.answer_id
        if spec is not None and spec.remembers_question and turn.text.strip():
            conversation.last_question = turn.text.strip()[:2000]
        # intents that use the last image record the blob key of the image they stored themselves
        if spec is None or not spec.uses_last_image:
            for a in turn.attachments:
                if a.kind == "image" and a.path:
                    conversation.last_image = a.path


# -- pre-check steps ---------------------------------------------------------------------------------
def check_size(settings: Any) -> Step:
    """Refuses a message larger than ``max_message_bytes`` (it says how to send a long text instead)."""
    def step(turn: Turn, conversation: Conversation) -> Reply | None:
        size = len((turn.text or "").encode("utf-8", "surrogatepass"))
        if size > settings.max_message_bytes:
            raise CoursebotError(
                f"That message is {size // 1000} KB; I accept up to {settings.max_message_bytes // 1000} KB per message. "
                "To analyze a long text, attach it as a .txt or .pdf file instead.", code="message_too_long")
        return None

    return step


def check_attachments(turn: Turn, conversation: Conversation) -> Reply | None:
    """Refuses an attachment that is no photo, PDF or text file, saying what it is."""
    for a in turn.attachments:
        if a.kind not in _SUPPORTED:
            raise CoursebotError(unsupported(a.name, a.mime), code="unsupported_attachment")
    return None


def check_empty(fallback: str) -> Step:
    """Answers an empty message (no text, no file, no intent) with what to do."""
    def step(turn: Turn, conversation: Conversation) -> Reply | None:
        if not (turn.text or "").strip() and not turn.attachments and not turn.intent:
            conversation.pending = None
            return Reply(text="Your message was empty. Ask me something about the course, or type \"help\".",
                         intent=fallback, error="empty_message", suggestions=("help", OVERVIEW_QUESTION))
        return None

    return step


def _satisfied(name: str, slots: dict[str, Any]) -> bool:
    """A required slot counts as filled when it has a value or an attachment stands for it."""
    return Slots.of(slots).satisfies(name)


def _storable(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))
