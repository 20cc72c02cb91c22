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
    "nlu": "bot.benchmarks:bench_nlu",
    "turn": "bot.benchmarks:bench_turn",
    # issue 3: "kb": "kb.bench:bench_kb",
    # issue 4: "speech": ..., "summarize": ...
    # issue 5: "vision": ...
    # issue 6: "lex": ...
    "slack": "bot.channels.slack_bench:bench_slack",  # issue 7
    "web": "bot.channels.web_bench:bench_web",  # issue 8
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
    on = f"dev set bot/data/nlu_dev.jsonl ({len(items)} utterances, 8 intents); {machine()}"
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


def bench_turn() -> list[Row]:
    """Router overhead (NLU excluded) and end-to-end local turn latency per intent that answers offline."""
    import tempfile
    import uuid

    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn

    rows: list[Row] = [cli_help_time()]
    with tempfile.TemporaryDirectory() as home:
        services = Services(load(home=Path(home), backend="local"))
        router = Router(services)
        router.handle(Turn(conversation="warm", text="hello"))  # load models once
        samples = {"Greeting": "hi there", "Help": "what can you do?", "Fallback": "what's the weather in Paris"}
        for intent, text in samples.items():
            times = []
            for _ in range(30):
                t = time.perf_counter()
                router.handle(Turn(conversation=uuid.uuid4().hex, text=text))
                times.append((time.perf_counter() - t) * 1000)
            rows.append(Row("turn", f"{intent} turn p50", round(percentile(times, 50), 2), "ms",
                            f"local backend, 30 turns, NLU included; {machine()}"))
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
