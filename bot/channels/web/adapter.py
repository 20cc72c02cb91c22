"""Web chat adapter, pure: form fields -> Turn, upload checks, Reply -> the Reply JSON the page
reads (links relative to this server, no server paths). The routes are in ``app``."""

from __future__ import annotations

import logging
import mimetypes
import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bot.aws.lex_runtime import PCM_RATE  # noqa: F401 - stdlib only; the one definition of the format
from bot.errors import CoursebotError
from bot.files import UPLOAD_EXTENSIONS, sniff, unsupported
from bot.turn import Attachment, Reply, Turn

log = logging.getLogger(__name__)

# Uploads the bot can use, by the type sniffed from the bytes (never the name or the browser's type).
UPLOAD_TYPES = UPLOAD_EXTENSIONS
# POST /api/voice takes raw 16 kHz, 16-bit, mono, little-endian PCM (what Lex RecognizeUtterance takes)
PCM_TYPE = "audio/l16"


# --- OpenAPI models of the Reply JSON contract (bot.turn.Reply.to_dict) ----------------------------
class CitationOut(BaseModel):
    source: str = Field(description="the PDF the answer came from")
    page: int | None = Field(None, description="1-based page")
    url: str | None = Field(None, description="link that opens the PDF at that page")
    quote: str | None = Field(None, description="the sentence(s) that answer, to highlight in the passage")
    passage: str | None = Field(None, description="the passage of the PDF the answer shows, plain text")


class ProgressOut(BaseModel):
    """GET /api/progress: the PDF this browser is adding, while its turn runs."""

    active: bool
    text: str | None = None  # e.g. "reading page 12 of 52…"
    source: str | None = None
    stage: str | None = None  # reading | indexing | uploading | syncing | done
    page: int | None = None
    pages: int | None = None
    file: int | None = None
    files: int | None = None
    status: str | None = None


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
    answer_id: str = Field(description="this answer's id, for POST /api/feedback")


class FeedbackIn(BaseModel):
    """POST /api/feedback: a rating of one answer of this browser's conversation (the last rating counts)."""

    answer_id: str = Field(description="the answer_id of the reply being rated")
    rating: str = Field(description='"up" or "down"', pattern="^(up|down)$")
    comment: str | None = Field(None, description="what was wrong (optional, one line)", max_length=500)


class ConfigOut(BaseModel):
    """GET /api/config: what the page may offer here."""

    mode: str = Field(description="local (the router on this server) or lex (a Lex V2 bot alias)")
    speech: bool = Field(description="whether POST /api/voice takes speech (shows the push-to-talk button)")
    uploads: bool = Field(description="whether files can be attached")
    speech_sample_rate: int = Field(PCM_RATE, description="PCM sample rate POST /api/voice takes")
    max_speech_seconds: float | None = None
    max_speech_bytes: int | None = None
    max_upload_bytes: int


class AudioOut(BaseModel):
    mime: str
    data: str = Field(description="the audio, base64")


class VoiceOut(ReplyOut):
    """POST /api/voice: the Reply JSON plus what was heard and the spoken answer."""

    transcript: str = Field(description="what the recognizer heard (empty: nothing)")
    audio: AudioOut | None = Field(None, description="the spoken answer (Lex: Polly's voice, MP3)")


class Health(BaseModel):
    status: str
    backend: str
    intents: list[str]
    max_upload_bytes: int



# --- request -> Turn ---------------------------------------------------------------------------------
def to_turn(conversation: str, text: str, attachments: tuple[Attachment, ...] = (), *, role: str = "student",
            course: str | None = None) -> Turn:
    """The Turn for one ``POST /api/turn`` in ``conversation``; ``role`` and ``course`` as the app checked
    them (instructor cookie, ``?course=``)."""
    return Turn(conversation=conversation, text=text, user=f"web:{conversation[4:12]}", channel="web",
                attachments=attachments, role=role, course=course)


def conversation_key(session: str, secret: bytes) -> str:
    """The conversation of a browser's signed session id: opaque, and not the credential (bot.keys)."""
    from bot import keys

    return keys.web(session, secret)


def upload_name(filename: str | None) -> str:
    """The name to show for an upload: its last path part, at most 200 characters."""
    return Path(filename or "upload").name[:200] or "upload"


def check_upload(name: str, data: bytes, limit: int, conversation: str | None = None) -> tuple[str, tuple[int, Reply] | None]:
    """``(mime, None)`` for an upload the bot can use, else ``(mime, (status, failed Reply))``:
    413 larger than ``limit`` bytes, 415 a type the bot cannot use (sniffed from the bytes)."""
    if len(data) > limit:
        return "", (413, error_reply(f"'{name}' is larger than {_mb(limit)}, the most I accept. "
                                     "Try a smaller photo, or split the PDF.", "attachment_too_large", conversation))
    mime = sniff(data[:4096])
    if mime not in UPLOAD_TYPES:
        return mime, (415, error_reply(unsupported(name, mime), "unsupported_attachment", conversation))
    return mime, None


def error_reply(text: str, code: str, conversation: str | None = None) -> Reply:
    """The failed Reply of a request the router never saw (too large, wrong type, cross-origin, ...)."""
    return Reply(text=text, intent="Fallback", state="failed", error=code, conversation=conversation)


def too_large(limit: int) -> str:
    return f"That upload is too large: the most I accept is {_mb(limit)}. Try a smaller photo, or split the PDF."


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 10e6 else f"{n / 1e6:.0f} MB"


# --- voice ---------------------------------------------------------------------------------------------
def too_long_speech(limit: int) -> tuple[int, str, str]:
    seconds = limit / (PCM_RATE * 2)
    return 413, f"That recording is too long: keep it under {seconds:g} seconds.", "speech_too_long"


def pcm_problem(content_type: str | None, content_length: str | None, limit: int) -> tuple[int, str, str] | None:
    """``None`` when a POST /api/voice may be read, else ``(status, sentence, code)``: 415 for anything
    but ``audio/l16; rate=16000`` (mono), 413 for a declared length over ``limit`` bytes."""
    kind, *params = [p.strip().lower() for p in (content_type or "").split(";")]
    options = dict(p.partition("=")[::2] for p in params if "=" in p)
    if kind != PCM_TYPE or options.get("rate") != str(PCM_RATE) or options.get("channels", "1") != "1":
        return 415, ("Send the recording as 16 kHz 16-bit mono PCM "
                     f"(Content-Type: {PCM_TYPE}; rate={PCM_RATE}; channels=1)."), "unsupported_audio"
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        return too_long_speech(limit)
    return None


def config_out(lex: Any, voice: Any, max_upload_bytes: int) -> dict[str, Any]:
    """GET /api/config for this app: Lex mode or local, whether speech and uploads are offered."""
    return ConfigOut(mode="lex" if lex is not None else "local", speech=voice is not None,
                     uploads=lex is None or bool(getattr(lex, "uploads", False)),
                     max_speech_seconds=getattr(voice, "max_speech_seconds", None),
                     max_speech_bytes=getattr(voice, "max_speech_bytes", None),
                     max_upload_bytes=max_upload_bytes).model_dump()


def lex_web(reply: Reply, services: Any, base_url: str) -> dict[str, Any]:
    """The Reply JSON of a Lex answer: answers are rated in Lex's own way (the "helpful" buttons), so
    there is no local answer id to rate."""
    data = to_web(reply, services, base_url)
    data["answer_id"] = ""
    return data


def voice_web(answer: Any, services: Any, base_url: str, from_lex: bool) -> dict[str, Any]:
    """The POST /api/voice JSON: the Reply JSON plus ``transcript`` and ``audio`` (base64) when there is one."""
    import base64

    data = lex_web(answer.reply, services, base_url) if from_lex else to_web(answer.reply, services, base_url)
    data["transcript"] = answer.transcript or ""
    data["audio"] = ({"mime": answer.audio_mime or "audio/mpeg", "data": base64.b64encode(answer.audio).decode()}
                     if answer.audio else None)
    return data


# --- Reply -> JSON -------------------------------------------------------------------------------------
def to_web(reply: Reply, services: Any, base_url: str) -> dict[str, Any]:
    """The Reply JSON with links made relative to this server, and local media files published
    through signed links (a handler may return a Media with only a ``path``)."""
    data = reply.to_dict()
    for media in data["attachments"]:
        if not media.get("url") and media.get("path"):
            media["url"] = _publish(media["path"], media.get("mime", ""), services)
        media.pop("path", None)  # server paths are not the browser's business
        if media.get("url"):
            media["url"] = relative_url(media["url"], base_url)
    for citation in data["citations"]:
        if citation.get("url"):
            citation["url"] = relative_url(citation["url"], base_url)
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


def relative_url(url: str, base_url: str) -> str:
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

