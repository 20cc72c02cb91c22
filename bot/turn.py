"""The channel-neutral conversation model: what a user said (Turn) and what the bot answers (Reply)."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

InputMode = Literal["text", "speech"]
DialogState = Literal["fulfilled", "elicit", "failed"]


@dataclass(frozen=True)
class Attachment:
    """A file that came with a turn: a photo, a PDF, a text file.

    Exactly one of ``data`` and ``path`` is normally set; ``mime`` is sniffed from the bytes by
    :func:`bot.files.sniff` when a channel builds the attachment, never trusted from the name.
    """

    name: str
    mime: str = "application/octet-stream"
    data: bytes | None = field(default=None, repr=False)
    path: str | None = None
    url: str | None = None
    size: int | None = None

    @property
    def kind(self) -> str:
        """``image``, ``pdf``, ``text`` or ``other``, from the sniffed mime type."""
        if self.mime.startswith("image/"):
            return "image"
        if self.mime == "application/pdf":
            return "pdf"
        if self.mime in ("text/plain", "text/markdown", "text/csv"):
            return "text"
        return "other"

    def read(self, limit: int | None = None) -> bytes:
        """The attachment's bytes, refusing to read more than ``limit`` bytes.

        Raises:
            bot.errors.InputError: when the file is missing, unreadable or larger than ``limit``.
        """
        from bot.errors import InputError

        if self.data is not None:
            if limit is not None and len(self.data) > limit:
                raise InputError(_too_big(self.name, len(self.data), limit), code="attachment_too_large")
            return self.data
        if self.path is None:
            raise InputError(f"I couldn't read '{self.name}': the file has no content.", code="attachment_unreadable")
        try:
            p = Path(self.path)
            size = p.stat().st_size
            if limit is not None and size > limit:
                raise InputError(_too_big(self.name, size, limit), code="attachment_too_large")
            return p.read_bytes()
        except OSError as e:
            raise InputError(f"I couldn't read '{self.name}'.", code="attachment_unreadable") from e


def _too_big(name: str, size: int, limit: int) -> str:
    return f"'{name}' is {size / 1e6:.1f} MB; the most I accept is {limit / 1e6:.0f} MB."


@dataclass(frozen=True)
class Turn:
    """One user message, from any channel.

    Attributes:
        conversation: key of the conversation; state (last answer, KB session, pending slot) lives
            under it. Slack: team+channel+thread; Lex: its session id; CLI/web: a session id.
        text: what the user typed or said (may be empty when only a file was sent).
        intent / slots / confidence: set when the channel did its own NLU (Lex); otherwise the
            router recognizes the intent locally.
    """

    conversation: str
    text: str = ""
    user: str = "anonymous"
    channel: str = "cli"
    attachments: tuple[Attachment, ...] = ()
    input_mode: InputMode = "text"
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None
    role: str = "student"  # "instructor" may change the course (bot.roles); channels decide
    course: str | None = None  # the course the channel chose; None: the conversation's remembered choice
    upload_to: str | None = None  # an instructor's attached PDFs: "course" or "private"; None: ask

    def with_(self, **changes: Any) -> "Turn":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Citation:
    """Where an answer came from: a PDF and a 1-based page, optionally a link and the quoted text."""

    source: str
    page: int | None = None
    url: str | None = None
    quote: str | None = None  # the sentence(s) that answer (highlighted), or a section heading
    passage: str | None = None  # the passage shown around the quote, plain text

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"source": self.source, "page": self.page}
        if self.url:
            d["url"] = self.url
        if self.quote:
            d["quote"] = self.quote
        if self.passage:
            d["passage"] = self.passage
        return d


@dataclass(frozen=True)
class Media:
    """Something the reply carries besides text: audio, an image, a document link."""

    kind: Literal["audio", "image", "file"]
    mime: str
    url: str | None = None
    path: str | None = None
    title: str | None = None
    expires_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Reply:
    """What the bot answers, in one channel-neutral form that every channel renders.

    The JSON form (:meth:`to_dict`) is a public contract: fields may be added, never renamed.
    """

    text: str
    intent: str = "Fallback"
    confidence: float = 0.0
    ssml: str | None = None
    citations: tuple[Citation, ...] = ()
    attachments: tuple[Media, ...] = ()
    suggestions: tuple[str, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)
    state: DialogState = "fulfilled"
    elicit_slot: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    conversation: str | None = None
    # stable id of this answer (kept by with_); feedback names it, never a client-chosen key
    answer_id: str = field(default_factory=lambda: new_answer_id())

    def with_(self, **changes: Any) -> "Reply":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(float(self.confidence), 4),
            "text": self.text,
            "ssml": self.ssml,
            "citations": [c.to_dict() for c in self.citations],
            "attachments": [m.to_dict() for m in self.attachments],
            "suggestions": list(self.suggestions),
            "slots": {k: v for k, v in self.slots.items() if _jsonable(v)},
            "state": self.state,
            "elicit_slot": self.elicit_slot,
            "error": self.error,
            "details": self.details,
            "conversation": self.conversation,
            "answer_id": self.answer_id,
        }


ANSWER_ID_CHARS = 22  # token_urlsafe(16): 128 random bits


def new_answer_id() -> str:
    """A fresh, unguessable answer id (URL-safe base64, 22 characters)."""
    return secrets.token_urlsafe(16)


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, list, dict))
