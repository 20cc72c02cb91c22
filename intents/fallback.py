"""Fallback: what the bot says when it did not understand, with a nudge towards what it can do."""

from __future__ import annotations

from bot.insight.curated import curated_reply
from bot.specs import OVERVIEW_QUESTION, IntentContext, IntentSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="Fallback",
    description="Default when no other intent matches (Lex: AMAZON.FallbackIntent).",
    lex_parent="AMAZON.FallbackIntent",
    is_fallback=True,
    samples=(
        # Out of scope: the local NLU learns from these; Lex's built-in fallback takes none.
        "book a flight to paris", "order me a pizza",
        "tell me a joke", "play some music", "set an alarm for 7am",
        "call my mom", "turn on the lights",
        "buy me new shoes", "recommend a good movie", "what's your favorite color",
        "send an email to my boss", "find a restaurant near me", "asdfghjkl", "blah blah", "banana", "sing me a song", "do you love me", "how old are you", "are you married", "take me to the airport", "remind me to buy milk",
        "navigate home", "lorem ipsum dolor", "i like turtles", "ok", "hmm", "no",
    ),
    keywords=("flight", "pizza", "alarm", "football", "soccer", "restaurant",
              "movie", "taxi", "uber", "remind me to", "buy me", "order me", "savings account", "bank account",
              "lights", "thermostat", "playlist", "spotify", "netflix"),
)


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    curated = curated_reply(turn, ctx)  # an instructor may have pinned an answer for this question
    if curated is not None:
        return curated
    text = ("Sorry, I didn't catch that. I can answer questions about the course, summarize text, describe photos, "
            "read answers aloud and generate images. Try \"What does the course cover?\" or type \"help\".")
    return Reply(text=text, intent=SPEC.name, confidence=ctx.confidence,
                 suggestions=("help", OVERVIEW_QUESTION))
