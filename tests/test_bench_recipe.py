"""The ingest rows of `coursebot bench kb`: our ingest against the LangChain recipe, and the recipe's hit@k."""

from __future__ import annotations

import numpy as np

from bot.bench import kb as bench
from bot.bench import recipe

OURS = {"seconds": 30.0, "pages": 113, "chunks": 302}


def test_without_the_bench_extra_the_comparison_says_so(monkeypatch, capsys):
    monkeypatch.setattr(recipe, "missing", lambda: "torch")
    rows, run = bench.ingest_vs_recipe({"R-intro.pdf": "x"}, OURS, "load average 1.0/1.0/1.0")
    assert run is None
    by_metric = {r.metric: r for r in rows}
    assert by_metric["ingest chunks/s"].value == round(302 / 30, 1)
    row = by_metric["ingest time vs the LangChain recipe"]
    assert row.value == "not measured" and "torch missing" in row.measured_on and ".[bench]" in row.measured_on
    assert "not installed" in capsys.readouterr().err


class _Embeddings:
    """Stands in for HuggingFaceEmbeddings: one-hot vectors by keyword, calls recorded."""

    def __init__(self):
        self.calls = []

    def embed_documents(self, texts):
        self.calls.append(list(texts))
        return [[1.0, 0.0] if "zebra" in t else [0.0, 1.0] for t in texts]


def test_the_ratio_and_the_recipes_own_hit_at_k():
    run = recipe.RecipeRun(seconds=60.0, pages=113, chunks=3, embed_seconds=50.0, threads=2,
                           vectors=np.array([[0.1, 0.99], [1.0, 0.0], [0.3, 0.95]], dtype=np.float32),
                           places=[("a.pdf", 1), ("b.pdf", 4), ("a.pdf", 2)], embeddings=_Embeddings())
    rows, same = bench.ingest_vs_recipe({"a.pdf": "x", "b.pdf": "y"}, OURS, "load average 1.0/1.0/1.0", run)
    assert same is run
    ratio = {r.metric: r for r in rows}["ingest time vs the LangChain recipe"]
    assert ratio.value == 0.5 and ratio.unit == "x" and "back to back" in ratio.measured_on
    qa = [{"question": "where do zebras live? zebra", "source": "b.pdf", "pages": [4]},
          {"question": "what is on page 2?", "source": "a.pdf", "pages": [2]},  # in the top 5, not first
          {"question": "unanswerable", "answerable": False, "source": None, "pages": []}]
    r = recipe.retrieval(run, qa)
    assert r == {"n": 2, "hit1": 0.5, "hit5": 1.0}
    assert run.embeddings.calls == [["where do zebras live? zebra", "what is on page 2?"]]
