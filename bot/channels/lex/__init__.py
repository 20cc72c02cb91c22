"""Lex V2 channel: ``adapter`` (event -> Turn, Reply -> Lex response, pure), ``poststeps`` (short
links and length limits applied to a Reply), ``budget`` (the time budget), ``handler`` (the Lambda
entry point, deployed as ``bot.channels.lex.lambda_handler``) and ``definition`` (the Lex bot export).
"""

from bot.channels.lex.adapter import (
    CARD_TEXT_CHARS,
    FALLBACK,
    LEX_FALLBACK,
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    SESSION_KEY,
    conversation_key,
    delegate,
    intent_name,
    lex_intent_name,
    slot_values,
    speech_messages,
    split_text,
    text_fits,
    text_messages,
    to_lex,
    to_turn,
)
from bot.channels.lex.budget import run_with_budget, time_budget
from bot.channels.lex.handler import (
    INTERNAL_ERROR,
    STILL_WORKING,
    dialog_step,
    get_router,
    handle_event,
    lambda_handler,
    warm,
)

__all__ = [
    "CARD_TEXT_CHARS", "FALLBACK", "INTERNAL_ERROR", "LEX_FALLBACK", "MAX_MESSAGES", "MAX_MESSAGE_CHARS",
    "SESSION_KEY", "STILL_WORKING", "conversation_key", "delegate", "dialog_step", "get_router",
    "handle_event", "intent_name", "lambda_handler", "lex_intent_name", "run_with_budget", "slot_values",
    "speech_messages", "split_text", "text_fits", "text_messages", "time_budget", "to_lex", "to_turn", "warm",
]
