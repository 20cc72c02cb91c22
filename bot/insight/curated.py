"""Curated answers: an instructor pins an answer to a question; paraphrases of it get that answer,
with a "from your instructor" note, before the course PDFs are searched.

A question matches a pinned one when their sentence embeddings (services.embedder, cosine) reach
THRESHOLD. It was chosen on bot/insight/data/paraphrase_dev.jsonl for precision first (F0.5): a wrong
instructor answer is worse than searching the PDFs. ``coursebot bench insight`` measures it on the
held-out paraphrase_test.jsonl beside a word-overlap baseline.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from bot.capabilities import CuratedAnswer
from bot.errors import InputError
from bot.turn import Reply, Turn

log = logging.getLogger(__name__)

THRESHOLD = 0.70
NOTE = "From your instructor"
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 1_500

_vectors: dict[str, Any] = {}  # question text -> unit vector (pinned questions are few and short)
_vectors_lock = threading.Lock()


def curated_id(course: str, question: str) -> str:
    """Pinning the same question again replaces its answer."""
    normal = " ".join(question.lower().split())
    return hashlib.sha256(f"{course}\n{normal}".encode()).hexdigest()[:12]


def pin(services: Any, course: str, question: str, answer: str) -> CuratedAnswer:
    """Pin ``answer`` for ``question`` (and its paraphrases) in ``course``.

    Raises:
        InputError: empty or over-long question or answer.
    """
    question, answer = " ".join((question or "").split()), (answer or "").strip()
    if not question or not answer:
        raise InputError("Give both the question and the answer to pin.", code="empty_pin")
    if len(question) > MAX_QUESTION_CHARS or len(answer) > MAX_ANSWER_CHARS:
        raise InputError(f"Keep the question under {MAX_QUESTION_CHARS} characters and the answer under "
                         f"{MAX_ANSWER_CHARS}.", code="pin_too_long")
    curated = CuratedAnswer(curated_id(course, question), course, question, answer, time.time())
    services.insight.pin(curated)
    return curated


def similarity(embedder: Any, question: str, pinned: list[str]) -> list[float]:
    """Cosine of ``question`` to each pinned question (vectors of pinned questions are cached)."""
    with _vectors_lock:
        missing = [q for q in pinned if q not in _vectors]
    if missing:
        vectors = embedder.embed(missing)
        with _vectors_lock:
            if len(_vectors) > 5_000:
                _vectors.clear()
            _vectors.update(zip(missing, vectors))
    qv = embedder.embed_one(question)
    with _vectors_lock:
        return [float(qv @ _vectors[q]) for q in pinned]


def best_match(services: Any, course: str, question: str) -> tuple[CuratedAnswer, float] | None:
    """The pinned answer whose question is closest to ``question``, when it reaches THRESHOLD."""
    pins = services.insight.curated(course)
    if not pins or not question.strip():
        return None
    scores = similarity(services.embedder, question[:MAX_QUESTION_CHARS * 4], [p.question for p in pins])
    best = max(range(len(pins)), key=scores.__getitem__)
    return (pins[best], scores[best]) if scores[best] >= THRESHOLD else None


def curated_reply(turn: Turn, ctx: Any) -> Reply | None:
    """The first step of AskCoursePdfs (and Fallback: "when are office hours?" is no PDF question): the
    instructor's answer for this question, or None to go on as usual."""
    from bot.insight import DEFAULT_COURSE

    question = ctx.slots.get("question")
    question = question if isinstance(question, str) and question.strip() else turn.text
    if turn.attachments or not question or not question.strip():
        return None  # an attached PDF must still be added to the course
    try:
        from bot.courses import course_of

        # only the asker's course's pins: another course's instructor answers nothing here
        match = best_match(ctx.services, course_of(turn, ctx.conversation) or DEFAULT_COURSE, question.strip())
    except Exception:  # no curated answers (store or embedder down): the PDFs still answer
        log.warning("could not look up curated answers", exc_info=True)
        return None
    if match is None:
        return None
    curated, score = match
    return Reply(text=f"{NOTE}: {curated.answer}", intent="AskCoursePdfs",
                 details={"found": True, "curated": {"id": curated.id, "question": curated.question,
                                                     "score": round(score, 3)}})
