"""The web chat's ASGI app (FastAPI) around the shared Router.

Routes: ``GET /`` the one-page chat, ``POST /api/turn`` (multipart ``text`` + optional ``file``)
-> the Reply JSON, ``POST /api/new`` starts a new conversation, ``GET /files/<key>?expires=&sig=``
serves blobs through signed expiring links, ``GET /l/<id>`` redirects a short link (bot/shortlinks.py)
to a fresh one (those two in ``files``), ``GET /healthz``, ``GET /openapi.json``.

The conversation is kept per browser in an HttpOnly, SameSite=Strict cookie. Uploads are checked
from their bytes (size, then type) before the router sees them. POSTs from another origin are
refused, and the Host header must name this server (no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import logging
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
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from bot.channels.web.adapter import (
    UPLOAD_TYPES,
    Health,
    ReplyOut,
    check_upload,
    conversation_key,
    error_reply,
    to_turn,
    to_web,
    too_large,
    upload_name,
)
from bot.channels.web.files import add_file_routes
from bot.courses import DEFAULT_COURSE, is_course_name
from bot.errors import CoursebotError
from bot.roles import INSTRUCTOR, STUDENT, is_instructor_token, token_cookie
from bot.turn import Attachment

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "coursebot_session"
INSTRUCTOR_COOKIE = "coursebot_instructor"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers on top of the file itself

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: blob: data:; "
            "media-src 'self' https: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def _error_reply(status: int, text: str, code: str, conversation: str | None = None) -> JSONResponse:
    return JSONResponse(error_reply(text, code, conversation).to_dict(), status_code=status)


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
def create_app(services: Any = None, router: Any = None, *, allowed_hosts: list[str] | None = None,
               instructor_token: str | None = None) -> FastAPI:
    """The web chat ASGI app.

    Args:
        services: the services bundle (default: the process-wide one from the environment).
        router: the Router (default: ``Router(services)`` with the registered intents).
        allowed_hosts: Host header values accepted; default the loopback names plus the host of
            ``settings.public_url``. ``["*"]`` accepts any (when serving on a LAN address).
        instructor_token: opening ``/?instructor=<token>`` makes that browser an instructor (it may
            add course PDFs); default COURSEBOT_INSTRUCTOR_TOKEN, else nobody is.

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
    token = instructor_token or settings.instructor_token
    instructor_mark = token_cookie(token) if token else None
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    app.add_middleware(BodyLimit, limit=limit + _MULTIPART_OVERHEAD, message=too_large(limit))
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
    async def index(request: Request) -> Response:
        offered = request.query_params.get("instructor")
        if offered is not None:  # the instructor link: keep a mark in a cookie, drop the token from the URL
            query = "&".join(f"{k}={v}" for k, v in request.query_params.items() if k == "course" and is_course_name(v))
            response = Response(status_code=303, headers={"Location": "/" + (f"?{query}" if query else "")})
            if is_instructor_token(offered, token):
                response.set_cookie(INSTRUCTOR_COOKIE, instructor_mark, max_age=7 * 86400, httponly=True,
                                    samesite="strict", path="/")
            return response
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
    async def turn(request: Request, text: str = Form(""), file: UploadFile | None = File(None),
                   course: str = Form("")) -> Response:
        session, new_session = _session(request)
        conversation = conversation_key(session)
        role = INSTRUCTOR if instructor_mark and is_instructor_token(request.cookies.get(INSTRUCTOR_COOKIE),
                                                                     instructor_mark) else STUDENT
        course = course.strip().lower() or DEFAULT_COURSE
        if course != DEFAULT_COURSE and not await run_in_threadpool(_course_exists, services, course):
            return _with_cookie(_error_reply(404, "There is no such course here. Check the course name in the "
                                             "link you were given.", "unknown_course", conversation),
                                session, new_session)
        attachments: tuple[Attachment, ...] = ()
        if file is not None and (file.filename or file.size):
            data = await file.read(limit + 1)
            await file.close()
            name = upload_name(file.filename)
            mime, refused = check_upload(name, data, limit, conversation)
            if refused is not None:
                status, reply = refused
                return _with_cookie(JSONResponse(reply.to_dict(), status_code=status), session, new_session)
            attachments = (await run_in_threadpool(_store_upload, services, session, name, mime, data),)
        turn_ = to_turn(session, text, attachments, role=role, course=course)
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

    add_file_routes(app, services, base_url)

    return app


def _course_exists(services: Any, course: str) -> bool:
    """Whether ``course`` is a course with documents (only existing courses can be chosen)."""
    if not is_course_name(course):
        return False
    try:
        return any(c["course"] == course for c in services.kb.courses())
    except (CoursebotError, AttributeError):
        return False


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
