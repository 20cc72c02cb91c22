"""The Lex V2 code-hook Lambda: ``lambda_handler`` runs the dialog step or the router within the
time budget, applies the post-steps and always returns a valid Lex response (the pure translation
is in ``adapter``)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bot import keys
from bot.channels.lex import poststeps
from bot.channels.lex.adapter import CARD_TEXT_CHARS, FALLBACK, _map, delegate, text_fits, to_lex, to_turn
from bot.channels.lex.budget import run_with_budget, time_budget
from bot.errors import INTERNAL_ERROR, reply_for_error  # noqa: F401 - INTERNAL_ERROR is re-exported
from bot.turn import Reply, Turn

log = logging.getLogger(__name__)

STILL_WORKING = ("I'm still working on that; it is taking longer than usual. "
                 "Please ask me again in a moment.")

_router = None
_router_lock = threading.Lock()


def get_router():
    """The process-wide Router (built once per Lambda container, on first use)."""
    global _router
    with _router_lock:
        if _router is None:
            from bot import services
            from bot.router import Router

            _router = Router(services.default())
        return _router


def warm() -> None:
    """Do the first invocation's imports and client set-up now: the router, the intents and, on the
    aws backend, the conversation store's DynamoDB client (which imports boto3). Lambda runs this
    during its init phase, outside Lex's 30 s."""
    router = get_router()
    if router.settings.backend == "aws":
        router.services.conversations  # noqa: B018 - builds the client


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lex V2 code hook (DialogCodeHook and FulfillmentCodeHook). Always returns a valid response."""
    try:
        return handle_event(event, context)
    except Exception as e:
        log.exception("Lex code hook failed")
        reply = reply_for_error(e)
        try:
            return to_lex(reply, event)
        except Exception:
            return to_lex(reply, {})


def handle_event(event: Any, context: Any = None, router: Any = None, budget: float | None = None) -> dict[str, Any]:
    """Answer one code-hook event with ``router`` (default: the shared one) within ``budget`` seconds."""
    router = router or get_router()
    budget = budget if budget is not None else time_budget(router.settings, context)
    secret = _secret(router.settings)
    turn = to_turn(event, secret, instructor_token=getattr(router.settings, "instructor_token", None))
    if _map(event).get("invocationSource") == "DialogCodeHook":
        done, result = run_with_budget(lambda: dialog_step(router, turn), budget)
        if done and result is None:
            return delegate(event, secret=secret, key=turn.conversation)
    else:
        done, result = run_with_budget(lambda: router.handle(turn), budget)
    if not done:
        log.warning("Lex turn for %s passed the %.1f s budget", turn.intent, budget)
        result = Reply(text=STILL_WORKING, intent=turn.intent or FALLBACK, state="failed", error="timeout")
    if isinstance(result, Reply):
        result = poststeps.apply(result, post_steps(router.services, turn)).with_(conversation=turn.conversation)
    return to_lex(result, event, speech_chars=getattr(router.settings, "lex_speech_chars", 350), secret=secret)


def _secret(settings: Any) -> bytes | None:
    """The key that signs the conversation key we hand Lex; without it (no writable home, no
    COURSEBOT_SECRET_KEY) every turn uses ``lex-<sessionId>``, which is still the caller's own."""
    try:
        return keys.secret(settings)
    except Exception:
        log.warning("no secret to sign conversation keys; using the sessionId's conversation", exc_info=True)
        return None


def post_steps(services: Any, turn: Turn) -> list[poststeps.PostStep]:
    """What a Reply goes through before it becomes a Lex response: a link to the full text when a
    typed answer is longer than Lex's 10 x 1,024 characters, then short links for every URL an
    image card's 250 characters cannot hold."""
    steps: list[poststeps.PostStep] = []
    if turn.input_mode == "text":
        steps.append(poststeps.full_text_link(services, fits=text_fits, prefix="lex/answers/"))
    steps.append(poststeps.short_links(services, max_url_chars=CARD_TEXT_CHARS))
    return steps


def dialog_step(router: Any, turn: Turn) -> Reply | None:
    """Validate slots as the router would: the ElicitSlot Reply (with the spec's prompt) for the
    first required slot still missing after the intent's slot filler ran, or None to Delegate."""
    from bot.conversation import Conversation
    from bot.router import _satisfied

    intent = router.intents.get(turn.intent or FALLBACK)
    if intent is None or not intent.spec.required_slots:
        return None
    slots = dict(turn.slots)
    if intent.fill_slots is not None:
        try:
            conversation = router.services.conversations.load(turn.conversation)
        except Exception:  # the store being down must not stop the dialog
            log.exception("could not load conversation state")
            conversation = Conversation()
        slots = intent.fill_slots(turn, slots, conversation)
    for slot in intent.spec.required_slots:
        value = slots.get(slot.name)
        if (value is None or (isinstance(value, str) and not value.strip())) and not _satisfied(slot.name, slots):
            return Reply(text=slot.prompt, intent=intent.name, confidence=turn.confidence or 0.0, state="elicit",
                         elicit_slot=slot.name)
    return None


if __import__("os").environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # on Lambda: warm up during init
    try:
        from bot import settings as _settings

        logging.getLogger().setLevel(_settings.get().log_level)  # the runtime's handler, our level
        warm()
    except Exception:  # a bad setting must still let the handler answer (it reports the failure)
        log.exception("warm-up failed")
