"""PDF text extraction, page by page, with cleanup: ligatures, hyphenation, repeated headers/footers.

A PDF that cannot be used (corrupt, encrypted, empty, scanned without an OCR engine) raises
:class:`PdfProblem` whose message says why, in a sentence a user can act on.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from bot.errors import InputError, missing_extra

log = logging.getLogger(__name__)
logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on damaged files would reach the terminal

MIN_PAGE_CHARS = 20  # a page with less text than this is treated as having no text layer
# The width (thousandths of an em) taken for a word space in a composite font that has no space glyph:
# TeX engines (xdvipdfmx, LuaTeX) draw word gaps as TJ offsets of about 200-450 there, kerning under 100.
SPACELESS_FONT_SPACE = 250


class PdfProblem(InputError):
    """The PDF cannot be indexed; ``user_message`` says why."""

    code = "bad_pdf"


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    text: str
    ocr: bool = False


@dataclass(frozen=True)
class Extracted:
    pages: list[Page]  # the pages with text
    total_pages: int
    unread_scanned: tuple[int, ...] = ()  # scanned pages skipped because no OCR engine is installed
    outline: tuple[tuple[int, str, int], ...] = ()  # the PDF's bookmarks: (depth, title, 1-based page)
    title: str | None = None  # the document information title, when it has one

    @property
    def note(self) -> str | None:
        if not self.unread_scanned:
            return None
        n = len(self.unread_scanned)
        return (f"{n} scanned page{'s' if n > 1 else ''} (no text layer) could not be read because no OCR engine "
                "is installed (pip install rapidocr onnxruntime).")


def extract(data: bytes, name: str = "the PDF") -> list[Page]:
    """The cleaned text of each page that has text (1-based page numbers kept).

    Raises:
        PdfProblem: corrupt, encrypted, empty or image-only (without OCR) PDFs.
    """
    return extract_document(data, name).pages


def extract_document(data: bytes, name: str = "the PDF",
                     on_page: Callable[[int, int], None] | None = None) -> Extracted:
    """Like :func:`extract`, with the page count and the scanned pages that could not be read.

    ``on_page(done, total)`` is called after each page's text is read (for a progress display).
    """
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as e:  # pragma: no cover - the kb extra is part of the default install
        raise missing_extra("kb", "pypdf", "Reading PDFs") from e
    _spaceless_fonts_keep_word_gaps()

    if not data.lstrip()[:1024].count(b"%PDF-"):
        raise PdfProblem(f"'{name}' is not a PDF file.", code="not_pdf")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")  # many "protected" PDFs only restrict printing/copying
            except Exception:  # pypdf needs `cryptography` for AES; either way we cannot read it
                ok = 0
            if not ok:
                raise PdfProblem(f"'{name}' is password-protected (encrypted), so I can't read it. "
                                 "Please send a copy without a password.", code="encrypted_pdf")
        total = len(reader.pages)
        raw_pages = []
        for page in reader.pages:
            raw_pages.append(_page_text(page))
            if on_page is not None:
                on_page(len(raw_pages), total)
    except PdfProblem:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as e:
        log.info("cannot parse %s: %s", name, e)
        raise PdfProblem(f"'{name}' looks damaged (it is not a readable PDF file), so I skipped it.",
                         code="corrupt_pdf") from e
    except Exception as e:  # pypdf raises a variety of internal errors on malformed files
        log.info("cannot parse %s: %r", name, e)
        raise PdfProblem(f"'{name}' looks damaged (it is not a readable PDF file), so I skipped it.",
                         code="corrupt_pdf") from e

    if not raw_pages:
        raise PdfProblem(f"'{name}' has no pages.", code="empty_pdf")

    texts = [t if len(t.strip()) >= MIN_PAGE_CHARS else "" for t in raw_pages]
    ocr_pages: set[int] = set()
    unread: list[int] = []
    missing = [i for i, t in enumerate(texts) if not t]
    if missing:
        with_images = [i for i in missing if _has_images(reader.pages[i])]
        if with_images:
            ocr = ocr_engine()
            if ocr is not None:
                for i in with_images:
                    texts[i] = _ocr_page(reader.pages[i], ocr)
                    if texts[i].strip():
                        ocr_pages.add(i)
            elif len(with_images) == len(texts):
                raise PdfProblem(
                    f"'{name}' contains only scanned images, no text, and no OCR engine is installed to read them. "
                    "Install one (pip install rapidocr onnxruntime, or apt-get install tesseract-ocr and "
                    "pip install pytesseract), or send a PDF with selectable text.", code="image_only_pdf")
            else:
                log.info("%s: %d scanned page(s) skipped, no OCR engine installed", name, len(with_images))
                unread = [i + 1 for i in with_images]
    pages = clean_pages(texts)
    out = [Page(i + 1, t, i in ocr_pages) for i, t in enumerate(pages) if len(t.strip()) >= MIN_PAGE_CHARS]
    if not out:
        if any(_has_images(p) for p in reader.pages):
            raise PdfProblem(f"'{name}' contains only images and OCR found no readable text in them.",
                             code="image_only_pdf")
        raise PdfProblem(f"'{name}' has no text to index (its pages are empty).", code="empty_pdf")
    return Extracted(out, len(raw_pages), tuple(unread), _outline(reader), _title(reader))


def _spaceless_fonts_keep_word_gaps() -> bool:
    """Make pypdf see word gaps in composite (Type0) fonts that have no space glyph. pypdf then takes the
    width of whichever glyph sits at code 32 for a space (1000 in CharisSIL), so no TJ gap between words
    is wide enough and a whole page comes out as "Thisisstableandwelltested". Such a font's space width
    becomes SPACELESS_FONT_SPACE. False (text extraction unchanged) when this pypdf has no such seam."""
    try:
        from pypdf.generic._font import Font
    except ImportError:
        return False
    original = Font.__dict__.get("from_font_resource")
    if not isinstance(original, classmethod):
        return False
    if getattr(original.__func__, "_coursebot", False):  # already in place
        return True

    def from_font_resource(cls, pdf_font_dict):
        font = original.__func__(cls, pdf_font_dict)
        try:
            spaceless = (getattr(font, "sub_type", "") == "Type0"
                         and " " not in (getattr(font, "character_map", None) or {}).values())
            if spaceless and font.space_width > SPACELESS_FONT_SPACE:
                font.space_width = SPACELESS_FONT_SPACE
        except Exception:  # a font pypdf reads in a way this does not expect keeps pypdf's own width
            pass
        return font

    from_font_resource._coursebot = True  # type: ignore[attr-defined]
    Font.from_font_resource = classmethod(from_font_resource)  # type: ignore[method-assign]
    return True


def _outline(reader) -> tuple[tuple[int, str, int], ...]:
    """The PDF's bookmarks (depth, title, page); empty when it has none or they cannot be read."""
    out: list[tuple[int, str, int]] = []

    def walk(items, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            try:
                title = " ".join(str(item.title).split())
                page = reader.get_destination_page_number(item) + 1
            except Exception:
                continue
            if title and page > 0:
                out.append((depth, title[:200], page))

    try:
        walk(reader.outline, 0)
    except Exception as e:  # a damaged outline must not lose the text
        log.info("outline unreadable: %r", e)
    return tuple(out[:2000])


def _title(reader) -> str | None:
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:
        return None
    title = " ".join(str(title).split()) if title else ""
    return title[:200] or None


def _page_text(page) -> str:
    try:
        return page.extract_text() or ""
    except Exception as e:  # one broken content stream should not lose the whole document
        log.info("page text extraction failed: %r", e)
        return ""


def _has_images(page) -> bool:
    try:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        return any(xobjects[k].get_object().get("/Subtype") == "/Image" for k in xobjects)
    except Exception:
        return False


# --- OCR (optional) ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)  # the engine loads its models once per process
def ocr_engine() -> Callable[[bytes], str] | None:
    """A function image bytes -> text when an OCR engine is installed (rapidocr, or tesseract)."""
    try:
        from rapidocr import RapidOCR  # type: ignore[import-not-found]

        engine = RapidOCR()

        def run_rapid(image: bytes) -> str:
            result = engine(image)
            return "\n".join(getattr(result, "txts", None) or ())

        return run_rapid
    except Exception:
        pass
    try:
        import shutil

        import pytesseract  # type: ignore[import-not-found]
        from PIL import Image

        if shutil.which("tesseract") is None:
            return None

        def run_tesseract(image: bytes) -> str:
            return pytesseract.image_to_string(Image.open(io.BytesIO(image)))

        return run_tesseract
    except Exception:
        return None


def _ocr_page(page, ocr: Callable[[bytes], str]) -> str:
    parts = []
    try:
        for image in page.images:
            parts.append(ocr(image.data))
    except Exception as e:
        log.info("OCR failed on a page: %r", e)
    return "\n".join(p for p in parts if p)


# --- cleanup -------------------------------------------------------------------------------------
_HYPHEN = re.compile(r"(\w)-\n\s*([a-z])")
_PAGE_NUMBER = re.compile(r"^\s*(page\s*)?\d{1,4}(\s*(/|of)\s*\d{1,4})?\s*$", re.I)
_LEADER = re.compile(r"(\.\s?){4,}\s*[\divxlc]*\s*$", re.I)  # table-of-contents line: "2.1 What is R? . . . . 3"
_EDGE_LINES = 2  # lines at the top and bottom of a page that may be a running header/footer


def _normalize_line(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def clean_pages(pages: list[str]) -> list[str]:
    """Cleanup across a document: drop running headers/footers and page numbers, the table of
    contents, fix hyphenation and ligatures, and reflow lines into paragraphs."""
    split = [[ln for ln in unicodedata.normalize("NFKC", p).replace("\r", "\n").split("\n")] for p in pages]
    # A line at the top/bottom of many pages (digits ignored) is a running header or footer; so is one
    # that starts the same way on several pages ("CHAPTER 5. SOFTWARE ... 5.9. HOW DOES ...": the
    # chapter's title, then the section's, each cut short)
    counts: Counter[str] = Counter()
    for lines in split:
        edge = {k for ln in _edges(lines) for k in _header_keys(ln)}
        counts.update(e for e in edge if e)
    n = sum(1 for lines in split if any(ln.strip() for ln in lines))

    def running(key: str, c: int) -> bool:
        if n == 2:  # a two-page document: the same edge line on both pages
            return c == 2 and len(key) > 3
        # on most pages, or (chapter headers of a book) on several pages with a page number in it
        return n >= 3 and (c >= max(3, 0.5 * n) or (c >= 3 and "#" in key))

    repeated = {k for k, c in counts.items() if running(k, c)}
    contents = [_contents_page(lines) for lines in split]
    if all(c for c, lines in zip(contents, split) if any(ln.strip() for ln in lines)):
        contents = [False] * len(split)  # a document that is all entries (a list of readings) keeps its text
    out = []
    for lines, is_contents in zip(split, contents):
        if is_contents:
            out.append("")
            continue
        nonempty = [i for i, ln in enumerate(lines) if ln.strip()]
        edge_idx = set(nonempty[:_EDGE_LINES] + nonempty[-_EDGE_LINES:])
        kept = [ln for i, ln in enumerate(lines)
                if not (i in edge_idx and (any(k in repeated for k in _header_keys(ln)) or _PAGE_NUMBER.match(ln)))
                and not _LEADER.search(ln)]
        out.append(_reflow("\n".join(kept)))
    return out


_CUT = re.compile(r"\s*(?:\.\.\.|\u2026)\s*")  # a running header's title cut short
HEADER_PREFIX = 12  # the shortest start of a cut header line that counts as the same header


def _header_keys(line: str) -> list[str]:
    """The line (digits ignored) and, when it holds a title cut short, the part before the cut."""
    key = _normalize_line(line)
    parts = _CUT.split(key)
    return [key, parts[0]] if len(parts) > 1 and len(parts[0]) >= HEADER_PREFIX else [key]


_CONTENTS_LINE = re.compile(r"^\s*(?:[A-Z]|\d{1,2}(?:\.\d{1,2})*)\.?\s+\S.*?\s(?:\d{1,4}|[ivxlc]{1,6})\s*$")
CONTENTS_SHARE = 0.5  # of a page's lines that are contents entries ("9.4 How can I ...? 51", dotted leaders)
CONTENTS_LINES = 6


def _contents_page(lines: list[str]) -> bool:
    """A page of the table of contents: most of its lines are entries with a page number. Its text
    is the titles of other pages, which would compete with those pages for every question."""
    nonempty = [ln for ln in lines if ln.strip()]
    numbered = [ln for ln in nonempty if not _LEADER.search(ln) and _CONTENTS_LINE.match(ln)]
    # a table of numbered rows ("1 Alice 87") is data: a contents page's numbers only go up
    numbers = [int(m[1]) for ln in numbered if (m := re.search(r"(\d+)\s*$", ln))]
    if sum(b < a for a, b in zip(numbers, numbers[1:])) > 0.2 * max(len(numbers) - 1, 1):
        numbered = []
    entries = sum(1 for ln in nonempty if _LEADER.search(ln)) + len(numbered)
    return entries >= CONTENTS_LINES and entries >= CONTENTS_SHARE * len(nonempty)


def _edges(lines: list[str]) -> list[str]:
    nonempty = [ln for ln in lines if ln.strip()]
    return nonempty[:_EDGE_LINES] + nonempty[-_EDGE_LINES:]


def _reflow(text: str) -> str:
    """Join hard-wrapped lines into paragraphs; keep breaks after short lines (headings, ends of paragraphs)."""
    text = _HYPHEN.sub(r"\1\2", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    lines = [ln.strip() for ln in text.split("\n")]
    lengths = sorted(len(ln) for ln in lines if ln)
    if not lengths:
        return ""
    full = lengths[int(len(lengths) * 0.75)]  # a typical full line
    out = ""
    prev = ""
    for ln in lines:
        if not ln:
            if out and not out.endswith("\n\n"):
                out += "\n\n"
            prev = ""
            continue
        if not out or out.endswith("\n"):
            out += ln
        elif len(prev) < 0.7 * full or ln[:1] in "-\u2022*>" or re.match(r"^(\d+(\.\d+)*\.?\s+[A-Z]|[a-z]\)\s)", ln):
            out += "\n" + ln
        else:
            out += " " + ln
        prev = ln
    return out.strip()
