"""`coursebot bench slack`: ack latency of the HTTP mode under 50 concurrent signed events, and duplicates."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from bot.bench.core import Row, machine, percentile

EVENTS = 50
ROUNDS = 3
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
if TYPE_CHECKING:
    from bot.testing.slack_web_api import FakeSlack

TEXTS = ("hi there", "what can you do?", "hello coursebot", "help", "what's the weather in Paris")


def _event(i: int) -> tuple[str, str]:
    ts = f"{int(time.time())}.{i:06d}"
    payload = {
        "token": "x", "team_id": "T0000001", "api_app_id": "A0COURSEBOT", "type": "event_callback",
        "event_id": f"Ev0BENCH{i:05d}", "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": f"U0STUDENT{i % 7}", "text": f"<@UBOT0001> {TEXTS[i % len(TEXTS)]}",
                  "ts": ts, "channel": "C0BENCH001", "event_ts": ts, "team": "T0000001"},
        "authorizations": [{"team_id": "T0000001", "user_id": "UBOT0001", "is_bot": True}],
    }
    return json.dumps(payload), ts


def _send(url: str, body: str, retry: int = 0) -> tuple[int, float]:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
        return r.status, (time.perf_counter() - t) * 1000


def _burst(url: str, bodies: list[str], retry: int = 0) -> list[tuple[int, float]]:
    """Send all bodies at once (threads released together) and return (status, ms) per request."""
    start = threading.Barrier(len(bodies))

    def one(body: str) -> tuple[int, float]:
        start.wait()
        return _send(url, body, retry)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


def _burst_elsewhere(url: str, bodies: list[str], retry: int = 0) -> list[tuple[int, float]]:
    """The burst from a separate process, as Slack is: the client must not share the server's GIL."""
    code = ("import json, sys; from bot.bench.slack import _burst; "
            "print(json.dumps(_burst(sys.argv[1], json.load(sys.stdin), int(sys.argv[2]))))")
    out = subprocess.run([sys.executable, "-c", code, url, str(retry)], input=json.dumps(bodies),
                         capture_output=True, text=True, timeout=120, check=True)
    return [tuple(x) for x in json.loads(out.stdout)]


def _answered(fake: "FakeSlack", wanted: set[str]) -> set[str]:
    """The event threads whose placeholder the answer has replaced (or that got a private note)."""
    from bot.channels.slack.blocks import PLACEHOLDER_BLOCK

    done = set()
    with fake._lock:
        messages = list(fake.messages.values())
    for m in messages:
        blocks = m.get("blocks") or []
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        if m.get("thread_ts") in wanted and not any(b.get("block_id") == PLACEHOLDER_BLOCK for b in blocks):
            done.add(m["thread_ts"])
    done |= {c.params.get("thread_ts") for c in fake.called("chat.postEphemeral")
             if c.params.get("thread_ts") in wanted}
    return done


def _wait_for_answers(fake: "FakeSlack", wanted: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(_answered(fake, wanted)) < len(wanted) and time.monotonic() < deadline:
        fake.wait_for("chat.update", len(fake.called("chat.update")) + 1, timeout=0.5)


def bench_slack() -> list[Row]:
    from bot.channels import slack
    from bot.testing.slack_web_api import FakeSlack
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    load_start = os.getloadavg()[0]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as home, FakeSlack(TOKEN) as fake:
        cfg = load(home=Path(home), backend="local", slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                   slack_api_url=fake.base_url)
        app = slack.build_app(cfg, Router(Services(cfg)))
        server = slack.serve_http(app, "127.0.0.1", 0)
        server.start_background()
        try:
            warm, _ = _event(99999)
            _send(server.url, warm)  # loads the NLU model once, like a server's first message
            fake.wait_for("chat.postMessage", 1, timeout=60)
            events = [_event(r * EVENTS + i) for r in range(ROUNDS) for i in range(EVENTS)]
            t0 = time.perf_counter()
            first, retries = [], []
            server.timings = []
            for r in range(ROUNDS):
                bodies = [b for b, _ in events[r * EVENTS:(r + 1) * EVENTS]]
                first += _burst_elsewhere(server.url, bodies)
                retries += _burst_elsewhere(server.url, bodies, retry=1)  # Slack's retries of the same deliveries
            wanted = {ts for _, ts in events}
            _wait_for_answers(fake, wanted, timeout=180)
            all_answered_s = time.perf_counter() - t0
            inside = list(server.timings)
            time.sleep(1.0)  # anything extra would arrive now
        finally:
            server.shutdown()
            server.server_close()
        posted = Counter(c.params.get("thread_ts") for c in fake.called("chat.postMessage") + fake.called("chat.postEphemeral")
                         if c.params.get("thread_ts") in wanted)
        answered = _answered(fake, wanted)
    where = f"{machine()}, load average {load_start:.1f} at the start"
    on = (f"HTTP mode (the `coursebot slack --http` server), {ROUNDS} bursts of {EVENTS} concurrent signed "
          f"app_mention events from another process, local backend; {where}")
    acks = [ms for _, ms in first]
    rows += [
        Row("slack", "ack latency p50", round(percentile(acks, 50), 1), "ms", on),
        Row("slack", "ack latency p99", round(percentile(acks, 99), 1), "ms", on + " (goal < 300 ms)"),
        Row("slack", "server time per ack p99", round(percentile(inside, 99), 1), "ms",
            f"inside the server: dispatch (signature, dedupe, ack, hand-off to a worker) + writing the 200; "
            f"all {len(inside)} requests; {where}"),
        Row("slack", "non-200 acks", sum(1 for s, _ in first + retries if s != 200), "requests",
            f"{len(first)} events + {len(retries)} retries; {where}"),
        Row("slack", "retry ack latency p99", round(percentile([ms for _, ms in retries], 99), 1), "ms",
            f"each burst again with X-Slack-Retry-Num: 1 (deduplicated, no work); {where}"),
        Row("slack", "duplicate posts", sum(n - 1 for n in posted.values() if n > 1), "posts",
            f"{len(first)} events + {len(retries)} retries; replies counted per event thread; {where}"),
        Row("slack", "events answered", len(answered), f"of {len(events)}",
            f"threads whose first post was replaced by the answer; same run; {where}"),
        Row("slack", "all answered after", round(all_answered_s, 2), "s",
            f"first request to last reply, {slack.default_workers(cfg)} workers, Greeting/Help/Fallback via the local NLU; {where}"),
    ]
    return rows
