"""The web chat's ASGI app (FastAPI) around the shared Router.

Routes: ``GET /`` the one-page chat, ``POST /api/turn`` (multipart ``text`` + optional ``file``)
-> the Reply JSON, ``POST /api/feedback`` (JSON ``answer_id``, ``rating``, ``comment``) rates one of
this browser's answers, ``GET /insights`` the instructor's report (in ``insights``), ``GET /api/progress``
how far the PDF this browser is adding has got ("reading page 12 of 52…", polled while its turn runs),
``POST /api/new`` starts a new conversation, ``GET /api/config`` what this server's page may offer (Lex
mode, speech, uploads), ``POST /api/voice`` (16 kHz 16-bit mono PCM, ``audio/l16``) -> the transcript,
the Reply JSON and the spoken answer, when the mode takes speech,
``GET /files/<key>?expires=&sig=`` serves blobs through signed expiring links, ``GET /l/<id>`` redirects a short link (bot/shortlinks.py)
to a fresh one (those two in ``files``), ``GET /healthz``, ``GET /openapi.json``.

The conversation is kept per browser in an HttpOnly, SameSite=Strict cookie holding a session id
this server signed (any other value gets a new session); replies name the conversation by an opaque
id derived from it, never the cookie itself (bot.keys). Uploads are checked from their bytes (size,
then type) before the router sees them; a body over the limit gets 413 and one that arrives too
slowly 408, both with the usual reply JSON. POSTs from another origin are refused, and the Host
header must name this server (no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
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
    PCM_TYPE,
    UPLOAD_TYPES,
    ConfigOut,
    VoiceOut,
    config_out,
    lex_web,
    pcm_problem,
    voice_web,
    FeedbackIn,
    Health,
    ProgressOut,
    ReplyOut,
    check_upload,
    error_reply,
    to_turn,
    to_web,
    too_large,
    too_long_speech,
    upload_name,
)
from bot import keys
from bot.aws.lex_runtime import MAX_PCM_BYTES  # stdlib only: the speech limit Lex sets
from bot.channels.web.files import add_file_routes
from bot.channels.web.insights import add_insight_routes
from bot.errors import CoursebotError
from bot.insight import FeedbackError, access, rate
from bot.courses import DEFAULT_COURSE, is_course_name
from bot.roles import INSTRUCTOR, STUDENT, is_instructor_token, token_cookie
from bot.turn import Attachment
from bot.progress import watching

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "coursebot_session"
INSTRUCTOR_COOKIE = "coursebot_instructor"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers on top of the file itself
MAX_FEEDBACK_BYTES = 4096  # an id, a rating and a one-line comment

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: blob: data:; "
            "media-src 'self' https: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def _error_reply(status: int, text: str, code: str, conversation: str | None = None) -> JSONResponse:
    return JSONResponse(error_reply(text, code, conversation).to_dict(), status_code=status)


# --- middleware ------------------------------------------------------------------------------------
class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodyLimit:
    """Refuses request bodies above ``limit`` bytes with 413 before they are parsed or spooled (by
    Content-Length when given, else by counting the chunks as they arrive), and bodies that take
    longer than ``timeout`` seconds to arrive with 408; both answer the usual reply JSON and close
    the connection."""

    def __init__(self, app: Any, limit: int, message: str, timeout: float = 30.0,
                 paths: dict[str, tuple[int, str, str]] | None = None):
        self.app, self.limit, self.message, self.timeout = app, limit, message, timeout
        self.paths = paths or {}  # path -> (its own limit, the sentence, the error code)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        limit = self.paths.get(scope.get("path", ""), (self.limit,))[0]
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, send, 413)
            return
        seen = 0
        refused: int | None = None  # set once the body broke a limit: the app's own answer is replaced
        deadline = time.monotonic() + self.timeout

        body_done = False

        async def guarded_receive() -> dict:
            nonlocal seen, refused, body_done
            if refused is not None:
                raise _TooLarge() if refused == 413 else _TooSlow()
            if body_done:  # later reads wait for the client to disconnect: no deadline on those
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                refused = 408
                raise _TooSlow() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = 413
                    raise _TooLarge()
                body_done = not message.get("more_body", False)
            return message

        started = False

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if refused is not None:  # e.g. the form parser's 400 for a body it could not finish
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except (_TooLarge, _TooSlow):
            if started:
                raise
        if refused is not None and not started:
            await self._refuse(scope, send, refused)

    async def _refuse(self, scope: dict, send: Any, status: int) -> None:
        if status == 413 and scope.get("path", "") in self.paths:
            _, text, code = self.paths[scope["path"]]
            response = _error_reply(413, text, code)
        elif status == 413:
            response = _error_reply(413, self.message, "attachment_too_large")
        else:
            response = _error_reply(408, "That request took too long to arrive. Please try again.",
                                    "request_timeout")
        response.headers["Connection"] = "close"

        async def no_body() -> dict:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)


# --- the app ---------------------------------------------------------------------------------------
def create_app(services: Any = None, router: Any = None, *, allowed_hosts: list[str] | None = None,
               instructor_token: str | None = None, lex: Any = None, voice: Any = None) -> FastAPI:
    """The web chat ASGI app.

    Args:
        services: the services bundle (default: the process-wide one from the environment).
        router: the Router (default: ``Router(services)`` with the registered intents).
        allowed_hosts: Host header values accepted; default the loopback names plus the host of
            ``settings.public_url``. ``["*"]`` accepts any (when serving on a LAN address).
        instructor_token: opens the Insights page (default: the setting, else a random one nobody knows).
            opening ``/?instructor=<token>`` makes that browser an instructor (it may
            add course PDFs); the same token.
        lex: Lex mode (:class:`bot.channels.web.lexmode.LexChat`): typed turns go to the Lex bot alias
            instead of the router, and speech goes to Lex too.
        voice: what answers ``POST /api/voice`` (``voice(conversation, pcm) -> VoiceAnswer``): the Lex
            chat in Lex mode; in local mode an offline recognizer when one is configured (none is
            bundled, so the page shows no push-to-talk button).

    Returns:
        A FastAPI app; run it with uvicorn.
    """
    if services is None:
        from bot import services as services_module

        services = router.services if router is not None else services_module.default()
    if router is None:
        from bot.router import Router

        router = Router(services)
    if voice is None and lex is not None and getattr(lex, "speech", False):
        voice = lex
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
    ingesting: dict[str, dict[str, Any]] = {}  # conversation -> the latest progress of the PDF it is adding

    def lock_for(conversation: str) -> asyncio.Lock:
        """One turn at a time per conversation: its state is read, then written (Lex: one turn per session)."""
        lock = locks.get(conversation)
        if lock is None:
            lock = locks[conversation] = asyncio.Lock()
        return lock

    secret = keys.secret(settings)
    voice_cap = getattr(voice, "max_speech_bytes", None) or MAX_PCM_BYTES
    app.add_middleware(BodyLimit, limit=limit + _MULTIPART_OVERHEAD, message=too_large(limit),
                       paths={"/api/voice": (voice_cap, *too_long_speech(voice_cap)[1:])},
                       timeout=settings.web_body_timeout_seconds)
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
        # the page gets its conversation cookie at once, so progress can be asked for during its first upload
        return _with_cookie(FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                                         headers={"Cache-Control": "no-cache"}), *_session(request, secret))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", response_model=Health, summary="Liveness check")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "backend": settings.backend, "intents": sorted(router.intents),
                "max_upload_bytes": limit}

    @app.get("/api/config", response_model=ConfigOut, summary="What the page may offer on this server")
    async def config() -> Response:
        return JSONResponse(config_out(lex, voice, limit), headers={"Cache-Control": "no-store"})

    @app.post("/api/turn", summary="Send one message (and optionally a file); get the bot's Reply",
              responses={200: {"model": ReplyOut}, 413: {"model": ReplyOut, "description": "upload too large"},
                         415: {"model": ReplyOut, "description": "upload type not supported"},
                         403: {"model": ReplyOut, "description": "cross-origin request"}})
    async def turn(request: Request, text: str = Form(""), file: UploadFile | None = File(None),
                   course: str = Form("")) -> Response:
        session, new_session, conversation = _conversation(request, secret)
        role = INSTRUCTOR if instructor_mark and is_instructor_token(request.cookies.get(INSTRUCTOR_COOKIE),
                                                                     instructor_mark) else STUDENT
        lock = lock_for(conversation)
        if lex is not None:  # Lex mode: the bot alias answers; it carries no files
            if file is not None and (file.filename or file.size):
                await file.close()
                return _with_cookie(_error_reply(415, "Files can't be sent to the bot from this page; ask in "
                                                 "words instead.", "unsupported_attachment", conversation),
                                    session, new_session)
            async with lock:  # Lex refuses two turns of one session at once (ConflictException)
                reply = await run_in_threadpool(lex.text, conversation, text)
            return _with_cookie(JSONResponse(lex_web(reply, services, base_url)), session, new_session)
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
            attachments = (await run_in_threadpool(_store_upload, services, conversation, name, mime, data),)
        turn_ = to_turn(conversation, text, attachments, role=role, course=course)
        handle = router.handle
        if any(a.kind == "pdf" for a in attachments):
            handle = _watched(router.handle, ingesting, conversation)
        async with lock:  # one turn at a time per conversation: its state is read, then written
            reply = await run_in_threadpool(handle, turn_)
        data_out = await run_in_threadpool(to_web, reply, services, base_url)
        return _with_cookie(JSONResponse(data_out), session, new_session)

    @app.post("/api/voice", summary="Send one spoken message (16 kHz 16-bit mono PCM); get the transcript, "
              "the Reply and the spoken answer",
              responses={200: {"model": VoiceOut}, 413: {"model": ReplyOut, "description": "recording too long"},
                         415: {"model": ReplyOut, "description": "not audio/l16; rate=16000; channels=1"},
                         404: {"model": ReplyOut, "description": "this server takes no speech"},
                         403: {"model": ReplyOut, "description": "cross-origin request"}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  PCM_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
    async def speak(request: Request) -> Response:
        session, new_session, conversation = _conversation(request, secret)
        if voice is None:
            return _with_cookie(_error_reply(404, "Speaking to the bot isn't set up on this server; type your "
                                             "question instead.", "not_available", conversation), session, new_session)
        problem = pcm_problem(request.headers.get("content-type"), request.headers.get("content-length"), voice_cap)
        if problem is None:
            pcm, problem = await _read_capped(request, voice_cap)
        if problem is not None:
            status, text_, code = problem
            return _with_cookie(_error_reply(status, text_, code, conversation), session, new_session)
        lock = lock_for(conversation)
        async with lock:
            answer = await run_in_threadpool(voice.voice, conversation, pcm)
        body = voice_web(answer, services, base_url, lex is not None)
        return _with_cookie(JSONResponse(body), session, new_session)

    @app.get("/api/progress", response_model=ProgressOut,
             summary="How far the PDF this browser is adding has got (poll while POST /api/turn runs)")
    async def progress(request: Request) -> Response:
        session = keys.web_session(request.cookies.get(COOKIE), secret)  # only a session this server issued
        event = ingesting.get(keys.web(session, secret)) if session is not None else None
        body = {"active": event is not None, **(event or {})}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/api/feedback", status_code=204, summary="Rate one of the answers given in this browser's conversation",
              responses={204: {"description": "recorded (the last rating of an answer counts)"},
                         400: {"model": ReplyOut, "description": "not a rating"},
                         404: {"model": ReplyOut, "description": "no such answer in this conversation"},
                         403: {"model": ReplyOut, "description": "cross-origin request"}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": FeedbackIn.model_json_schema()}}}})
    async def feedback(request: Request) -> Response:
        session, new_session, conversation = _conversation(request, secret)
        body = await _feedback_body(request)
        if isinstance(body, str):
            return _with_cookie(_error_reply(400, body, "bad_feedback", conversation), session, new_session)
        try:
            await run_in_threadpool(rate, services, conversation, body.get("answer_id"), body.get("rating"),
                                    body.get("comment"))
        except FeedbackError as e:
            status = 404 if e.code == "unknown_answer" else 400
            return _with_cookie(_error_reply(status, e.user_message, e.code, conversation), session, new_session)
        except CoursebotError as e:
            return _with_cookie(_error_reply(503, e.user_message, e.code, conversation), session, new_session)
        return _with_cookie(Response(status_code=204), session, new_session)

    @app.post("/api/new", summary="Start a new conversation in this browser", status_code=204)
    async def new_conversation() -> Response:
        return _with_cookie(Response(status_code=204), keys.new_web_session(secret), True)

    add_file_routes(app, services, base_url)
    add_insight_routes(app, services, base_url, secret,
                       instructor_token if instructor_token is not None else access.instructor_token(settings)[0])

    return app


async def _read_capped(request: Request, limit: int) -> tuple[bytes, tuple[int, str, str] | None]:
    """The request body, or a 413 problem as soon as it passes ``limit`` bytes (nothing more is read)."""
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            return b"", too_long_speech(limit)
        chunks.append(chunk)
    return b"".join(chunks), None


def _watched(handle: Any, ingesting: dict[str, dict[str, Any]], conversation: str) -> Any:
    """``handle`` with the ingest progress of its turn kept in ``ingesting[conversation]`` while it runs."""
    fields = set(ProgressOut.model_fields) - {"active"}

    def listener(event: Any) -> None:
        ingesting[conversation] = {k: v for k, v in event.to_dict().items() if k in fields}

    def run(turn: Any) -> Any:
        try:
            with watching(listener):
                return handle(turn)
        finally:
            ingesting.pop(conversation, None)

    return run


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


def _conversation(request: Request, secret: bytes) -> tuple[str, bool, str]:
    """(session id, whether it is new, its conversation): every route that acts for this browser uses this."""
    session, new = _session(request, secret)
    return session, new, keys.web(session, secret)


async def _feedback_body(request: Request) -> dict[str, Any] | str:
    """The JSON object of a feedback request, or the sentence saying what is wrong with it."""
    usage = 'Send JSON like {"answer_id": "<from the reply>", "rating": "up" or "down", "comment": "optional"}.'
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return "I couldn't read that feedback: " + usage
    raw = await request.body()
    if len(raw) > MAX_FEEDBACK_BYTES:
        return f"That feedback is too long ({len(raw)} bytes). " + usage
    try:
        body = json.loads(raw)
    except ValueError:
        return "I couldn't read that feedback (it is not JSON). " + usage
    if not isinstance(body, dict):
        return "I couldn't read that feedback. " + usage
    return body


def _session(request: Request, secret: bytes) -> tuple[str, bool]:
    """The browser's session id when this server issued it, else a new one (to set as the cookie)."""
    value = keys.web_session(request.cookies.get(COOKIE), secret)
    if value is not None:
        return value, False
    return keys.new_web_session(secret), True


def _with_cookie(response: Response, session: str, new: bool) -> Response:
    if new:
        response.set_cookie(COOKIE, session, max_age=30 * 86400, httponly=True, samesite="strict", path="/")
    return response


def _store_upload(services: Any, conversation: str, name: str, mime: str, data: bytes) -> Attachment:
    """Keep the upload in the blob store (a later turn may ask about "that photo" again)."""
    key = f"{keys.blob_folder(keys.UPLOADS, conversation)}{uuid.uuid4().hex}{UPLOAD_TYPES[mime]}"
    try:
        stored = services.blobs.put(key, data, mime)
    except CoursebotError:
        log.warning("blob store unavailable; the upload is used for this turn only", exc_info=True)
        return Attachment(name=name, mime=mime, data=data, size=len(data))
    return Attachment(name=name, mime=mime, data=data, path=stored.path, url=stored.url, size=len(data))
