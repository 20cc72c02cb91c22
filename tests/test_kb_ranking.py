"""How hybrid search orders chunks (kb.ranking), on small indexes built by hand with chosen vectors."""

from __future__ import annotations

import numpy as np
import pytest

from kb import ranking
from kb.index import Index
from kb.local import LocalKnowledgeBase

DIM = 4


class FixedEmbedder:
    """Vectors are given by the test (``query_vec=``); only the model id and the size matter."""

    dim = DIM
    model_id = "fixed-test-vectors"

    def embed(self, texts):
        raise AssertionError("the test gives every vector")

    embed_one = embed


def unit(*xs: float) -> np.ndarray:
    v = np.array(list(xs) + [0.0] * (DIM - len(xs)), dtype=np.float32)
    return v / np.linalg.norm(v)


def knowledge_base(tmp_path, chunks: list[tuple[str, np.ndarray]]) -> tuple[LocalKnowledgeBase, dict[str, int]]:
    """A KB holding one document whose page i+1 is ``chunks[i]`` (text, vector); chunk ids by text."""
    kb = LocalKnowledgeBase(tmp_path / "kb.sqlite3", FixedEmbedder())
    with kb.index.transaction() as db:
        Index.insert_document(db, name="notes.pdf", sha256="0" * 64, size=1, pages=len(chunks), blob_key=None,
                              model=FixedEmbedder.model_id,
                              chunks=[(i + 1, i, "Notes", text) for i, (text, _) in enumerate(chunks)],
                              vectors=np.stack([v for _, v in chunks]))
    ids = {text: cid for cid, _, text in kb.index.chunk_texts(1)}
    return kb, ids


def test_fusion_weighs_cosine_and_bm25_scaled_by_the_best_bm25():
    fused = ranking.fuse({1: 0.8, 2: 0.4}, {2: 10.0, 3: 5.0}, 0.75)
    assert fused == pytest.approx({1: 0.6, 2: 0.3 + 0.25, 3: 0.125})
    assert ranking.best(fused, 2) == [1, 2]
    assert ranking.best({4: 0.5, 2: 0.5, 9: 0.1}, 2) == [2, 4]  # a tie goes to the earlier chunk


def test_feedback_moves_the_query_towards_the_best_chunks_and_keeps_unit_length():
    q = unit(1, 0)
    moved = ranking.feedback_query(q, np.stack([unit(0, 1), unit(0, 1)]), 0.2)
    assert np.linalg.norm(moved) == pytest.approx(1.0)
    assert moved @ unit(0, 1) > q @ unit(0, 1)
    assert moved @ q > 0.9  # still mostly the question
    assert ranking.feedback_query(q, np.zeros((0, DIM)), 0.2) is q
    assert ranking.feedback_query(q, np.stack([unit(0, 1)]), 0.0) is q


def test_a_chunk_holding_the_asked_kind_of_answer_gains_over_one_that_only_talks_about_it():
    question = "What is the default weight of a glob pattern?"
    talks = "Glob patterns carry a weight. The weight of a glob orders the matches between patterns."
    answers = "Each pattern has a weight. If no weight is given, the glob weight defaults to 50."
    scores = {1: 0.70, 2: 0.68}
    reranked = ranking.kind_rerank(question, scores, {1: talks, 2: answers})
    assert ranking.best(reranked, 2) == [2, 1]
    assert reranked[2] == pytest.approx(0.68 + ranking.KIND_BONUS) and reranked[1] == 0.70
    # the answer's kind alone is not enough: the sentence must also be about the question's terms
    unrelated = "Unless told otherwise, the cache keeps 64 entries."
    assert not ranking.answers_kind(question, unrelated)
    # a question that asks for no particular kind of answer leaves the order alone
    assert ranking.kind_rerank("Tell me about glob patterns", scores, {1: talks, 2: answers}) == scores


def test_how_many_questions_prefer_the_chunk_with_a_number_among_the_best_only():
    question = "How many atomic vector types does R have?"
    vague = "R has atomic vector types, described in the next section."
    count = "There are six atomic vector types in R: logical, integer, real, complex, string and raw."
    scores = {1: 0.9, 2: 0.88, 3: 0.1}
    texts = {1: vague, 2: count, 3: count}
    reranked = ranking.kind_rerank(question, scores, texts, depth=2)
    assert ranking.best(reranked, 3) == [2, 1, 3]
    assert reranked[3] == 0.1  # below the rerank depth: not read


def test_pseudo_relevance_feedback_lifts_the_chunk_near_the_best_matches(tmp_path, monkeypatch):
    """Two chunks match the question's words; of two that match only its meaning, the one in their direction
    is lifted above the one that is a little nearer the question but off in another direction."""
    on_topic = unit(0.6, 0.8)
    kb, ids = knowledge_base(tmp_path, [
        ("The orchid hall exam starts at nine.", on_topic),
        ("The orchid hall exam lasts two hours.", on_topic),
        ("Students sit the final paper in the big room.", unit(0.62, 0.78)),
        ("Lunch is served in the canteen.", unit(0.64, 0, 0.77)),
    ])
    q = unit(1, 0)
    order = [h.text for h in kb.hits("orchid hall exam", 4, query_vec=q)]
    assert order[2:] == ["Students sit the final paper in the big room.", "Lunch is served in the canteen."]
    hits = {h.text: h for h in kb.hits("orchid hall exam", 4, query_vec=q)}
    # the cosine reported (what answers abstain by) is still the question's own
    assert hits["Lunch is served in the canteen."].dense == pytest.approx(float(q @ unit(0.64, 0, 0.77)), abs=1e-5)
    assert hits["Students sit the final paper in the big room."].dense == pytest.approx(
        float(q @ unit(0.62, 0.78)), abs=1e-5)
    monkeypatch.setattr(ranking, "FEEDBACK_WEIGHT", 0.0)  # without feedback the nearer, off-topic one wins
    order = [h.text for h in kb.hits("orchid hall exam", 4, query_vec=q)]
    assert order[2:] == ["Lunch is served in the canteen.", "Students sit the final paper in the big room."]
    assert ids  # every chunk was stored


def test_search_prefers_the_chunk_that_answers_what_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(ranking, "FEEDBACK_WEIGHT", 0.0)
    filler = [(f"Week {i} covers reading list number {i} and the seminar rooms.", unit(0, 0, 1)) for i in range(8)]
    kb, _ = knowledge_base(tmp_path, [
        ("A glob pattern has a weight. The weight of a glob pattern orders the glob patterns.", unit(0.88, 0.475)),
        ("If a glob pattern has no weight, its weight defaults to 50.", unit(0.8, 0.6)),
        *filler,
    ])
    question = "what is the default weight of a glob pattern"
    monkeypatch.setattr(ranking, "KIND_BONUS", 0.0)
    plain = kb.hits(question, 2, query_vec=unit(1, 0))
    monkeypatch.setattr(ranking, "KIND_BONUS", 0.06)
    top = kb.hits(question, 2, query_vec=unit(1, 0))
    assert plain[0].page == 1 and plain[0].score - plain[1].score < 0.06  # more of the words, no answer
    assert top[0].page == 2 and "defaults to 50" in top[0].text
    assert top[0].score == pytest.approx(plain[1].score + 0.06)


def test_vectors_returns_the_stored_rows_of_indexed_chunks_only(tmp_path):
    kb, ids = knowledge_base(tmp_path, [("alpha", unit(1, 0)), ("beta", unit(0, 1))])
    got = kb.index.vectors([ids["beta"], 999, ids["alpha"]])
    assert got.shape == (2, DIM)
    assert np.allclose(got[0], unit(0, 1)) and np.allclose(got[1], unit(1, 0))
    assert kb.index.vectors([]).shape == (0, DIM)
