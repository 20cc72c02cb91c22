"""Serving the Slack app: uvicorn around a small ASGI front for ``app.dispatch`` (POST /slack/events), or Socket Mode.

The front checks what it can before any parsing: the path, the body size (read with a deadline, so
a client that never finishes its body is cut off), then Slack's signature over the raw bytes. Only
a signed request reaches Bolt, on a bounded pool of threads. A bad request gets a 4xx and one log
line, never a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bot.channels.slack.app import require

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000  # Slack payloads are a few KB; refuse anything absurd before reading it
BODY_TIMEOUT_S = 10.0  # the whole body must arrive within this; Slack sends it in one go
MAX_AGE_S = 300  # Slack: reject requests whose timestamp is more than five minutes off
DISPATCH_THREADS = 16  # Bolt's dispatch (signature, dedupe, ack, hand-off) runs here; the answers run on the app's pool
MAX_CONNECTIONS = 256  # uvicorn answers 503 beyond this many open connections or tasks
KEEP_ALIVE_S = 5


class BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify(secret: str, headers: dict[str, list[str]], body: bytes, now: float | None = None) -> None:
    """Slack's v0 request signature over the raw body; raises :class:`BadRequest` (401) when it fails."""
    ts = (headers.get("x-slack-request-timestamp") or [""])[0]
    sig = (headers.get("x-slack-signature") or [""])[0]
    if not ts or not sig:
        raise BadRequest(401, "unsigned")
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        raise BadRequest(401, "timestamp is not a number")
    if abs((now or time.time()) - int(ts)) > MAX_AGE_S:
        raise BadRequest(401, "stale timestamp")
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig):
        raise BadRequest(401, "bad signature")


class SlackHTTPServer:
    """``POST /slack/events`` (and ``GET /healthz``) on uvicorn, bounded: at most ``MAX_CONNECTIONS``
    connections, ``DISPATCH_THREADS`` threads in Bolt's dispatch, ``body_timeout`` seconds per body.

    The socket is bound at construction, so :attr:`url` is known (port 0 picks a free port).
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 3000, *, body_timeout: float = BODY_TIMEOUT_S,
                 dispatch_threads: int = DISPATCH_THREADS, max_connections: int = MAX_CONNECTIONS):
        import uvicorn

        self.app = app
        channel = getattr(app, "coursebot", None)
        self.secret = (channel.settings.slack_signing_secret if channel is not None else None) or ""
        self.body_timeout = body_timeout
        self.timings: list[float] | None = None  # set to a list to record dispatch times (ms), as the bench does
        self._pool = ThreadPoolExecutor(max_workers=dispatch_threads, thread_name_prefix="slack-dispatch")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(128)  # the default 5 resets connections when Slack sends a burst
        self.server_address = self.socket.getsockname()
        config = uvicorn.Config(self, log_config=None, access_log=False, lifespan="off", http="h11",
                                limit_concurrency=max_connections, timeout_keep_alive=KEEP_ALIVE_S,
                                server_header=False, timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{EVENTS_PATH}"

    # -- lifecycle --
    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or Ctrl-C when run in the main thread)."""
        self._server.run(sockets=[self.socket])

    def start_background(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="slack-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._thread

    def shutdown(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def server_close(self) -> None:
        self.socket.close()
        self._pool.shutdown(wait=False)

    # -- ASGI --
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        if path == "/healthz" and method in ("GET", "HEAD"):
            await _respond(send, 200, "ok")
            return
        if path != EVENTS_PATH:
            await _respond(send, 404, "not found")
            return
        if method != "POST":
            await _respond(send, 405, "method not allowed")
            return
        headers: dict[str, list[str]] = {}
        for k, v in scope.get("headers") or ():
            headers.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
        client = (scope.get("client") or ("?",))[0]
        try:
            body = await self._read_body(headers, receive)
            if body is None:  # the client went away
                return
            verify(self.secret, headers, body)
            text = body.decode("utf-8")
        except BadRequest as e:
            log.warning("refused a Slack request from %s: %s (%d)", client, e.reason, e.status)
            await _respond(send, e.status, "request refused" if e.status == 401 else e.reason, close=e.status != 401)
            return
        except UnicodeDecodeError:
            log.warning("refused a Slack request from %s: body is not UTF-8 (400)", client)
            await _respond(send, 400, "bad request")
            return
        started = time.perf_counter()
        query = (scope.get("query_string") or b"").decode("latin-1")
        try:
            resp = await asyncio.get_running_loop().run_in_executor(self._pool, self._dispatch, text, query, headers)
        except Exception as e:  # a signed body Bolt cannot parse: still one line, no traceback
            log.warning("could not handle a signed Slack request from %s: %s", client, type(e).__name__)
            await _respond(send, 400, "bad request")
            return
        await _respond(send, resp.status, resp.body, resp.headers)
        if self.timings is not None:
            self.timings.append((time.perf_counter() - started) * 1000)

    def _dispatch(self, body: str, query: str, headers: dict[str, list[str]]) -> Any:
        from slack_bolt.request import BoltRequest

        return self.app.dispatch(BoltRequest(body=body, query=query, headers=headers))

    async def _read_body(self, headers: dict[str, list[str]], receive: Any) -> bytes | None:
        declared = (headers.get("content-length") or [None])[0]
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest(400, "bad content-length")
            if int(declared) > MAX_BODY_BYTES:
                raise BadRequest(413, "payload too large")
        deadline = time.monotonic() + self.body_timeout
        parts: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BadRequest(408, "body too slow")
            try:
                message = await asyncio.wait_for(receive(), timeout=left)
            except asyncio.TimeoutError:
                raise BadRequest(408, "body too slow") from None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:  # a chunked body that keeps going
                raise BadRequest(413, "payload too large")
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts)


async def _respond(send: Any, status: int, body: str = "", headers: dict[str, Any] | None = None,
                   close: bool = False) -> None:
    data = (body or "").encode("utf-8")
    out: list[tuple[bytes, bytes]] = []
    for k, values in (headers or {}).items():
        if k.lower() in ("content-length", "connection", "transfer-encoding"):
            continue
        for v in values if isinstance(values, (list, tuple)) else [values]:
            out.append((k.lower().encode("latin-1"), str(v).encode("latin-1")))
    if not any(k == b"content-type" for k, _ in out):
        out.append((b"content-type", b"text/plain; charset=utf-8"))
    out.append((b"content-length", str(len(data)).encode()))
    if close:
        out.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": data})


def serve_http(app: Any, host: str, port: int, **kwargs: Any) -> SlackHTTPServer:
    return SlackHTTPServer(app, host, port, **kwargs)


def socket_mode_handler(app: Any, settings: "Settings") -> Any:
    """Bolt's Socket Mode handler for the app: ``.connect()`` returns at once, ``.start()`` blocks."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    require(settings, "SLACK_APP_TOKEN")
    return SocketModeHandler(app, settings.slack_app_token)


def run_socket_mode(app: Any, settings: "Settings") -> None:
    """Connect over Socket Mode (no public URL needed) and block."""
    socket_mode_handler(app, settings).start()
