"""How hybrid search orders chunks: fused dense + BM25 scores, pseudo-relevance feedback, answer-kind rerank.

Pure functions over scores, vectors and texts, so each step can be tested on a small constructed
index. The weights were chosen on the dev QA sets (``python -m bot.bench.kb --tune --split dev,dev2``)
where dev and dev2 both agreed, from plateaus rather than peaks.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from kb import extractive
from kb.chunking import sentences

# Pseudo-relevance feedback: the query vector moves this far towards the mean of the best FEEDBACK_DEPTH
# fused chunks, then dense search runs again (0.15-0.2 helped both dev sets; 0.3+ hurt dev).
FEEDBACK_WEIGHT = 0.2
FEEDBACK_DEPTH = 3
# A chunk with a sentence that holds the kind of answer the question asks for (a number for "how many",
# a default for "what is the default", a version for "since which version") and one of its key terms
# gains this much fused score (0.04-0.1 was one plateau on both dev sets, reading the best 10 or 20 alike).
KIND_BONUS = 0.06
RERANK_DEPTH = 10


def fuse(dense: Mapping[int, float], lexical: Mapping[int, float], dense_weight: float) -> dict[int, float]:
    """Weighted sum of the cosine and the BM25 score divided by the best BM25 score of the query."""
    top_lex = max(lexical.values(), default=0.0) or 1.0
    return {cid: dense_weight * dense.get(cid, 0.0) + (1 - dense_weight) * lexical.get(cid, 0.0) / top_lex
            for cid in set(dense) | set(lexical)}


def best(scores: Mapping[int, float], k: int) -> list[int]:
    """The ``k`` ids of highest score; ties go to the lower id (the earlier chunk), so results are stable."""
    return sorted(scores, key=lambda cid: (-scores[cid], cid))[:k]


def feedback_query(query_vec: np.ndarray, top_vecs: np.ndarray, weight: float = FEEDBACK_WEIGHT) -> np.ndarray:
    """The query vector moved towards the mean of the best chunks' vectors (Rocchio), unit length again."""
    if not len(top_vecs) or weight <= 0:
        return query_vec
    moved = np.asarray(query_vec, dtype=np.float32) + weight * np.asarray(top_vecs, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return moved / norm if norm else query_vec


def answers_kind(question: str, text: str, terms: set[str] | None = None) -> bool:
    """True when a sentence of ``text`` has one of the question's key terms and the kind of answer
    ``question`` asks for (see :func:`kb.extractive.answer_type_bonus`)."""
    terms = extractive.key_terms(question) if terms is None else terms
    if not terms or not terms & extractive.key_terms(text):
        return False
    # the cheap test first: most sentences share no key term with the question
    return any(terms & extractive.key_terms(s) and extractive.answer_type_bonus(question, s) > 0
               for s in sentences(text))


def kind_rerank(question: str, scores: Mapping[int, float], texts: Mapping[int, str], *,
                bonus: float | None = None, depth: int | None = None) -> dict[int, float]:
    """``scores`` with ``bonus`` (default KIND_BONUS) added to the chunks, of the best ``depth`` (default
    RERANK_DEPTH), that answer the question's kind."""
    bonus = KIND_BONUS if bonus is None else bonus
    depth = RERANK_DEPTH if depth is None else depth
    out = dict(scores)
    terms = extractive.key_terms(question)
    if not terms:
        return out
    for cid in best(scores, depth):
        if cid in texts and answers_kind(question, texts[cid], terms):
            out[cid] += bonus
    return out
