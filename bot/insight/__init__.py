"""Instructor insight: every answer recorded (question, answer, cited pages, never identity), ratings on it,
and the curated answers instructors pin. Stores: bot/insight/sqlite.py (local), bot/insight/dynamo.py (aws)."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Any

from bot.capabilities import AnswerRecord, Rating
from bot.errors import CoursebotError
from bot.turn import ANSWER_ID_CHARS, Reply, Turn

log = logging.getLogger(__name__)

DEFAULT_COURSE = "default"  # the course of a turn that names none (bot.courses)
MAX_QUESTION_CHARS = 2_000
MAX_ANSWER_CHARS = 4_000
MAX_COMMENT_CHARS = 500
RATINGS = ("up", "down")
_ANSWER_ID = re.compile(r"^[A-Za-z0-9_-]{%d}$" % ANSWER_ID_CHARS)


class FeedbackError(CoursebotError):
    """A rating that cannot be stored; ``code`` is ``unknown_answer`` or ``bad_feedback``."""


def conversation_hash(conversation: str) -> str:
    """What insight keeps of a conversation key: a one-way hash, so no identity is stored."""
    return hashlib.sha256(conversation.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def record_turn(turn: Turn, reply: Reply, services: Any) -> None:
    """The router's post-step: keep this answer for the instructor's report. Never raises."""
    question = reply.slots.get("question") if isinstance(reply.slots.get("question"), str) else None
    question = (question or turn.text or "").strip()
    if not question and not turn.attachments:
        return
    found = reply.details.get("found")
    if reply.details.get("curated"):
        found = True
    try:
        services.insight.record(AnswerRecord(
            answer_id=reply.answer_id, conversation=conversation_hash(turn.conversation),
            course=_course(reply.details.get("course") or turn.course),
            intent=reply.intent, question=question[:MAX_QUESTION_CHARS], answer=reply.text[:MAX_ANSWER_CHARS],
            citations=tuple((c.source, c.page) for c in reply.citations),
            found=found if isinstance(found, bool) else None, at=time.time()))
    except Exception:  # insight must never stop an answer
        log.warning("could not record the answer for insight", exc_info=True)


def rate(services: Any, conversation: str, answer_id: Any, rating: Any, comment: Any = None) -> Rating:
    """Store a student's rating of an answer given in *their* conversation; the last rating counts.

    Raises:
        FeedbackError: ``bad_feedback`` for a malformed id, rating or comment; ``unknown_answer`` when the
            id is not an answer of this conversation (another conversation's answers look unknown too).
    """
    if not isinstance(answer_id, str) or not _ANSWER_ID.match(answer_id):
        raise FeedbackError("That feedback names no answer I know: send the answer_id of one of my replies.",
                            code="bad_feedback")
    if rating not in RATINGS:
        raise FeedbackError('A rating is "up" or "down".', code="bad_feedback")
    if comment is not None and not isinstance(comment, str):
        raise FeedbackError("The comment must be text.", code="bad_feedback")
    comment = " ".join((comment or "").split())
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"Please keep the comment under {MAX_COMMENT_CHARS} characters.", code="bad_feedback")
    store = services.insight
    owner = conversation_hash(conversation)
    record = store.get(answer_id)
    if record is None or record.conversation != owner:
        raise FeedbackError("I don't know that answer in this conversation, so I can't record a rating for it.",
                            code="unknown_answer")
    result = Rating(answer_id=answer_id, conversation=owner, rating=rating, comment=comment, at=time.time())
    store.rate(result)
    return result


def parse_since(text: str | None, now: float | None = None) -> float:
    """``7d`` / ``12h`` / ``30m`` / ``2w`` -> the epoch time that long ago; empty -> 0 (all time).

    Raises:
        ValueError: with a sentence saying the accepted form.
    """
    now = time.time() if now is None else now
    if not text:
        return 0.0
    m = re.fullmatch(r"\s*(\d{1,5})\s*([mhdw])\s*", text.lower())
    if not m:
        raise ValueError(f"--since takes a number and a unit, like 7d, 12h, 30m or 2w (got {text!r}).")
    seconds = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[m.group(2)]
    return now - int(m.group(1)) * seconds


def _course(name: Any) -> str:
    """The answer's course (the one AskCoursePdfs searched), else the default course."""
    from bot.courses import is_course_name

    return name if isinstance(name, str) and is_course_name(name) else DEFAULT_COURSE
