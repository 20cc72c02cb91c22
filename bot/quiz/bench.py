"""`coursebot bench quiz`: generated questions over the sample course and a third-party PDF (R-intro),
written as JSON lines for a rater who has not seen the generator, with counts and timings.

The sample goes to ``COURSEBOT_QUIZ_SAMPLE`` (default ``quiz_sample.jsonl`` in the current folder);
``COURSEBOT_QUIZ_BENCH_HOME`` reuses an index (otherwise a temporary COURSEBOT_HOME is built).
``COURSEBOT_QUIZ_PDF`` picks the third-party PDF (a name of the bench corpus such as ``R-lang.pdf``, or a
path; default R-intro) and ``COURSEBOT_QUIZ_SEED`` the first seed, so a fresh sample can be drawn from
other material than the one a rater has seen.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.bench.core import Row, machine, percentile

THIRD_PARTY_COURSE = "r-intro"
_RESERVED = ("R-FAQ.pdf", "R-data.pdf")  # kept for acceptance: never sampled
PER_COURSE = 20
SET_SIZE = 5


def third_party_pdf(choice: str | None = None) -> Path | None:
    """The PDF to sample besides the sample course: ``choice`` (a bench corpus name or a path), else R-intro."""
    from bot.bench.kb import corpus, r_intro

    if not choice:
        return r_intro()
    name = Path(choice).name
    if name in _RESERVED:
        raise ValueError(f"{name} is reserved and never sampled; pick another PDF")
    if name in corpus():
        return corpus()[name]
    path = Path(choice)
    if path.suffix.lower() != ".pdf":
        raise ValueError(f"not a PDF: {choice}")
    return path if path.is_file() else None


def _course_name(pdf: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", pdf.stem.lower()).strip("-") or THIRD_PARTY_COURSE


def setup(home: Path, pdf_choice: str | None = None) -> tuple[Any, dict[str, str]]:
    """Services on ``home`` with the sample course in the default course and the third-party PDF
    (default R-intro) in its own course."""
    from bot.services import Services
    from bot.settings import load
    from kb import sample
    from kb.local import sample_dir

    settings = load(home=home, backend="local")
    services = Services(settings)
    kb = services.kb
    kb.ingest([str(p) for p in sample.build(sample_dir(settings))])
    courses = {"default": "the sample course (kb/sample_course)"}
    pdf = third_party_pdf(pdf_choice)
    if pdf is None:
        print(f"  quiz bench: {pdf_choice or 'R-intro.pdf'} not found (Debian package r-doc-pdf); the sample has "
              "the sample course only.", file=sys.stderr)
    else:
        course = THIRD_PARTY_COURSE if not pdf_choice else _course_name(pdf)
        kb.ingest([str(pdf)], course=course)
        courses[course] = f"{pdf.name} ({pdf})"
    return services, courses


def sample(services: Any, course: str, n: int = PER_COURSE, seed: int = 0) -> tuple[list[Any], list[float]]:
    """``n`` questions of ``course``, made as a student gets them: sets of five over the whole course,
    each set avoiding the questions of the sets before."""
    maker = services.get("quiz")
    out: list[Any] = []
    times: list[float] = []
    attempt = 0
    while len(out) < n and attempt < n:
        attempt += 1
        t = time.perf_counter()
        made = maker.make(None, count=min(SET_SIZE, n - len(out)), course=course, seed=seed + attempt,
                          avoid=[q.id for q in out])
        times.append((time.perf_counter() - t) * 1000)
        if not made.questions:
            break
        out.extend(q for q in made.questions if q.id not in {o.id for o in out})
    return out[:n], times


def line(q: Any, course: str) -> dict[str, Any]:
    return {"id": q.id, "course": course, "question": q.question, "choices": list(q.choices), "answer": q.letter,
            "source": q.source, "page": q.page, "passage": " ".join(q.passage.split())}


def write_sample(out: Path, home: Path, pdf_choice: str | None = None, seed: int = 0
                 ) -> tuple[list[dict[str, Any]], list[Row]]:
    services, courses = setup(home, pdf_choice)
    lines: list[dict[str, Any]] = []
    rows: list[Row] = []
    for course, described in courses.items():
        questions, times = sample(services, course, seed=seed)
        lines += [line(q, course) for q in questions]
        on = f"{described}, sets of {SET_SIZE}; {machine()}"
        kinds = Counter(q.kind for q in questions)
        rows.append(Row("quiz", f"questions generated ({course})", len(questions), f"of {PER_COURSE}", on))
        rows.append(Row("quiz", f"with 4 choices ({course})",
                        round(100 * sum(len(q.choices) == 4 for q in questions) / max(len(questions), 1), 1), "%", on))
        rows.append(Row("quiz", f"blank kinds ({course})", ", ".join(f"{k}:{v}" for k, v in kinds.most_common()), "", on))
        rows.append(Row("quiz", f"set of {SET_SIZE} p50 ({course})", round(percentile(times, 50), 1), "ms", on))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    rows.append(Row("quiz", "sample written", len(lines), "questions", str(out)))
    return lines, rows


def bench_quiz() -> list[Row]:
    out = Path(os.environ.get("COURSEBOT_QUIZ_SAMPLE") or "quiz_sample.jsonl").resolve()
    home = os.environ.get("COURSEBOT_QUIZ_BENCH_HOME")
    seed = os.environ.get("COURSEBOT_QUIZ_SEED", "0").strip() or "0"
    if not re.fullmatch(r"\d{1,9}", seed):
        raise ValueError(f"COURSEBOT_QUIZ_SEED must be a whole number, not {seed!r}")
    with tempfile.TemporaryDirectory(prefix="coursebot-quiz-") as tmp:
        _, rows = write_sample(out, Path(home or tmp), os.environ.get("COURSEBOT_QUIZ_PDF") or None, int(seed))
    return rows
