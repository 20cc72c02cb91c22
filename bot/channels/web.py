"""Local web chat channel: an ASGI app (FastAPI) around the shared Router.

Routes: ``GET /`` the one-page chat, ``POST /api/turn`` (multipart ``text`` + optional ``file``)
-> the Reply JSON, ``POST /api/new`` starts a new conversation, ``GET /files/<key>?expires=&sig=``
serves blobs through signed expiring links, ``GET /l/<id>`` redirects a short link (bot/links.py)
to a fresh one, ``GET /healthz``, ``GET /openapi.json``.

The conversation is kept per browser in an HttpOnly, SameSite=Strict cookie. Uploads are checked
from their bytes (size, then type) before the router sees them. POSTs from another origin are
refused, and the Host header must name this server (no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
import secrets
import uuid
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from bot.errors import CoursebotError
from bot.files import LEGACY_TEXT, not_utf8, sniff
from bot.turn import Attachment, Reply, Turn

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "web_static"
COOKIE = "coursebot_session"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# Uploads the bot can use, by the type sniffed from the bytes (never the name or the browser's type).
UPLOAD_TYPES = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "application/pdf": ".pdf", "text/plain": ".txt",
}
# Types /files/ may serve as themselves; anything else is a download (never rendered as HTML).
_SERVABLE = {"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf",
             "audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav", "text/plain"}
_MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers on top of the file itself

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: blob: data:; "
            "media-src 'self' https: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


# --- OpenAPI models of the Reply JSON contract (bot.turn.Reply.to_dict) ----------------------------
class CitationOut(BaseModel):
    source: str = Field(description="the PDF the answer came from")
    page: int | None = Field(None, description="1-based page")
    url: str | None = Field(None, description="link that opens the PDF at that page")
    quote: str | None = Field(None, description="the sentence(s) that answer, to highlight in the passage")
    passage: str | None = Field(None, description="the passage of the PDF the answer shows, plain text")


class MediaOut(BaseModel):
    kind: str = Field(description="audio, image or file")
    mime: str
    url: str | None = None
    path: str | None = None
    title: str | None = None
    expires_at: float | None = None


class ReplyOut(BaseModel):
    intent: str
    confidence: float
    text: str
    ssml: str | None = None
    citations: list[CitationOut] = []
    attachments: list[MediaOut] = []
    suggestions: list[str] = []
    slots: dict[str, Any] = {}
    state: str = Field(description="fulfilled, elicit or failed")
    elicit_slot: str | None = None
    error: str | None = Field(None, description="a short machine code when the turn could not be answered")
    details: dict[str, Any] = {}
    conversation: str | None = None


class Health(BaseModel):
    status: str
    backend: str
    intents: list[str]
    max_upload_bytes: int


# --- translation: request -> Turn, Reply -> JSON ---------------------------------------------------
def to_web(reply: Reply, services: Any, base_url: str) -> dict[str, Any]:
    """The Reply JSON with links made relative to this server, and local media files published
    through signed links (a handler may return a Media with only a ``path``)."""
    data = reply.to_dict()
    for media in data["attachments"]:
        if not media.get("url") and media.get("path"):
            media["url"] = _publish(media["path"], media.get("mime", ""), services)
        media.pop("path", None)  # server paths are not the browser's business
        if media.get("url"):
            media["url"] = _relative(media["url"], base_url)
    for citation in data["citations"]:
        if citation.get("url"):
            citation["url"] = _relative(citation["url"], base_url)
    _drop_server_paths(data["details"])
    return data


def _drop_server_paths(value: Any) -> None:
    """Remove ``path`` entries (files on this server, e.g. ``details.audio.path``) from the details."""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str) and os.path.isabs(value["path"]):
            del value["path"]
        for item in value.values():
            _drop_server_paths(item)
    elif isinstance(value, list):
        for item in value:
            _drop_server_paths(item)


def _relative(url: str, base_url: str) -> str:
    """``http://127.0.0.1:8000/files/x?...`` -> ``/files/x?...`` so links work under any host name
    the browser used for this server (localhost vs 127.0.0.1) and pass the page's CSP."""
    base = base_url.rstrip("/")
    if base and url.startswith(base + "/"):
        return url[len(base):]
    return url


def _publish(path: str, mime: str, services: Any) -> str | None:
    try:
        blobs = services.blobs
        p = Path(path).resolve()
        root = Path(getattr(blobs, "root", "/nonexistent")).resolve()
        if root in p.parents:
            return blobs.url(p.relative_to(root).as_posix())
        data = p.read_bytes()
        ext = mimetypes.guess_extension(mime) or p.suffix or ".bin"
        return blobs.put(f"media/{uuid.uuid4().hex}{ext}", data, mime).url
    except (OSError, CoursebotError, ValueError):
        log.warning("could not publish a reply's media file", exc_info=True)
        return None


def _error_reply(status: int, text: str, code: str, conversation: str | None = None) -> JSONResponse:
    reply = Reply(text=text, intent="Fallback", state="failed", error=code, conversation=conversation)
    return JSONResponse(reply.to_dict(), status_code=status)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 10e6 else f"{n / 1e6:.0f} MB"


# --- middleware ------------------------------------------------------------------------------------
class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies above ``limit`` bytes with 413 before they are parsed or spooled:
    by Content-Length when given, else by counting the chunks as they arrive."""

    def __init__(self, app: Any, limit: int, message: str):
        self.app, self.limit, self.message = app, limit, message

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        response = _error_reply(413, self.message, "attachment_too_large")
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


# --- the app ---------------------------------------------------------------------------------------
def create_app(services: Any = None, router: Any = None, *, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The web chat ASGI app.

    Args:
        services: the services bundle (default: the process-wide one from the environment).
        router: the Router (default: ``Router(services)`` with the registered intents).
        allowed_hosts: Host header values accepted; default the loopback names plus the host of
            ``settings.public_url``. ``["*"]`` accepts any (when serving on a LAN address).

    Returns:
        A FastAPI app; run it with uvicorn.
    """
    if services is None:
        from bot import services as services_module

        services = router.services if router is not None else services_module.default()
    if router is None:
        from bot.router import Router

        router = Router(services)
    settings = services.settings
    limit = settings.web_max_upload_bytes
    base_url = settings.public_url.rstrip("/")
    if allowed_hosts is None:
        allowed_hosts = sorted({*LOOPBACK_HOSTS, urlsplit(base_url).hostname or "127.0.0.1"})

    app = FastAPI(
        title="coursebot web chat",
        version="1",
        description="The local web chat of coursebot: one turn in, one Reply out.",
        docs_url=None, redoc_url=None,  # the interactive docs load scripts from a CDN; we stay offline
    )
    app.state.services = services
    app.state.router = router
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    too_large = (f"That upload is too large: the most I accept is {_mb(limit)}. "
                 "Try a smaller photo, or split the PDF.")
    app.add_middleware(BodyLimit, limit=limit + _MULTIPART_OVERHEAD, message=too_large)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        if request.method == "POST" and not _same_origin(request):
            return _error_reply(403, "Requests from other web sites are not accepted.", "cross_origin")
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith("/files/"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        text = f"I couldn't read that request: {exc.detail}" if exc.status_code == 400 else str(exc.detail)
        return _error_reply(exc.status_code, text, "bad_request" if exc.status_code == 400 else f"http_{exc.status_code}")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})) or "the form"
        return _error_reply(422, f"I couldn't read that request: check the field(s) {fields}. "
                            "Send a multipart form with 'text' and optionally 'file'.", "bad_request")

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", response_model=Health, summary="Liveness check")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "backend": settings.backend, "intents": sorted(router.intents),
                "max_upload_bytes": limit}

    @app.post("/api/turn", summary="Send one message (and optionally a file); get the bot's Reply",
              responses={200: {"model": ReplyOut}, 413: {"model": ReplyOut, "description": "upload too large"},
                         415: {"model": ReplyOut, "description": "upload type not supported"},
                         403: {"model": ReplyOut, "description": "cross-origin request"}})
    async def turn(request: Request, text: str = Form(""), file: UploadFile | None = File(None)) -> Response:
        session, new_session = _session(request)
        conversation = f"web-{session}"
        attachments: tuple[Attachment, ...] = ()
        if file is not None and (file.filename or file.size):
            data = await file.read(limit + 1)
            await file.close()
            name = Path(file.filename or "upload").name[:200] or "upload"
            if len(data) > limit:
                response = _error_reply(413, f"'{name}' is larger than {_mb(limit)}, the most I accept. "
                                        "Try a smaller photo, or split the PDF.", "attachment_too_large", conversation)
                return _with_cookie(response, session, new_session)
            mime = sniff(data[:4096])
            if mime not in UPLOAD_TYPES:
                response = _error_reply(415, _unsupported(name, mime), "unsupported_attachment", conversation)
                return _with_cookie(response, session, new_session)
            attachments = (await run_in_threadpool(_store_upload, services, session, name, mime, data),)
        turn_ = Turn(conversation=conversation, text=text, user=f"web:{session[:8]}", channel="web",
                     attachments=attachments)
        lock = locks.get(conversation)
        if lock is None:
            lock = locks[conversation] = asyncio.Lock()
        async with lock:  # one turn at a time per conversation: its state is read, then written
            reply = await run_in_threadpool(router.handle, turn_)
        data_out = await run_in_threadpool(to_web, reply, services, base_url)
        return _with_cookie(JSONResponse(data_out), session, new_session)

    @app.post("/api/new", summary="Start a new conversation in this browser", status_code=204)
    async def new_conversation() -> Response:
        return _with_cookie(Response(status_code=204), _new_session_id(), True)

    async def files(key: str, expires: str = "", sig: str = "") -> Response:
        try:
            blobs = services.blobs
        except CoursebotError:
            return JSONResponse({"error": "not_found", "text": "No files are served here."}, status_code=404)
        verify = getattr(blobs, "verify", None)
        if verify is None or not verify(key, expires, sig):
            return JSONResponse({"error": "bad_link", "text": "This link has expired or is not valid. "
                                 "Ask again to get a fresh link."}, status_code=403)
        try:
            path = blobs.path(key)
        except CoursebotError:
            return JSONResponse({"error": "bad_link", "text": "That file name is not allowed."}, status_code=403)
        if not path.is_file():
            return JSONResponse({"error": "not_found", "text": "That file no longer exists."}, status_code=404)
        mime = _served_type(path)
        headers = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
        if mime != "application/pdf":  # Chromium's PDF viewer does not run in a sandboxed document
            headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        disposition = "inline" if mime in _SERVABLE else "attachment"
        return FileResponse(path, media_type=mime, headers=headers, filename=path.name,
                            content_disposition_type=disposition)

    async def short_link(link_id: str) -> Response:
        from bot.channels.links import HEADERS, redirect

        try:
            store = services.links
        except CoursebotError:
            return Response("Links are not served here.\n", status_code=404, media_type="text/plain",
                            headers=HEADERS)
        status, value = await run_in_threadpool(redirect, store, link_id)
        if status == 302:  # relative, so it works under whichever host name the browser used
            return Response(status_code=302, headers={**HEADERS, "Location": _relative(value, base_url)})
        return Response(value + "\n", status_code=status, media_type="text/plain", headers=HEADERS)

    app.get("/l/{link_id}", summary="A short link: redirects to a freshly signed /files/ link",
            responses={302: {"description": "to the file"}, 404: {"description": "unknown link"},
                       410: {"description": "expired link, or the file is gone"}})(short_link)
    app.head("/l/{link_id}", include_in_schema=False)(short_link)

    app.get("/files/{key:path}", summary="A stored file, through a signed expiring link",
            responses={200: {"description": "the file (Range requests supported)"},
                       403: {"description": "link changed or expired"}, 404: {"description": "no such file"}})(files)
    app.head("/files/{key:path}", include_in_schema=False)(files)

    return app


def _same_origin(request: Request) -> bool:
    """A POST is accepted without an Origin (curl, scripts) or with this server's own origin."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _new_session_id() -> str:
    return secrets.token_urlsafe(18)


def _session(request: Request) -> tuple[str, bool]:
    value = request.cookies.get(COOKIE, "")
    if _SESSION.match(value):
        return value, False
    return _new_session_id(), True


def _with_cookie(response: Response, session: str, new: bool) -> Response:
    if new:
        response.set_cookie(COOKIE, session, max_age=30 * 86400, httponly=True, samesite="strict", path="/")
    return response


def _store_upload(services: Any, session: str, name: str, mime: str, data: bytes) -> Attachment:
    """Keep the upload in the blob store (a later turn may ask about "that photo" again)."""
    key = f"uploads/{session}/{uuid.uuid4().hex}{UPLOAD_TYPES[mime]}"
    try:
        stored = services.blobs.put(key, data, mime)
    except CoursebotError:
        log.warning("blob store unavailable; the upload is used for this turn only", exc_info=True)
        return Attachment(name=name, mime=mime, data=data, size=len(data))
    return Attachment(name=name, mime=mime, data=data, path=stored.path, url=stored.url, size=len(data))


def _unsupported(name: str, mime: str) -> str:
    if mime == LEGACY_TEXT:
        return not_utf8(name)
    what = {"text/html": "a web page (HTML)", "text/xml": "an XML or SVG file", "application/zip": "a ZIP archive",
            "application/gzip": "a compressed archive", "application/x-executable": "a program",
            "video/mp4": "a video", "audio/mpeg": "an audio file", "audio/ogg": "an audio file",
            "audio/wav": "an audio file", "image/heic": "a HEIC photo", "image/bmp": "a BMP image",
            "image/tiff": "a TIFF image", "application/x-empty": "an empty file"}.get(mime, "a file type I don't know")
    return (f"I can't use '{name}': it looks like {what}, whatever its name says. "
            "I accept photos (JPEG, PNG, GIF, WebP), PDF files and plain-text files.")


def _served_type(path: Path) -> str:
    with path.open("rb") as f:
        mime = sniff(f.read(4096))
    if mime in _SERVABLE:
        return "text/plain; charset=utf-8" if mime == "text/plain" else mime
    guessed = mimetypes.guess_type(path.name)[0]  # e.g. MP3 frames without an ID3 tag
    if guessed in _SERVABLE and guessed.startswith("audio/") and mime == "application/octet-stream":
        return guessed
    return "application/octet-stream"
