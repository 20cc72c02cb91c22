"""File type detection from the bytes (never the name) and Attachment construction for channels."""

from __future__ import annotations

import re
from pathlib import Path

from bot.turn import Attachment

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"\x7fELF", "application/x-executable"),
)


# What a file is, by the type sniffed from its bytes, in the words a user reads (one table for every
# channel and intent that refuses a file).
DESCRIPTIONS: dict[str, str] = {
    "image/jpeg": "a JPEG photo", "image/png": "a PNG image", "image/gif": "a GIF image",
    "image/webp": "a WebP image", "image/bmp": "a BMP image", "image/tiff": "a TIFF image",
    "image/heic": "a HEIC photo", "application/pdf": "a PDF document", "text/plain": "a text file",
    "text/html": "a web page (HTML)", "text/xml": "an XML/SVG file", "application/zip": "a ZIP archive",
    "application/gzip": "a compressed archive", "application/x-executable": "a program",
    "video/mp4": "a video", "audio/mpeg": "an audio file", "audio/ogg": "an audio file",
    "audio/wav": "an audio file", "application/x-empty": "an empty file",
}
UNKNOWN = "a file type I don't know"
# Uploads a channel may store and hand to the router, with the extension they are stored under.
# BMP and TIFF are converted to JPEG before any engine sees them (bot/images.py).
UPLOAD_EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/bmp": ".bmp", "image/tiff": ".tif", "application/pdf": ".pdf", "text/plain": ".txt",
}
ACCEPTED = "photos (JPEG, PNG, GIF, WebP, BMP, TIFF), PDF files and plain-text files"


def describe(mime: str, default: str = UNKNOWN) -> str:
    """What a file of type ``mime`` is ("a ZIP archive"), else ``default``."""
    return DESCRIPTIONS.get(mime, default)


def unsupported(name: str, mime: str) -> str:
    """The sentence for a file of a type the bot cannot use (empty, 8-bit text, an archive, ...)."""
    if mime == "application/x-empty":
        return f"'{name}' is empty (0 bytes), so there is nothing for me to read. Please send the file again."
    if mime == LEGACY_TEXT:
        return not_utf8(name)
    return (f"I can't use '{name}': it looks like {describe(mime)}, whatever its name says. "
            f"I understand {ACCEPTED}.")


# Text in an 8-bit encoding (Latin-1, Windows-1252, ...): refused, but with a sentence that says how to fix it.
LEGACY_TEXT = "text/x-not-utf8"


def not_utf8(name: str) -> str:
    """What to tell the user about a LEGACY_TEXT file."""
    return (f"'{name}' is text, but not in UTF-8 (it looks like Latin-1 or Windows-1252), so I can't read it "
            "reliably. Save it as UTF-8 and send it again.")


def _legacy_text(sample: bytes) -> bool:
    """Mostly printable single-byte text: no control bytes but tab/CR/LF/FF, and at least 75% ASCII."""
    if any(b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D) for b in sample) or 0x7F in sample:
        return False
    return sum(b < 0x80 for b in sample) >= 0.75 * len(sample)


def sniff(head: bytes) -> str:
    """The mime type of a file from its first bytes (at least 16 are useful).

    Text is recognized when the head decodes as UTF-8 (or UTF-16 with a BOM) and has no NUL bytes;
    HTML/XML/SVG saved under any name is ``text/html`` / ``text/xml`` (never an image).
    """
    if not head:
        return "application/x-empty"
    for sig, mime in _SIGNATURES:
        if head.startswith(sig):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "image/heic"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    # PDFs may have junk before the header (up to 1024 bytes is allowed by readers)
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text/plain"
    sample = head[:4096]
    if b"\x00" in sample:
        return "application/octet-stream"
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 4:  # not just a character cut at the end of the sample
            return LEGACY_TEXT if _legacy_text(sample) else "application/octet-stream"
        text = sample[:e.start].decode("utf-8", "ignore")
    low = text.lstrip("\ufeff \t\r\n").lower()
    if low.startswith(("<!doctype html", "<html", "<head", "<body", "<script")):
        return "text/html"
    if low.startswith("<?xml") or low.startswith("<svg"):
        return "text/xml"
    return "text/plain"


def attachment_from_path(path: str | Path) -> Attachment:
    """An Attachment for a local file, its type sniffed from the bytes.

    Raises:
        FileNotFoundError: the path does not exist (a CLI usage error, not a user-reply).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(str(path))
    with p.open("rb") as f:
        head = f.read(4096)
    return Attachment(name=p.name, mime=sniff(head), path=str(p.resolve()), size=p.stat().st_size)


def attachment_from_bytes(name: str, data: bytes) -> Attachment:
    return Attachment(name=Path(name).name or "upload", mime=sniff(data[:4096]), data=data, size=len(data))


# A PDF named by its S3 link (Lex carries no files: a PDF uploaded to S3 comes as its link in the
# message; bucket names are 3-63 characters). The bytes are checked as a PDF when read, never the name.
PDF_LINK = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\s\"'<>]{1,900}?\.pdf(?=$|[\s\"'<>),;!?]|[.:](?!\S))", re.I)
