"""Limits on a PDF sent in a chat, checked before paying for the work: pages, decompressed page
content, extracted text, CPU time.

The PDF is read in a child process (``python -m kb.pdf_limits``) with an OS CPU-time limit
(RLIMIT_CPU) and a wall-clock timeout, so a hostile file (100k pages, a zip bomb in a content
stream, a parser loop) costs at most the budget and never pins the server. The page count comes
from the page tree before any text is extracted; content streams are inflated with a bounded
decompressor, stopping as soon as the total passes the limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from typing import Any

from kb.pdf import Extracted, Page, PdfProblem

_CHUNK = 1 << 20


@dataclass(frozen=True)
class PdfLimits:
    max_pages: int = 300
    max_text_bytes: int = 5_000_000
    max_stream_bytes: int = 40_000_000
    cpu_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Any) -> "PdfLimits":
        return cls(settings.max_pdf_pages, settings.max_pdf_text_bytes, settings.max_pdf_stream_bytes,
                   settings.pdf_cpu_seconds)


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 10e6 else f"{n / 1e6:.1f} MB"


def too_many_pages(name: str, pages: int, limit: int) -> PdfProblem:
    return PdfProblem(f"'{name}' has {pages:,} pages; the most I read from a chat is {limit:,} pages. "
                      "Please send the chapters you need as a smaller PDF.", code="pdf_too_many_pages")


def _too_much_text(name: str, limit: int) -> PdfProblem:
    return PdfProblem(f"'{name}' holds more than {_mb(limit)} of text, more than I read from one chat upload. "
                      "Please send the part you need as a smaller PDF.", code="pdf_too_much_text")


def _inflated_size(stream: Any, budget: int) -> int:
    """The decompressed size of one stream, counted up to ``budget`` + 1 without holding it in memory."""
    filters = stream.get("/Filter")
    names = [str(f) for f in (filters if isinstance(filters, list) else [filters] if filters else [])]
    raw = getattr(stream, "_data", b"") or b""
    if not names:
        return len(raw)
    if names[0] not in ("/FlateDecode", "/Fl"):
        return len(raw) * 10  # other filters: a conservative guess (text streams are Flate in practice)
    d = zlib.decompressobj()
    total = 0
    data = raw
    try:
        while data and total <= budget:
            out = d.decompress(data, _CHUNK)
            total += len(out)
            data = d.unconsumed_tail
    except zlib.error:
        pass  # pypdf recovers what it can from a damaged stream; count what inflated
    return total


def precheck(data: bytes, name: str, limits: PdfLimits) -> int:
    """The page count, after checking pages and the decompressed size of the page content.

    Raises:
        PdfProblem: over a limit, or not a readable PDF.
    """
    from pypdf import PdfReader

    if not data.lstrip()[:1024].count(b"%PDF-"):
        raise PdfProblem(f"'{name}' is not a PDF file.", code="not_pdf")
    try:
        import io

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return 0  # extract_document says so in its own words
        root_pages = reader.trailer["/Root"]["/Pages"]
        declared = int(root_pages.get("/Count", 0) or 0)
        if declared > limits.max_pages:
            raise too_many_pages(name, declared, limits.max_pages)
        pages = len(reader.pages)
        if pages > limits.max_pages:
            raise too_many_pages(name, pages, limits.max_pages)
        total = 0
        sizes: dict[int, int] = {}  # a stream shared by many pages is inflated once, counted on each page
        for page in reader.pages:
            contents = page.get("/Contents")
            if contents is None:
                continue
            resolved = contents.get_object() if hasattr(contents, "get_object") else contents
            refs = list(resolved) if isinstance(resolved, list) else [contents]
            for ref in refs:
                key = getattr(ref, "idnum", None) or id(ref)
                if key not in sizes:
                    obj = ref.get_object() if hasattr(ref, "get_object") else ref
                    sizes[key] = _inflated_size(obj, limits.max_stream_bytes - total)
                total += sizes[key]
                if total > limits.max_stream_bytes:
                    raise _too_much_text(name, limits.max_text_bytes)
    except PdfProblem:
        raise
    except Exception as e:
        raise PdfProblem(f"'{name}' looks damaged (it is not a readable PDF file), so I skipped it.",
                         code="corrupt_pdf") from e
    return pages


def _child(limits: PdfLimits, name: str) -> None:
    """The child process: read the PDF from stdin, print the extracted document (or the problem) as JSON."""
    from kb.pdf import extract_document

    data = sys.stdin.buffer.read()
    try:
        precheck(data, name, limits)
        doc = extract_document(data, name)
        size = sum(len(p.text.encode("utf-8")) for p in doc.pages)
        if size > limits.max_text_bytes:
            raise _too_much_text(name, limits.max_text_bytes)
        out = {"pages": [[p.number, p.text, p.ocr] for p in doc.pages], "total": doc.total_pages,
               "unread": list(doc.unread_scanned)}
    except PdfProblem as e:
        out = {"problem": e.user_message, "code": e.code}
    sys.stdout.write(json.dumps(out))


def _limit_cpu(seconds: float) -> Any:
    def apply() -> None:
        try:
            import resource

            s = max(1, int(seconds + 0.999))
            resource.setrlimit(resource.RLIMIT_CPU, (s, s + 1))
        except (ImportError, ValueError, OSError):
            pass
    return apply


def extract_limited(data: bytes, name: str, limits: PdfLimits) -> Extracted:
    """The PDF's text, read in a child process within ``limits``.

    Raises:
        PdfProblem: over a limit, out of CPU time, or an unreadable PDF; the message says which.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    args = [sys.executable, "-m", "kb.pdf_limits", name, json.dumps(limits.__dict__)]
    budget = max(1, round(limits.cpu_seconds))
    slow = PdfProblem(f"Reading '{name}' took longer than the {budget} second{'s' if budget != 1 else ''} I allow for "
                      "one PDF. Please send a smaller PDF.", code="pdf_too_slow")
    try:
        proc = subprocess.run(args, input=data, capture_output=True, env=env,
                              timeout=limits.cpu_seconds * 2 + 10, preexec_fn=_limit_cpu(limits.cpu_seconds)
                              if os.name == "posix" else None)
    except subprocess.TimeoutExpired:
        raise slow from None
    if proc.returncode != 0:
        if proc.returncode in (-9, -24, 137, 152):  # SIGKILL / SIGXCPU: the CPU budget ran out
            raise slow
        raise PdfProblem(f"'{name}' looks damaged (it is not a readable PDF file), so I skipped it.",
                         code="corrupt_pdf")
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise PdfProblem(f"'{name}' looks damaged (it is not a readable PDF file), so I skipped it.",
                         code="corrupt_pdf") from None
    if "problem" in out:
        raise PdfProblem(out["problem"], code=out.get("code") or "bad_pdf")
    return Extracted([Page(n, t, bool(o)) for n, t, o in out["pages"]], int(out["total"]), tuple(out["unread"]))


if __name__ == "__main__":
    _child(PdfLimits(**json.loads(sys.argv[2])), sys.argv[1])
