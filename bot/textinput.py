"""Text out of what the user sent: a message, an attached .txt/.md, or a PDF — size-checked and cleaned."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from bot import textutil
from bot.errors import InputError, missing_extra
from bot.turn import Attachment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputText:
    """Cleaned text cut to the limit; ``total_chars`` is the length before the cut (approximate for PDFs)."""

    text: str
    total_chars: int
    truncated: bool
    source: str  # "message" | "attachment '<name>'" | "previous answer"


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused with a clear sentence."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise InputError(f"'{name}' says it is UTF-16 text but it is damaged, so I can't read it.",
                             code="bad_encoding") from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"'{name}' is not UTF-8 text (the byte at position {e.start} is not valid UTF-8), "
                         "so I can't read it. Save it as UTF-8 and send it again.", code="bad_encoding") from e


def pdf_text(data: bytes, name: str, max_chars: int) -> tuple[str, int, bool]:
    """(text, pages read, stopped early) of a PDF, reading pages only until ``max_chars`` is reached."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as e:
        raise missing_extra("text", "pypdf", "Reading PDF files") from e
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise InputError(f"'{name}' is password-protected, so I can't read it.", code="pdf_encrypted")
        parts: list[str] = []
        size = 0
        pages = len(reader.pages)
        for i, page in enumerate(reader.pages):
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size > max_chars:
                return _paragraphs(parts), i + 1, i + 1 < pages
        return _paragraphs(parts), pages, False
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        log.info("unreadable PDF %s: %s", name, e)
        raise InputError(f"'{name}' looks like a PDF but it is damaged, so I can't read it.", code="pdf_corrupt") from e


def _paragraphs(pages: list[str]) -> str:
    """Page texts as paragraphs: hard-wrapped lines joined, hyphenation fixed, running headers, footers
    and page numbers dropped (the course index's cleanup), and each remaining line break (a heading,
    a list item, the end of a paragraph) made a paragraph break, so a heading is never glued to the
    sentence under it."""
    from kb.pdf import clean_pages

    return "\n\n".join("\n\n".join(ln for ln in page.split("\n") if ln.strip()) for page in clean_pages(pages))


def from_attachment(att: Attachment, *, max_bytes: int, max_chars: int) -> InputText:
    """The text of a .txt/.md/.pdf attachment, cleaned and cut to ``max_chars``."""
    data = att.read(max_bytes)
    stopped_early = False
    if att.kind == "pdf":
        raw, pages, stopped_early = pdf_text(data, att.name, max_chars)
        if not raw.strip():
            raise InputError(f"'{att.name}' has no text I can extract (it may be a scanned image).",
                             code="pdf_no_text")
    elif att.kind == "text":
        raw = decode_text(data, att.name)
    else:
        raise InputError(f"I can only read text from .txt, .md and .pdf files, and '{att.name}' is not one.",
                         code="unsupported_attachment")
    return limit(raw, max_chars, f"attachment '{att.name}'", force_truncated=stopped_early)


def limit(raw: str, max_chars: int, source: str, force_truncated: bool = False) -> InputText:
    text = textutil.clean(raw)
    total = len(text)
    text, truncated = textutil.cut(text, max_chars)
    return InputText(text=text, total_chars=total, truncated=truncated or force_truncated, source=source)


def first_text_attachment(attachments: tuple[Attachment, ...], kinds: tuple[str, ...]) -> Attachment | None:
    return next((a for a in attachments if a.kind in kinds), None)


def message_or_attachment(text: object, label: str, attachments: tuple[Attachment, ...], *, max_chars: int,
                          max_bytes: int) -> InputText | None:
    """The text to work on: the message's (``label`` names it in notes), else the first .txt/.md/.pdf
    attachment's; None when there is neither (the caller asks for it in its own words)."""
    if isinstance(text, str) and text.strip():
        return limit(text, max_chars, label)
    att = first_text_attachment(attachments, ("text", "pdf"))
    if att is not None:
        return from_attachment(att, max_bytes=max_bytes, max_chars=max_chars)
    return None
