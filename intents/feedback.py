"""Feedback: "that was wrong", "helpful" (also Lex's Helpful / Not helpful buttons) rate the last answer for the
instructor's report, then offer the next step."""

from __future__ import annotations

import re

from bot.errors import CoursebotError
from bot.nlu import fold, normalize
from bot.specs import HELP_QUESTION, START_SUGGESTIONS, IntentContext, IntentSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="Feedback",
    description="Records whether the last answer helped, for the instructor.",
    samples=(
        "helpful", "not helpful", "that was helpful", "that was not helpful", "that wasn't helpful",
        "that was wrong", "that's wrong", "that is wrong", "that answer is wrong", "wrong answer",
        "the answer was incorrect", "that is incorrect", "you got that wrong", "that's not right",
        "that's not what I asked", "that didn't help", "that did not help at all", "useless answer",
        "bad answer", "thumbs down", "thumbs up", "good answer", "great answer", "that helped",
        "that was useful", "that answer was correct", "your answer is wrong", "this answer is not correct",
        "the answer is not helpful", "I want to give feedback on that answer",
    ),
    keywords=("that was wrong", "wrong answer", "not helpful", "unhelpful", "was helpful", "incorrect answer",
              "thumbs up", "thumbs down", "feedback", "didn't help", "did not help", "useless answer"),
    help="Tell me \"that was wrong\" (and why) or \"helpful\" after an answer, and I pass it on to your instructor.",
    remembered=False,  # rating an answer must leave "the last answer" as it was
)

_DOWN = re.compile(r"\b(not|n't|never)\s+(very\s+|really\s+|at all\s+)?(helpful|useful|right|correct|accurate|"
                   r"what i (asked|meant|wanted))\b|\b(wrong|incorrect|useless|unhelpful|inaccurate|bad|"
                   r"thumbs down|didn'?t help|did not help|no help)\b", re.I)
_UP = re.compile(r"\b(helpful|useful|correct|right|good|great|perfect|helped|thumbs up|accurate|spot on)\b", re.I)
_BARE = {fold(normalize(s)) for s in SPEC.samples}  # a bare rating phrase carries no comment
NOTED = "Thanks \u2014 I've noted that for your instructor."


def rating_of(text: str) -> str | None:
    """``down``, ``up`` or None (the message does not say which)."""
    text = (text or "").replace("\u2019", "'")
    if _DOWN.search(text):
        return "down"
    return "up" if _UP.search(text) else None


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    from bot.insight import rate

    text = " ".join((turn.text or "").split())
    rating = rating_of(text)
    conversation = ctx.conversation
    answer_id = conversation.last_answer_id
    if rating is None:
        return Reply(text="Was my last answer helpful? Say \"helpful\" or \"not helpful\" (and what was wrong, "
                          "if you like).", intent=SPEC.name, suggestions=("Helpful", "Not helpful"))
    nothing = Reply(text="There's no answer of mine to rate yet in this conversation. Ask me a question about the "
                         "course, then tell me whether the answer helped.", intent=SPEC.name,
                    suggestions=START_SUGGESTIONS)
    if not answer_id:
        return nothing
    comment = None if fold(normalize(text)).strip(" .!") in _BARE else text[:500]
    try:
        rate(ctx.services, turn.conversation, answer_id, rating, comment)
    except CoursebotError as e:
        if getattr(e, "code", None) == "unknown_answer":
            return nothing
        raise
    details = {"rated": answer_id, "rating": rating}
    if rating == "up":
        return Reply(text=f"{NOTED} What else would you like to know?", intent=SPEC.name, details=details,
                     suggestions=(HELP_QUESTION,))
    question = conversation.last_question or ""
    again = (question,) if 0 < len(question) <= 50 else ()
    return Reply(text=f"{NOTED} Would you like to ask it another way, or ask me something else?",
                 intent=SPEC.name, details=details, suggestions=(*again, HELP_QUESTION))
