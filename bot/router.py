"""The fulfillment router: Turn -> intent (from Lex, or the local NLU) -> slots -> handler -> Reply.

It also keeps conversation state (pending slot, last answer, last image) and turns any failure
into a polite Reply: no traceback ever reaches a channel.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable

from bot.conversation import Conversation
from bot.errors import CoursebotError, reply_for_error
from bot.files import unsupported
from bot.services import Services
from bot.specs import Intent, IntentContext
from bot.turn import Reply, Turn

log = logging.getLogger(__name__)

_CANCEL = re.compile(r"^\s*(cancel|stop|never ?mind|forget it|nothing|quit|abort)\s*[.!]*\s*$", re.I)
_SUPPORTED = ("image", "pdf", "text")

Middleware = Callable[[Turn, Callable[[Turn], Reply]], Reply]


class Router:
    """Routes turns to intent handlers. One Router serves every channel.

    Args:
        services: the bundle of capabilities (conversation store, NLU, KB, ...).
        intents: name -> Intent; defaults to the registry in ``intents``.
    """

    def __init__(self, services: Services, intents: dict[str, Intent] | None = None):
        from intents import registry

        self.services = services
        self.intents = intents if intents is not None else registry()

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
                         "Nothing was lost.", intent="Fallback", state="failed", error="rate_limited",
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
        return reply.with_(conversation=turn.conversation)

    def _over_quota(self, turn: Turn) -> str | None:
        """"try again in N minutes" when the conversation is over its turns per minute, else None."""
        from bot.quotas import MINUTE, wait_sentence

        try:
            left = self.services.quotas.take("turns", turn.conversation, 1, self.settings.turns_per_minute, MINUTE)
        except Exception:  # the counters being down must not stop the bot from answering
            log.warning("quota store unavailable", exc_info=True)
            return None
        return wait_sentence(left) if left is not None else None

    # -- steps --
    def _route(self, turn: Turn, conversation: Conversation) -> Reply:
        text = turn.text or ""
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_message_bytes:
            kb = len(text.encode("utf-8", "surrogatepass")) // 1000
            raise CoursebotError(
                f"That message is {kb} KB; I accept up to {self.settings.max_message_bytes // 1000} KB per message. "
                "To analyze a long text, attach it as a .txt or .pdf file instead.", code="message_too_long")
        for a in turn.attachments:
            if a.kind not in _SUPPORTED:
                raise CoursebotError(unsupported(a.name, a.mime), code="unsupported_attachment")
        if not text.strip() and not turn.attachments and not turn.intent:
            conversation.pending = None
            return Reply(text="Your message was empty. Ask me something about the course, or type \"help\".",
                         intent="Fallback", error="empty_message",
                         suggestions=("help", "What is Amazon Lex?"))

        intent_name, confidence, slots = self._understand(turn, conversation)
        intent = self.intents.get(intent_name) or self.intents["Fallback"]
        conversation.extra["_intent"] = intent.name
        if intent.fill_slots is not None:
            slots = intent.fill_slots(turn, dict(slots), conversation)
        for slot in intent.spec.required_slots:
            if slots.get(slot.name) in (None, "") and not _satisfied(slot.name, slots):
                conversation.pending = {"intent": intent.name, "slot": slot.name,
                                        "slots": {k: v for k, v in slots.items() if _storable(v)}}
                return Reply(text=slot.prompt, intent=intent.name, confidence=confidence, state="elicit",
                             elicit_slot=slot.name, slots=_public(slots))
        conversation.pending = None
        ctx = IntentContext(intent=intent.name, confidence=confidence, slots=slots, conversation=conversation,
                            services=self.services)
        reply = intent.handle(turn, ctx)
        return reply.with_(intent=reply.intent or intent.name,
                           confidence=reply.confidence or confidence,
                           slots={**_public(slots), **reply.slots})

    def _understand(self, turn: Turn, conversation: Conversation) -> tuple[str, float, dict[str, Any]]:
        """(intent, confidence, slots) from the channel (Lex), a pending slot, or the local NLU."""
        if turn.intent:
            conversation.pending = None
            return turn.intent, 1.0 if turn.confidence is None else turn.confidence, dict(turn.slots)
        pending = conversation.pending
        if pending:
            if _CANCEL.match(turn.text or ""):
                conversation.pending = None
                raise CoursebotError("OK, cancelled. What would you like to do next?", code="cancelled")
            slots = dict(pending.get("slots") or {})
            slot = pending.get("slot")
            restated = self._restated(turn, pending)
            if restated is not None:
                return restated
            if turn.text.strip():
                slots[slot] = turn.text.strip()
                slots["_explicit_payload"] = True
            return pending["intent"], 1.0, slots
        kinds = [a.kind for a in turn.attachments]
        result = self.services.nlu.parse(turn.text or "", kinds)
        previous = self.intents.get(conversation.last_intent or "")
        if (previous is not None and previous.follow_up is not None and result.intent != previous.name
                and previous.follow_up(turn, conversation)):
            return previous.name, max(result.confidence, 0.9), {}
        return result.intent, result.confidence, dict(result.slots)

    def _restated(self, turn: Turn, pending: dict[str, Any]) -> tuple[str, float, dict[str, Any]] | None:
        """The NLU's reading when the answer to a slot prompt is the same command again ("read that
        aloud" after "What should I read aloud?"), so it is not taken literally as the slot's value."""
        result = self.services.nlu.parse(turn.text or "", [a.kind for a in turn.attachments])
        if result.intent != pending.get("intent"):
            return None
        if result.slots.get("_refers_to_previous") or result.slots.get(pending.get("slot") or ""):
            return result.intent, result.confidence, dict(result.slots)
        return None

    def _remember(self, turn: Turn, reply: Reply, conversation: Conversation) -> None:
        if reply.state == "fulfilled" and reply.error is None and reply.intent not in ("Help", "Greeting", "Fallback"):
            conversation.last_answer = reply.text
            conversation.last_intent = reply.intent
        if reply.intent == "AskCoursePdfs" and turn.text.strip():
            conversation.last_question = turn.text.strip()[:2000]
        # DescribePhoto and GenerateImage record the blob key of the image they stored themselves
        if reply.intent not in ("DescribePhoto", "GenerateImage"):
            for a in turn.attachments:
                if a.kind == "image" and a.path:
                    conversation.last_image = a.path


def _satisfied(name: str, slots: dict[str, Any]) -> bool:
    """A required slot counts as filled when a flag says its value comes from an attachment."""
    return bool(slots.get("_from_attachment") or (name == "question" and slots.get("_ingest_only")))


def _public(slots: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in slots.items() if not k.startswith("_")}


def _storable(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))
