"""The instructor's report: questions asked, what the course could not answer (grouped by meaning, with the
nearest course pages), ratings with their cited pages, and how often each PDF page is cited."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from bot.capabilities import AnswerRecord

log = logging.getLogger(__name__)

QUESTION_INTENT = "AskCoursePdfs"
# a message the bot did not understand that reads as a question ("when are office hours?") is a question
# the course did not answer
_QUESTION = re.compile(r"\?\s*$|^\s*(who|what|when|where|which|why|how|is|are|can|could|do|does|will|should)\b", re.I)
# Two unanswered questions are grouped when their embedding cosine reaches this: the best accuracy on the
# paraphrase dev split (bot/insight/data/paraphrase_dev.jsonl); grouping may merge more than pinning does.
CLUSTER_THRESHOLD = 0.625
MAX_EXAMPLES = 5
NEAREST_PAGES = 3


def build(services: Any, *, course: str, since: float = 0.0) -> dict[str, Any]:
    """The report as JSON-ready data (keys ``questions``, ``unanswered``, ``feedback``, ``pages``)."""
    store = services.insight
    answers = store.answers(since=since, course=course)
    questions = [a for a in answers if _is_question(a)]
    unanswered = [a for a in questions if not _answered(a)]
    by_id = {a.answer_id: a for a in answers}
    rated: list[tuple[Any, AnswerRecord]] = []
    for r in store.ratings(since=since):
        record = by_id.get(r.answer_id) or store.get(r.answer_id)
        if record is not None and record.course == course:
            rated.append((r, record))
    return {
        "course": course,
        "since": since or None,
        "questions": _questions(questions),
        "unanswered": clusters(services, [a.question for a in unanswered]),
        "feedback": _feedback(rated),
        "pages": _pages(services, answers, rated),
    }


def _is_question(a: AnswerRecord) -> bool:
    """A course question that got an answer or "not in the course" (not a PDF upload), or a question-like
    message the bot did not understand."""
    if a.intent == QUESTION_INTENT:
        return a.found is not None
    return a.intent == "Fallback" and bool(_QUESTION.search(a.question))


def _answered(a: AnswerRecord) -> bool:
    return a.found is True


def _questions(questions: list[AnswerRecord]) -> dict[str, Any]:
    per_day = Counter(time.strftime("%Y-%m-%d", time.gmtime(a.at)) for a in questions)
    return {
        "asked": len(questions),
        "answered": sum(_answered(a) for a in questions),
        "not_in_course": sum(not _answered(a) for a in questions),
        "per_day": [{"day": d, "count": per_day[d]} for d in sorted(per_day)],
    }


def clusters(services: Any, questions: list[str]) -> list[dict[str, Any]]:
    """Questions grouped by meaning: greedy single pass over their embeddings, most asked group first."""
    if not questions:
        return []
    vectors = np.asarray(services.embedder.embed(questions))
    groups: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i, v in enumerate(vectors):
        if centroids:
            sims = np.array([float(v @ (c / np.linalg.norm(c))) for c in centroids])
            best = int(sims.argmax())
            if sims[best] >= CLUSTER_THRESHOLD:
                groups[best].append(i)
                centroids[best] = centroids[best] + v
                continue
        groups.append([i])
        centroids.append(v.copy())
    out = []
    for members, centroid in zip(groups, centroids):
        centre = centroid / np.linalg.norm(centroid)
        representative = max(members, key=lambda i: float(vectors[i] @ centre))
        examples = list(dict.fromkeys(questions[i] for i in members))
        out.append({"question": questions[representative], "count": len(members),
                    "examples": examples[:MAX_EXAMPLES], "nearest": _nearest(services, questions[representative])})
    out.sort(key=lambda c: -c["count"])
    return out


def _nearest(services: Any, question: str) -> list[dict[str, Any]]:
    try:
        passages = services.kb.search(question, k=NEAREST_PAGES * 2)
    except Exception:  # no index yet, or the KB is unreachable: the group is still worth showing
        log.warning("could not search the course for a report group", exc_info=True)
        return []
    pages = list(dict.fromkeys((p.source, p.page) for p in passages))
    return [{"source": s, "page": p} for s, p in pages[:NEAREST_PAGES]]


def _citations(record: AnswerRecord) -> list[dict[str, Any]]:
    return [{"source": s, "page": p} for s, p in dict.fromkeys(record.citations)]


def _feedback(rated: list[tuple[Any, AnswerRecord]]) -> list[dict[str, Any]]:
    rows = [{"answer_id": r.answer_id, "rating": r.rating, "question": a.question, "comment": r.comment,
             "citations": _citations(a), "answer": a.answer, "at": r.at} for r, a in rated]
    rows.sort(key=lambda f: (f["rating"] != "down", -f["at"]))
    return rows


def _pages(services: Any, answers: list[AnswerRecord], rated: list[tuple[Any, AnswerRecord]]) -> list[dict[str, Any]]:
    cited: Counter = Counter()
    down: Counter = Counter()
    for a in answers:
        cited.update(set(a.citations))
    for r, a in rated:
        if r.rating == "down":
            down.update(set(a.citations))
    rows = [{"source": s, "page": p, "cited": cited[(s, p)], "down": down[(s, p)]}
            for s, p in set(cited) | set(down)]
    rows.sort(key=lambda r: (-r["cited"], -r["down"], r["source"], r["page"] or 0))
    sources = {s for s, _ in cited}
    try:
        documents = [d.get("name") or d.get("source") for d in services.kb.list()]
    except Exception:
        log.warning("could not list the course documents for the report", exc_info=True)
        documents = []
    rows += [{"source": d, "page": None, "cited": 0, "down": 0} for d in sorted(filter(None, documents))
             if d not in sources]
    return rows


def per_document(pages: list[dict[str, Any]]) -> dict[str, int]:
    """Citations per document (a document never cited counts 0)."""
    totals: dict[str, int] = defaultdict(int)
    for p in pages:
        totals[p["source"]] += p["cited"]
    return dict(totals)
