"""A local stand-in for the Slack Web API over real HTTP (tests and `coursebot bench slack`; never on a request path).

Plays ``auth.test``, ``chat.postMessage``, ``chat.update`` and ``chat.delete`` (of messages it posted),
``chat.postEphemeral``, ``views.publish``, ``views.open``, ``views.update`` (of a view it opened, with
its ``hash``), the three ``files_upload_v2``
steps, ``files.info``, private file downloads (bearer token required, like ``url_private``) and
``response_url`` webhooks; records every call; can answer ``ratelimited`` (HTTP 429 + Retry-After).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM = "T0000001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes = field(default=b"", repr=False)


class FakeSlack:
    """Start with ``with FakeSlack(token) as slack:``; point a WebClient at ``slack.base_url``."""

    def __init__(self, token: str = "xoxb-test-token", app_token: str = "xapp-test-token"):
        self.token = token
        self.app_token = app_token
        self.socket_url: str | None = None  # ws:// URL that apps.connections.open hands out
        self.calls: list[Call] = []
        self.views: dict[str, dict[str, Any]] = {}  # modals opened, by view id
        self.files: dict[str, tuple[bytes, str]] = {}  # file id -> (bytes, content type)
        self.uploads: dict[str, bytes] = {}
        self.public: dict[str, tuple[bytes, str]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> the message as it stands now
        self._ratelimits: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._cond = threading.Condition(self._lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                fake._get(self)

            def do_POST(self) -> None:
                fake._post(self)

        ThreadingHTTPServer.request_queue_size = 128
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle --
    def __enter__(self) -> "FakeSlack":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- test controls --
    def add_file(self, file_id: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Serve ``data`` as a private file; returns its url_private."""
        self.files[file_id] = (data, content_type)
        return f"{self.root}/files-pri/{TEAM}-{file_id}/download"

    def add_public(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` without auth (like an S3 presigned URL); returns its URL."""
        self.public[name] = (data, content_type)
        return f"{self.root}/public/{name}"

    def ratelimit(self, method: str, times: int = 1, retry_after: int = 0) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 ratelimited."""
        self._ratelimits[method] = [times, retry_after]

    def called(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until ``method`` was called ``count`` times (or the timeout); returns those calls."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([c for c in self.calls if c.method == method]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return [c for c in self.calls if c.method == method]

    # -- HTTP --
    def _record(self, method: str, params: dict[str, Any], handler: BaseHTTPRequestHandler, body: bytes = b"") -> None:
        with self._cond:
            self.calls.append(Call(method, params, {k.lower(): v for k, v in handler.headers.items()}, body))
            self._cond.notify_all()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(body)

    def _json(self, handler: BaseHTTPRequestHandler, data: dict[str, Any], status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        self._send(handler, status, json.dumps(data).encode(), "application/json; charset=utf-8", headers)

    def _authorized(self, handler: BaseHTTPRequestHandler, params: dict[str, Any]) -> bool:
        auth = handler.headers.get("Authorization", "")
        return auth == f"Bearer {self.token}" or params.get("token") == self.token

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlparse(handler.path).path
        if path.startswith("/files-pri/"):
            file_id = path.split("/")[2].split("-", 1)[-1]
            self._record("files-pri", {"file": file_id}, handler)
            if not self._authorized(handler, {}):  # Slack answers a login page, not a 401
                self._send(handler, 200, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
                return
            if file_id not in self.files:
                self._send(handler, 404, b"not found", "text/plain")
                return
            data, ctype = self.files[file_id]
            self._send(handler, 200, data, ctype)
            return
        if path.startswith("/public/") and path[len("/public/"):] in self.public:
            data, ctype = self.public[path[len("/public/"):]]
            self._record("public", {"name": path[len("/public/"):]}, handler)
            self._send(handler, 200, data, ctype)
            return
        self._send(handler, 404, b"not found", "text/plain")

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        path = urlparse(handler.path).path
        if path.startswith("/upload/"):
            file_id = path.rsplit("/", 1)[-1]
            self.uploads[file_id] = body
            self._record("upload", {"file": file_id, "size": len(body)}, handler, body)
            self._send(handler, 200, f"OK - {len(body)}".encode(), "text/plain")
            return
        if path.startswith("/response/"):
            params = json.loads(body or b"{}")
            self._record("response_url", params, handler, body)
            self._send(handler, 200, b"ok", "text/plain")
            return
        if not path.startswith("/api/"):
            self._send(handler, 404, b"not found", "text/plain")
            return
        method = path[len("/api/"):]
        ctype = handler.headers.get("Content-Type", "")
        if "json" in ctype:
            params = json.loads(body or b"{}")
        elif "multipart" in ctype:
            params = {}
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        params.update({k: v[0] for k, v in parse_qs(urlparse(handler.path).query).items()})
        limit = self._ratelimits.get(method)
        if limit and limit[0] > 0:
            limit[0] -= 1
            self._record(method + "#429", params, handler, body)
            self._json(handler, {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(limit[1])})
            return
        self._record(method, params, handler, body)
        if method == "apps.connections.open":  # Socket Mode: called with the app-level token
            if handler.headers.get("Authorization", "") != f"Bearer {self.app_token}" or not self.socket_url:
                self._json(handler, {"ok": False, "error": "invalid_auth"})
            else:
                self._json(handler, {"ok": True, "url": self.socket_url})
            return
        if not self._authorized(handler, params):
            self._json(handler, {"ok": False, "error": "invalid_auth"})
            return
        self._json(handler, self._answer(method, params))

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        if method == "auth.test":
            return {"ok": True, "url": "https://coursebot-test.slack.com/", "team": "Test", "user": "coursebot",
                    "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            if not params.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            with self._lock:
                self.messages[(params["channel"], ts)] = {**params, "ts": ts}
            return {"ok": True, "channel": params["channel"], "ts": ts,
                    "message": {"text": params.get("text", ""), "ts": ts, "bot_id": BOT_ID}}
        if method in ("chat.update", "chat.delete"):
            key = (params.get("channel", ""), params.get("ts", ""))
            with self._lock:
                if key not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                if method == "chat.delete":
                    del self.messages[key]
                else:
                    self.messages[key].update({k: v for k, v in params.items() if k not in ("channel", "ts")})
            return {"ok": True, "channel": key[0], "ts": key[1], "text": params.get("text", "")}
        if method == "views.publish":
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not params.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **view}}
        if method == "views.open":  # a modal, opened with the trigger_id of a click (valid for 3 s at Slack)
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not params.get("trigger_id"):
                return {"ok": False, "error": "invalid_trigger_id"}
            if not isinstance(view, dict) or view.get("type") != "modal":
                return {"ok": False, "error": "invalid_arguments"}
            shown = {"id": f"V{next(self._ts):08d}", "hash": f"{next(self._ts)}.h", **view}
            with self._lock:
                self.views[shown["id"]] = shown
            return {"ok": True, "view": shown}
        if method == "views.update":  # replaces an open modal; a stale hash is refused like Slack does
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            with self._lock:
                shown = self.views.get(params.get("view_id", ""))
                if shown is None:
                    return {"ok": False, "error": "not_found"}
                if params.get("hash") and params["hash"] != shown["hash"]:
                    return {"ok": False, "error": "hash_conflict"}
                if not isinstance(view, dict) or view.get("type") != "modal":
                    return {"ok": False, "error": "invalid_arguments"}
                shown = {"id": shown["id"], "hash": f"{next(self._ts)}.h", **view}
                self.views[shown["id"]] = shown
            return {"ok": True, "view": shown}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            return {"ok": True, "upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}
        if method == "files.info":
            file_id = params.get("file", "")
            if file_id not in self.files:
                return {"ok": False, "error": "file_not_found"}
            data, ctype = self.files[file_id]
            return {"ok": True, "file": {"id": file_id, "name": f"{file_id}.bin", "mimetype": ctype,
                                         "size": len(data), "url_private": f"{self.root}/files-pri/{TEAM}-{file_id}/download"}}
        return {"ok": False, "error": "unknown_method"}
