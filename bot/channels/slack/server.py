"""Serving the Slack app: a threaded HTTP server around ``app.dispatch`` (POST /slack/events), or Socket Mode."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bot.channels.slack.app import require

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000  # Slack payloads are a few KB; refuse anything absurd before reading it


class SlackHTTPServer(ThreadingHTTPServer):
    """Serves ``POST /slack/events`` (and ``GET /healthz``) with one thread per connection around
    ``app.dispatch``; the answers themselves run on the app's worker pool."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog; the default 5 resets connections when Slack sends a burst

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 3000):
        self.app = app
        self.timings: list[float] | None = None  # set to a list to record dispatch times (ms), as the bench does
        super().__init__((host, port), _BoltHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{EVENTS_PATH}"

    def start_background(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-http", daemon=True)
        t.start()
        return t


class _BoltHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may sit idle or trickle its body before it is dropped
    server: SlackHTTPServer

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    def _write(self, status: int, body: str = "", headers: dict[str, Any] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for k, values in (headers or {}).items():
            if k.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for v in values if isinstance(values, (list, tuple)) else [values]:
                self.send_header(k, str(v))
        if not any(k.lower() == "content-type" for k in (headers or {})):
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urlparse(self.path).path == "/healthz":
            self._write(200, "ok")
        else:
            self._write(404, "not found")

    def do_POST(self) -> None:
        from slack_bolt.request import BoltRequest

        parsed = urlparse(self.path)
        if parsed.path != EVENTS_PATH:
            self._write(404, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._write(413, "payload too large")
            self.close_connection = True
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        headers: dict[str, list[str]] = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        started = time.perf_counter()
        resp = self.server.app.dispatch(BoltRequest(body=body, query=parsed.query, headers=headers))
        self._write(resp.status, resp.body, resp.headers)
        if self.server.timings is not None:
            self.server.timings.append((time.perf_counter() - started) * 1000)


def serve_http(app: Any, host: str, port: int) -> SlackHTTPServer:
    return SlackHTTPServer(app, host, port)


def socket_mode_handler(app: Any, settings: "Settings") -> Any:
    """Bolt's Socket Mode handler for the app: ``.connect()`` returns at once, ``.start()`` blocks."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    require(settings, "SLACK_APP_TOKEN")
    return SocketModeHandler(app, settings.slack_app_token)


def run_socket_mode(app: Any, settings: "Settings") -> None:
    """Connect over Socket Mode (no public URL needed) and block."""
    socket_mode_handler(app, settings).start()
