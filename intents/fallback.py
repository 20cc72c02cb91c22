"""Fallback: what the bot says when it did not understand, with a nudge towards what it can do."""

from __future__ import annotations

from bot.insight.curated import curated_reply
from bot.specs import IntentContext, IntentSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="Fallback",
    description="Default when no other intent matches (Lex: AMAZON.FallbackIntent).",
    lex_parent="AMAZON.FallbackIntent",
    samples=(
        # Out of scope: the local NLU learns from these; Lex's built-in fallback takes none.
        "what's the weather like tomorrow", "will it rain today", "book a flight to paris", "order me a pizza",
        "what's the stock price of amazon", "tell me a joke", "play some music", "set an alarm for 7am",
        "who won the football game last night", "what time is it in tokyo", "call my mom", "turn on the lights",
        "buy me new shoes", "how tall is mount everest", "recommend a good movie", "what's your favorite color",
        "send an email to my boss", "find a restaurant near me", "what's the score of the game",
        "asdfghjkl", "blah blah", "banana", "sing me a song", "do you love me", "what is the meaning of life",
        "how old are you", "are you married", "take me to the airport", "remind me to buy milk",
        "what's on tv tonight", "navigate home", "lorem ipsum dolor", "i like turtles", "ok", "hmm", "no",
    ),
)


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    curated = curated_reply(turn, ctx)  # an instructor may have pinned an answer for this question
    if curated is not None:
        return curated
    text = ("Sorry, I didn't catch that. I can answer questions about the course, summarize text, describe photos, "
            "read answers aloud and generate images. Try \"What is Amazon Bedrock?\" or type \"help\".")
    return Reply(text=text, intent=SPEC.name, confidence=ctx.confidence,
                 suggestions=("help", "What is Amazon Bedrock?"))
