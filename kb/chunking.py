"""Chunking: cleaned pages -> overlapping passages that keep their 1-based page number.

Chunks never cross a page, so a citation's page is exact. Each chunk is a run of whole sentences
of about ``target`` characters; consecutive chunks of a page share their boundary sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from kb.pdf import Page

# ~220 tokens: inside the embedder's 256-token window. Fewer, fuller chunks ingest faster: embedding time
# grows with the number of chunks more than with their length (measured on R-intro.pdf).
TARGET_CHARS = 950
MAX_CHARS = 1300
MIN_CHARS = 120  # a shorter tail is merged into the previous chunk of the page

# A FAQ's numbered question: "9.6 I have several machines; how can I download the updates only one time?"
QUESTION_TITLE = re.compile(r"^\s*\d{1,2}(\.\d{1,3}){1,3}\.?\s+[A-Z][^\n]{3,220}\?\s*$")
NUMBERED_TITLE = re.compile(r"^\s*\d{1,2}(\.\d{1,3}){1,3}\.?\s+[A-Z]")


def question_title(s: str) -> bool:
    """``s`` (line breaks and all) is a FAQ's numbered question."""
    return QUESTION_TITLE.match(" ".join(s.split())) is not None


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n+")


@dataclass(frozen=True)
class Chunk:
    page: int
    ordinal: int  # position in the document
    text: str
    context: str = ""  # document title and the section heading the chunk falls under


_CODE = re.compile(r"[<>=(){}\[\]$;_#@|\\]|<-")


def section_heading(s: str) -> bool:
    """A heading worth carrying as context: title-like, not code, not a figure label."""
    s = s.strip()
    return (is_heading(s) and 1 <= len(s.split()) <= 10 and len(s) >= 4 and not _CODE.search(s)
            and (s[:1].isupper() or re.match(r"^\d+(\.\d+)*\s+[A-Z]", s) is not None))


def sentences(text: str) -> list[str]:
    """Split text into sentences (and lines that stand alone, like headings)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    out: list[str] = []
    for p in parts:
        if not p:
            continue
        # hard-wrap a run-on "sentence" (tables, code) so no chunk exceeds MAX_CHARS
        while len(p) > MAX_CHARS:
            cut = p.rfind(" ", 0, MAX_CHARS)
            cut = cut if cut > MAX_CHARS // 2 else MAX_CHARS
            out.append(p[:cut].strip())
            p = p[cut:].strip()
        if p:
            out.append(p)
    return out


def chunk_pages(pages: Iterable[Page], target: int = TARGET_CHARS, title: str = "") -> list[Chunk]:
    chunks: list[Chunk] = []
    section = ""
    for page in pages:
        sents = sentences(page.text)
        if not title and sents and section_heading(sents[0]):
            title = sents[0]
        page_chunks: list[list[str]] = []
        cur: list[str] = []
        size = 0
        for s in sents:
            if cur and size + len(s) > target:
                page_chunks.append(cur)
                # overlap: carry the last sentence when it is short enough to be context
                cur = [cur[-1]] if len(cur[-1]) < target // 5 else []
                size = sum(len(x) + 1 for x in cur)
            cur.append(s)
            size += len(s) + 1
        if cur:
            tail = " ".join(cur)
            if page_chunks and len(tail) < MIN_CHARS and len(" ".join(page_chunks[-1])) + len(tail) <= MAX_CHARS:
                page_chunks[-1].extend(x for x in cur if x not in page_chunks[-1])
            else:
                page_chunks.append(cur)
        for sents_of_chunk in page_chunks:
            opens = _question_at(sents_of_chunk, 0)  # a chunk that opens with a FAQ's question falls under it
            context = " - ".join(x for x in dict.fromkeys((title, opens or section)) if x)
            chunks.append(Chunk(page.number, len(chunks), _join(sents_of_chunk), context))
            for i, x in enumerate(sents_of_chunk):  # the heading in force at the end of this chunk opens the next one
                asked = _question_at(sents_of_chunk, i)
                if asked or (section_heading(x) and x != title):
                    section = asked or x
    return chunks


def _question_at(sents: list[str], i: int) -> str | None:
    """The FAQ question that starts at ``sents[i]``, whole even when a line break cut it in pieces."""
    if not NUMBERED_TITLE.match(sents[i]):
        return None
    return next((" ".join(" ".join(sents[i:i + n]).split()) for n in (1, 2, 3)
                 if i + n <= len(sents) and question_title(" ".join(sents[i:i + n]))), None)


def is_heading(s: str) -> bool:
    """A line that stands alone without closing punctuation: a title or a section heading."""
    return not s.rstrip().endswith((".", "!", "?", ":", ";", ",")) and len(s.split()) <= 12


def _join(sents: list[str]) -> str:
    # headings keep their line break so answers can tell them from sentences
    return "".join(s + ("\n" if is_heading(s) else " ") for s in sents).strip()
