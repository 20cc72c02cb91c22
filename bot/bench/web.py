"""`coursebot bench web`: concurrent browser sessions against the web chat over real HTTP."""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import uuid
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import HTTPCookieProcessor, Request, build_opener

PHOTO = "photo"
# One session's script: the turns a student might send, including a photo upload. Sessions cycle
# through it from different starting points so the server sees a mix at every moment.
SCRIPT = (
    "hello",
    "What is Amazon Lex?",
    PHOTO,
    "what can you do?",
    "read that aloud",
    "how are slots filled in a lex bot",
    "what's the weather in Paris tomorrow",
    "summarize: Amazon Polly turns text into lifelike speech. Amazon Lex builds chatbots. "
    "Amazon Rekognition analyzes images and videos.",
    "thanks",
    "bye",
)


def sample_png(width: int = 64, height: int = 48) -> bytes:
    """A small real PNG (sky, grass and a red square) made here, so the bench needs no files."""
    import struct
    import zlib

    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            if width // 3 <= x < width // 2 and height // 3 <= y < height // 2 + 4:
                row += bytes((200, 30, 30))
            elif y < height * 2 // 3:
                row += bytes((110 + y, 160 + y, 230))
            else:
                row += bytes((40, 140 - y, 50))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def multipart(text: str, file: tuple[str, bytes, str] | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n'.encode() + text.encode() + b"\r\n"]
    if file:
        name, data, mime = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: {mime}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Session:
    """One browser: its own cookie jar, so the server keeps its own conversation."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))
        self.conversation: str | None = None

    def send(self, text: str, file: tuple[str, bytes, str] | None = None) -> tuple[int, dict]:
        body, content_type = multipart(text, file)
        request = Request(self.base_url + "/api/turn", data=body, method="POST",
                          headers={"Content-Type": content_type, "Origin": self.base_url})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def run_sessions(base_url: str, sessions: int, turns: int) -> tuple[list[float], list[str]]:
    """Run ``sessions`` concurrent sessions of ``turns`` turns; (latencies in ms, error descriptions)."""
    photo = sample_png()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(sessions)

    def one(index: int) -> None:
        session = Session(base_url)
        start.wait()
        for t in range(turns):
            text = SCRIPT[(index + t) % len(SCRIPT)]
            began = time.perf_counter()
            try:
                if text == PHOTO:
                    status, reply = session.send("", ("photo.png", photo, "image/png"))
                else:
                    status, reply = session.send(text)
                problem = None
                if status != 200:
                    problem = f"HTTP {status}: {reply.get('text', '')[:80]}"
                elif reply.get("error") == "internal" or not reply.get("text"):
                    problem = f"internal error for {text[:30]!r}"
                elif session.conversation and reply.get("conversation") != session.conversation:
                    problem = "the conversation changed within one browser session"
                session.conversation = reply.get("conversation")
            except Exception as e:  # a refused connection, a timeout: all count as errors
                problem = f"{type(e).__name__}: {e}"
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(f"session {index} turn {t}: {problem}")

    threads = [threading.Thread(target=one, args=(i,), name=f"bench-session-{i}") for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def bench_web(sessions: int | None = None, turns: int | None = None) -> list:
    """p50/p95 turn latency of ``sessions`` concurrent sessions x ``turns`` turns over HTTP (local backend)."""
    from bot import settings as settings_module
    from bot.bench import settings as bench_settings
    from bot.bench.core import Row, machine, percentile
    from bot.channels.web import create_app
    from bot.cli.serve import BackgroundServer
    from bot.router import Router
    from bot.services import Services

    configured = bench_settings.load()
    sessions = sessions or configured.web_bench_sessions
    turns = turns or configured.web_bench_turns
    with tempfile.TemporaryDirectory() as home:
        def factory(url: str):
            services = Services(settings_module.load(home=Path(home), backend="local", public_url=url))
            return create_app(services, Router(services))

        with BackgroundServer(factory) as url:
            warm = Session(url)
            warm.send("hello")  # load the NLU model once, as a running server has
            began = time.perf_counter()
            latencies, errors = run_sessions(url, sessions, turns)
            wall = time.perf_counter() - began
    for e in errors[:10]:
        print(f"  web bench error: {e}", file=sys.stderr)
    on = (f"{sessions} concurrent sessions x {turns} turns over HTTP (uvicorn, local backend, the intents built in "
          f"this version; client and server in one process); {machine()}")
    return [
        Row("web", "turns", len(latencies), "turns", on),
        Row("web", "errors", len(errors), "turns", on),
        Row("web", "turn latency p50", round(percentile(latencies, 50), 1), "ms", on),
        Row("web", "turn latency p95", round(percentile(latencies, 95), 1), "ms", on),
        Row("web", "turn latency max", round(max(latencies, default=float("nan")), 1), "ms", on),
        Row("web", "throughput", round(len(latencies) / wall, 1), "turns/s", on),
    ]
