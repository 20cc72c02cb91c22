"""`coursebot bench insight`: how well curated answers recognise paraphrases, beside a word-overlap baseline."""

from __future__ import annotations

import re
from pathlib import Path

from bot.bench.core import Row, load_jsonl, machine

DATA = Path(__file__).parent / "data"
_WORD = re.compile(r"[a-z0-9]+")


def scores(pairs: list[dict], similarity) -> list[float]:
    return [similarity(p["pinned"], p["asked"]) for p in pairs]


def confusion(pairs: list[dict], values: list[float], threshold: float) -> dict[str, float]:
    """Accuracy, precision and recall of "is a paraphrase" at ``threshold``."""
    tp = sum(v >= threshold and p["paraphrase"] for p, v in zip(pairs, values))
    fp = sum(v >= threshold and not p["paraphrase"] for p, v in zip(pairs, values))
    fn = sum(v < threshold and p["paraphrase"] for p, v in zip(pairs, values))
    correct = sum((v >= threshold) == p["paraphrase"] for p, v in zip(pairs, values))
    return {"accuracy": correct / len(pairs), "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "false_matches": fp}


def f_half(c: dict[str, float]) -> float:
    p, r = c["precision"], c["recall"]
    return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0


def tune(pairs: list[dict], values: list[float]) -> float:
    """The threshold with the best F0.5 (precision first) on these pairs."""
    candidates = sorted(set(round(v, 3) for v in values))
    return max(candidates, key=lambda t: (f_half(confusion(pairs, values, t)), t))


def jaccard(a: str, b: str) -> float:
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(wa & wb) / max(len(wa | wb), 1)


def bench_insight() -> list[Row]:
    from bot import services
    from bot.insight.curated import THRESHOLD

    embedder = services.default().embedder

    def cosine(a: str, b: str) -> float:
        va, vb = embedder.embed([a, b])
        return float(va @ vb)

    dev, test = load_jsonl(DATA / "paraphrase_dev.jsonl"), load_jsonl(DATA / "paraphrase_test.jsonl")
    rows: list[Row] = []
    on = (f"held-out test split bot/insight/data/paraphrase_test.jsonl ({len(test)} pairs, "
          f"{sum(p['paraphrase'] for p in test)} paraphrases); threshold from the dev split; {machine()}")
    for name, sim, threshold in (("embedding cosine", cosine, THRESHOLD),
                                 ("baseline: word overlap (Jaccard)", jaccard, None)):
        if threshold is None:
            threshold = tune(dev, scores(dev, sim))
        c = confusion(test, scores(test, sim), threshold)
        label = f"curated match, {name} >= {threshold:.3f}"
        rows += [Row("insight", f"{label}: precision", round(c["precision"] * 100, 1), "%", on),
                 Row("insight", f"{label}: recall", round(c["recall"] * 100, 1), "%", on),
                 Row("insight", f"{label}: accuracy", round(c["accuracy"] * 100, 1), "%", on),
                 Row("insight", f"{label}: wrong curated answers", c["false_matches"], "pairs", on)]
    return rows
