"""The web chat on AWS Lambda behind the stack's HTTP API (``bot.channels.web.lambda_handler``): an
API Gateway payload-2.0 event becomes one ASGI request to the same FastAPI app ``coursebot serve``
runs, in Lex mode on the bot alias the stack wires in (COURSEBOT_LEX_BOT_ID, COURSEBOT_LEX_BOT_ALIAS_ID).

``to_asgi(event)`` and ``to_http_api(status, headers, body)`` are the pure halves; ``run`` drives an
app with them. Binary bodies (the voice recording) arrive base64-encoded and are decoded here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

_TEXT_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml")
_app = None
_app_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def to_asgi(event: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """(ASGI HTTP scope, request body) for an HTTP API payload-2.0 event."""
    http = (event.get("requestContext") or {}).get("http") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    cookies = event.get("cookies") or []
    if cookies:  # payload 2.0 moves the Cookie header into a list
        headers["cookie"] = "; ".join(str(c) for c in cookies)
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    if raw and "content-length" not in headers:
        headers["content-length"] = str(len(raw))
    path = event.get("rawPath") or http.get("path") or "/"
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": (http.get("method") or "GET").upper(),
        "scheme": headers.get("x-forwarded-proto", "https"),
        "path": unquote(path), "raw_path": path.encode("utf-8"), "root_path": "",
        "query_string": (event.get("rawQueryString") or "").encode("utf-8"),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": (http.get("sourceIp") or "0.0.0.0", 0),
        "server": (headers.get("host", "lambda"), int(headers.get("x-forwarded-port", "443") or 443)),
    }
    return scope, raw


def to_http_api(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    """The payload-2.0 response: Set-Cookie headers go to ``cookies``; non-text bodies are base64."""
    out: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        if key == "set-cookie":
            cookies.append(text)
        else:
            out[key] = f"{out[key]}, {text}" if key in out else text
    kind = out.get("content-type", "")
    binary = bool(body) and not kind.startswith(_TEXT_TYPES)
    response: dict[str, Any] = {
        "statusCode": status, "headers": out,
        "body": base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8", "replace"),
        "isBase64Encoded": binary,
    }
    if cookies:
        response["cookies"] = cookies
    return response


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    sent = False
    status, headers, chunks = 500, [], []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # the client stays connected until the response is complete (file responses listen for this)
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return to_http_api(status, headers, b"".join(chunks))


def run(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Answer one HTTP API event with the ASGI ``app`` (one event loop per container, reused)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    scope, body = to_asgi(event)
    try:
        return _loop.run_until_complete(_call(app, scope, body))
    except Exception:
        log.exception("web chat request failed")
        return {"statusCode": 500, "headers": {"content-type": "application/json"}, "isBase64Encoded": False,
                "body": '{"text": "Something went wrong on our side. Please try again.", "error": "internal_error", '
                        '"state": "failed", "intent": "Fallback"}'}


def build_app(settings: Any = None, client: Any = None) -> Any:
    """The web chat app in Lex mode from the settings (the stack sets the bot alias and the secret)."""
    from bot import settings as settings_module
    from bot.channels.web import create_app
    from bot.channels.web.lexmode import LexChat
    from bot.errors import ConfigError
    from bot.services import Services

    settings = settings or settings_module.get()
    if not settings.lex_bot_id or not settings.lex_bot_alias_id:
        raise ConfigError("The web chat on Lambda needs COURSEBOT_LEX_BOT_ID and COURSEBOT_LEX_BOT_ALIAS_ID.")
    lex = LexChat.connect(f"{settings.lex_bot_id}/{settings.lex_bot_alias_id}", settings.lex_locale,
                          settings=settings, client=client)
    # API Gateway routes by host name already; there is no DNS rebinding to guard against here
    return create_app(Services(settings), allowed_hosts=["*"], lex=lex)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda entry point ``bot.channels.web.lambda_handler`` (settings from the environment)."""
    global _app
    with _app_lock:
        if _app is None:
            _app = build_app()
    return run(_app, event)
