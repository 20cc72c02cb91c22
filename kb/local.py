"""The embedded knowledge base (local default): ingest PDFs, hybrid search, extractive answers with citations.

Retrieval fuses BM25 (SQLite FTS5) with dense cosine (offline all-MiniLM-L6-v2) by a weighted sum
of normalised scores; the weights were tuned on kb/data/dev_qa.jsonl (see ``coursebot bench kb``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from bot.capabilities import Answer, IngestResult, Passage
from bot.errors import InputError
from kb import extractive
from kb.chunking import chunk_pages
from kb.index import DEFAULT_COURSE, Index, Scope
from kb.pdf import PdfProblem, extract_document
from kb.pdf_limits import PdfLimits, extract_limited

log = logging.getLogger(__name__)

# Fusion weights, tuned on the dev QA set (coursebot bench kb prints the sweep with --tune).
DENSE_WEIGHT = 0.7
CANDIDATES = 40  # from each retriever before fusion
MAX_PDF_BYTES = 100_000_000

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    source: str
    page: int
    text: str
    blob_key: str | None
    score: float  # fused
    dense: float  # cosine
    lexical: float  # BM25, 0 when the words did not match

    def passage(self) -> Passage:
        return Passage(self.source, self.page, self.score, self.text)


def pdf_files(paths: Sequence[str]) -> list[Path]:
    """The PDF files named by ``paths``: files as given, folders searched recursively for *.pdf."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() == ".pdf"))
        else:
            out.append(p)
    return out


def embedding_text(chunk: Any) -> str:
    """What is embedded for a chunk: its title/section context, then its text."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


class LocalKnowledgeBase:
    """Implements :class:`bot.capabilities.KnowledgeBase` on an embedded SQLite index."""

    def __init__(self, path: str | Path, embedder: Any, blobs: Any = None, *, dense_weight: float = DENSE_WEIGHT,
                 url_expiry: int | None = None):
        self.embedder = embedder
        self.index = Index(path, embedder.dim)
        self.blobs = blobs
        self.dense_weight = dense_weight
        self.url_expiry = url_expiry
        self._sha_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
        self._locks_guard = threading.Lock()

    # --- ingest ----------------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str], progress: Progress | None = None, *,
               course: str = DEFAULT_COURSE) -> list[IngestResult]:
        files = pdf_files(paths)
        results = []
        for i, f in enumerate(files):
            if progress:
                progress(i, len(files), f.name)
            results.append(self.ingest_file(f, course=course))
        if progress:
            progress(len(files), len(files), "")
        return results

    def ingest_file(self, path: str | Path, name: str | None = None, *, course: str = DEFAULT_COURSE) -> IngestResult:
        path = Path(path)
        name = name or path.name
        try:
            size = path.stat().st_size
            if size > MAX_PDF_BYTES:
                return IngestResult(name, "failed", reason=f"'{name}' is {size / 1e6:.0f} MB; the most I index is "
                                    f"{MAX_PDF_BYTES / 1e6:.0f} MB per PDF.")
            data = path.read_bytes()
        except FileNotFoundError:
            return IngestResult(name, "failed", reason=f"No such file: '{path}'.")
        except OSError as e:
            return IngestResult(name, "failed", reason=f"I couldn't read '{name}' ({e.strerror or e}).")
        return self.ingest_bytes(name, data, course=course)

    def ingest_bytes(self, name: str, data: bytes, *, course: str = DEFAULT_COURSE, owner: str | None = None,
                     limits: PdfLimits | None = None, ttl_seconds: float | None = None,
                     admit: Callable[[int], str | None] | None = None) -> IngestResult:
        """Index one PDF atomically: unchanged, duplicate, added or replaced; failed leaves the index as it was.

        Args:
            course: the course it belongs to.
            owner: a conversation's private owner id (bot.roles.owner_of): the PDF is then that
                conversation's own, searched only there, and deleted after ``ttl_seconds``.
            limits: pages, text, decompressed size and CPU budget (chat uploads); the PDF is then read
                in a child process under those limits.
            admit: called with the page count before the text is embedded; a sentence refuses it
                (a daily page quota), ``None`` lets it in.
        """
        sha = hashlib.sha256(data).hexdigest()
        with self._content_lock(sha):  # identical bytes arriving together are read and embedded once
            return self._ingest_locked(name, data, sha, course, owner or "", limits, ttl_seconds, admit)

    def _content_lock(self, sha: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._sha_locks.get(sha)
            if lock is None:
                lock = self._sha_locks[sha] = threading.Lock()
            return lock

    def _ingest_locked(self, name: str, data: bytes, sha: str, course: str, owner: str, limits: PdfLimits | None,
                       ttl_seconds: float | None, admit: Callable[[int], str | None] | None) -> IngestResult:
        current = self.index.document(name, course, owner)
        if current is not None and current.sha256 == sha:
            return IngestResult(name, "unchanged", pages=current.pages, chunks=current.chunks)
        twin = self.index.by_sha(sha, course, owner)
        if twin is not None and twin.name != name:
            return IngestResult(name, "duplicate", pages=twin.pages, chunks=twin.chunks,
                                reason=f"Same content as '{twin.name}', which is already indexed.")
        model = getattr(self.embedder, "model_id", "?")
        reused = self.index.copy_chunks(self.index.db, sha, model)
        note = None
        if reused is not None:
            rows, vectors, total_pages = reused
            if limits is not None and total_pages > limits.max_pages:
                from kb.pdf_limits import too_many_pages

                return IngestResult(name, "failed", reason=too_many_pages(name, total_pages, limits.max_pages).user_message)
            refused = admit(total_pages) if admit else None
            if refused:
                return IngestResult(name, "failed", pages=total_pages, reason=refused)
        else:
            try:
                doc = extract_limited(data, name, limits) if limits is not None else extract_document(data, name)
            except PdfProblem as e:
                return IngestResult(name, "failed", reason=e.user_message)
            refused = admit(doc.total_pages) if admit else None
            if refused:
                return IngestResult(name, "failed", pages=doc.total_pages, reason=refused)
            chunks = chunk_pages(doc.pages)
            vectors = self.embedder.embed([embedding_text(c) for c in chunks])
            rows = [(c.page, c.ordinal, c.context, c.text) for c in chunks]
            total_pages, note = doc.total_pages, doc.note
        blob_key = self._store_pdf(sha, data)
        expires = time.time() + ttl_seconds if owner and ttl_seconds else None
        with self.index.transaction() as db:
            replaced = self.index.delete_document(db, name, course, owner)
            self.index.insert_document(db, name=name, sha256=sha, size=len(data), pages=total_pages,
                                       blob_key=blob_key, model=model, chunks=rows, vectors=vectors,
                                       course=course, owner=owner, expires_at=expires)
        return IngestResult(name, "replaced" if replaced else "added", pages=total_pages, chunks=len(rows),
                            reason=note)

    def _store_pdf(self, sha: str, data: bytes) -> str | None:
        if self.blobs is None:
            return None
        key = f"pdfs/{sha}.pdf"
        try:
            exists = getattr(self.blobs, "exists", None)
            if not (exists and exists(key)):
                self.blobs.put(key, data, "application/pdf")
            return key
        except Exception:  # links are a convenience; the index must not depend on them
            log.warning("could not store %s in the blob store", key, exc_info=True)
            return None

    def list(self, *, course: str = DEFAULT_COURSE) -> list[dict[str, Any]]:
        """The course documents of ``course`` (never anyone's private uploads)."""
        return [d.to_dict() for d in self.index.documents(course)]

    def remove(self, name: str, *, course: str = DEFAULT_COURSE) -> bool:
        with self.index.transaction() as db:
            return self.index.delete_document(db, name, course)

    def courses(self) -> list[dict[str, Any]]:
        """[{"course", "documents", "pages", "chunks"}] for every course that has documents."""
        return self.index.courses()

    def purge_expired(self, now: float | None = None) -> int:
        """Delete private uploads past their expiry, with their stored PDFs; returns how many."""
        gone = self.index.expired(time.time() if now is None else now)
        for course, owner, name, blob_key in gone:
            with self.index.transaction() as db:
                self.index.delete_document(db, name, course, owner)
            if blob_key and self.blobs is not None and not self.index.blob_in_use(blob_key):
                try:
                    self.blobs.delete(blob_key)
                except Exception:
                    log.warning("could not delete %s from the blob store", blob_key, exc_info=True)
        return len(gone)

    # --- search ----------------------------------------------------------------------------------
    def hits(self, query: str, k: int = 5, *, dense_weight: float | None = None,
             scope: Scope | None = None) -> list[Hit]:
        query = (query or "").strip()
        if not query:
            raise InputError("Please give me something to search for.", code="empty_query")
        w = self.dense_weight if dense_weight is None else dense_weight
        qv = self.embedder.embed_one(query[:2000])
        dense = dict(self.index.dense(qv, CANDIDATES, scope))
        lexical = dict(self.index.lexical(query[:2000], CANDIDATES, scope))
        if not dense and not lexical:
            return []
        missing = [cid for cid in lexical if cid not in dense]
        dense.update(self.index.dense_scores(qv, missing))
        top_lex = max(lexical.values(), default=0.0) or 1.0
        fused = {}
        for cid in set(dense) | set(lexical):
            d = dense.get(cid, 0.0)
            lx = lexical.get(cid, 0.0) / top_lex
            fused[cid] = w * d + (1 - w) * lx
        best = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        rows = self.index.chunks(best)
        return [Hit(cid, rows[cid].source, rows[cid].page, rows[cid].text, rows[cid].blob_key, fused[cid],
                    dense.get(cid, 0.0), lexical.get(cid, 0.0)) for cid in best if cid in rows]

    def search(self, query: str, k: int = 5, *, course: str = DEFAULT_COURSE, owner: str | None = None) -> list[Passage]:
        return [h.passage() for h in self.hits(query, k, scope=Scope(course, owner))]

    # --- ask -------------------------------------------------------------------------------------
    def ask(self, question: str, *, session_id: str | None = None, history: Sequence[str] = (),
            course: str = DEFAULT_COURSE, owner: str | None = None) -> Answer:
        """Answer from ``course``'s PDFs, and the private uploads of ``owner`` (cited as "your file")."""
        question = (question or "").strip()
        if not question:
            raise InputError("Please ask me a question about the course.", code="empty_question")
        self.purge_expired()
        query = extractive.condense(question, history)
        hits = self.hits(query, k=6, scope=Scope(course, owner))
        return extractive.answer(question, query, hits, self.embedder, self.link)

    def link(self, blob_key: str | None, page: int | None) -> str | None:
        """A link that opens the stored PDF at ``page`` (signed, expiring), when the blob store has it."""
        if not blob_key or self.blobs is None:
            return None
        try:
            url = self.blobs.url(blob_key, self.url_expiry)
        except Exception:
            return None
        return f"{url}#page={page}" if page else url


def build(settings: Any, services: Any) -> LocalKnowledgeBase:
    """Services factory for the local backend."""
    try:
        blobs = services.blobs
    except Exception:  # no blob store: answers carry no links
        blobs = None
    return LocalKnowledgeBase(Path(settings.data_dir) / "kb.sqlite3", services.embedder, blobs,
                              url_expiry=settings.url_expiry_seconds)


def sample_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "sample-course"

