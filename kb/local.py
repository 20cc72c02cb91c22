"""The embedded knowledge base (local default): ingest PDFs, hybrid search, extractive answers with citations.

Retrieval fuses BM25 (SQLite FTS5) with dense cosine (offline all-MiniLM-L6-v2) by a weighted sum
of normalised scores, searches again from the best chunks' direction (pseudo-relevance feedback) and
prefers, among the best 10, chunks holding the kind of answer the question asks for (kb.ranking);
the weights were tuned on the dev QA sets (see ``coursebot bench kb``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from bot.capabilities import Answer, IngestListener, IngestResult, Passage
from bot.errors import InputError
from kb import extractive, ranking, words
from kb.chunking import chunk_pages, section_heading, sentences
from kb.index import DEFAULT_COURSE, Index, Scope
from kb.pdf import PdfProblem, extract_document
from kb.pdf_limits import PdfLimits, extract_limited
from bot.progress import Reporter

log = logging.getLogger(__name__)

# Fusion weights, tuned on the dev QA set (coursebot bench kb prints the sweep with --tune).
DENSE_WEIGHT = 0.75
CANDIDATES = 40  # from each retriever before fusion
ANSWER_DEPTH = 8  # chunks of hybrid search an answer (and a ranked search) chooses from
MAX_PDF_BYTES = 100_000_000
EMBED_WINDOW = 32  # chunks embedded between two progress reports (the embedder batches within a window)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    source: str
    page: int
    text: str
    blob_key: str | None
    score: float  # fused (from ranked search: the answer's rank score)
    dense: float  # cosine
    lexical: float  # BM25, 0 when the words did not match
    context: str = ""  # document title and section heading

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
    return context_text(chunk.context, chunk.text)


def context_text(context: str, text: str) -> str:
    return f"{context}\n{text}" if context else text


def outline_of(doc: Any, chunks: Sequence[Any]) -> tuple[str | None, list[tuple[int, str, int]]]:
    """A document's title and headings: its PDF outline when it has one, else the headings found in its text."""
    title = doc.title
    first = chunks[0].context.split(" - ", 1)[0] if chunks and chunks[0].context else ""
    if not first and doc.pages:
        line = doc.pages[0].text.strip().split("\n", 1)[0].strip()
        first = line[:120] if line and len(line.split()) <= 12 else ""
    if not title or title.lower().endswith((".pdf", ".dvi", ".tex")):
        title = first or None
    if doc.outline:
        return title, list(doc.outline)
    headings: list[tuple[int, str, int]] = []
    seen = set()
    for page in doc.pages:
        for s in sentences(page.text):
            if (section_heading(s) and extractive.is_title_like(s) and s != title and s.lower() not in seen
                    and not (title and title.startswith(s))):
                seen.add(s.lower())
                headings.append((0, s[:200], page.number))
    return title, headings[:500]


class _ReadAhead:
    """A PDF read and parsed in a background thread while the PDF before it is embedded: pypdf runs in Python
    while onnxruntime embeds outside the GIL, so the two share the cores. Its page events are held until its
    turn, then replayed in order: a listener still hears one PDF at a time."""

    def __init__(self, data: bytes, name: str, sha: str):
        self.sha = sha
        self._lock = threading.Lock()
        self._held: list[tuple[int, int]] = []
        self._report: Reporter | None = None
        self._doc: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(data, name), name=f"read {name}", daemon=True)
        self._thread.start()

    def _read(self, data: bytes, name: str) -> None:
        try:
            self._doc = extract_document(data, name, on_page=self._on_page)
        except BaseException as e:  # PdfProblem or worse: raised again in the ingesting thread
            self._error = e

    def _on_page(self, done: int, total: int) -> None:
        with self._lock:
            if self._report is None:
                self._held.append((done, total))
            else:
                self._report("reading", done, total)

    def take(self, report: Reporter) -> Any:
        """The extracted document (waiting for the rest of it), its pages reported to ``report``.

        Raises:
            PdfProblem: as :func:`kb.pdf.extract_document`.
        """
        with self._lock:
            for done, total in self._held:
                report("reading", done, total)
            self._held.clear()
            self._report = report
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._doc


FOREIGN_SURE = 0.9  # the language identifier's probability that decides alone
FOREIGN_LIKELY = 0.5  # ... or this much, with under half the words English ("¿Qué formatos de audio devuelve Polly?")


def question_language(question: str) -> str | None:
    """The language of a question that is not in English, when the language identifier is sure, or
    fairly sure and most of its words are not English words (then the language whose dictionary knows
    most of them); None for English."""
    from bot.nlu import detect_language

    lang, prob = detect_language(question)
    if lang == "en" or prob < FOREIGN_LIKELY:
        return None
    if prob >= FOREIGN_SURE:
        return lang
    tokens = [w.lower() for w in re.findall(r"[^\W\d_]{2,}", question)]
    english = sum(w in words.dictionary() for w in tokens)
    if not tokens or english / len(tokens) >= 0.5:
        return None
    from bot.local.translation import get_translator

    return get_translator().likeliest(question) or lang  # among close languages, the one whose words these are


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
        self.reembedded = self._reembed_stale()

    def _reembed_stale(self) -> int:
        """Re-embed, from their stored text, the documents indexed with another embedding model (their vectors
        would not compare with this model's); returns how many chunks. Models whose vectors are interchangeable
        (the same network at another precision: ``embedder.compatible_models``) are left as they are."""
        model = getattr(self.embedder, "model_id", "?")
        stale = self.index.stale_documents([model, *getattr(self.embedder, "compatible_models", ())])
        if not stale:
            return 0
        model = getattr(self.embedder, "document_model_id", model)
        log.warning("re-embedding %d chunks of %d documents indexed with another embedding model",
                    sum(n for _, _, n in stale), len(stale))
        done = 0
        for doc_id, _name, _ in stale:
            rows = self.index.chunk_texts(doc_id)
            vectors = self._embed_documents([context_text(c, t) for _, c, t in rows])
            with self.index.transaction() as db:
                self.index.set_vectors(db, doc_id, model, [r[0] for r in rows], vectors)
            done += len(rows)
        return done

    # --- ingest ----------------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str], *, progress: IngestListener | None = None,
               course: str = DEFAULT_COURSE) -> list[IngestResult]:
        """Index PDFs one after another into ``course`` (the next one is read while one is embedded);
        ``progress`` hears each page read and indexed, and each result, one PDF at a time."""
        files = pdf_files(paths)
        results: list[IngestResult] = []
        ahead: _ReadAhead | None = None
        for i, f in enumerate(files):
            following = files[i + 1] if i + 1 < len(files) else None
            slot: list[_ReadAhead | None] = [None]

            def read_next(following: Path | None = following, slot: list = slot) -> None:
                # called when this PDF starts embedding: the next one is read meanwhile
                slot[0] = self._read_ahead(following, course) if following is not None else None

            results.append(self._ingest_path(f, None, Reporter(progress, f.name, i + 1, len(files)), course,
                                             ahead=ahead, on_embedding=read_next))
            ahead = slot[0]
        return results

    def _read_ahead(self, path: Path, course: str) -> _ReadAhead | None:
        """``path`` being read in a background thread, when its content is new to ``course`` (else None: it
        will be found unchanged or a duplicate without reading it)."""
        try:
            if path.stat().st_size > MAX_PDF_BYTES:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        sha = hashlib.sha256(data).hexdigest()
        current = self.index.document(path.name, course)
        if (current is not None and current.sha256 == sha) or self.index.by_sha(sha, course) is not None:
            return None
        return _ReadAhead(data, path.name, sha)

    def ingest_file(self, path: str | Path, name: str | None = None, *, progress: IngestListener | None = None,
                    file: tuple[int, int] = (1, 1), course: str = DEFAULT_COURSE) -> IngestResult:
        path = Path(path)
        return self._ingest_path(path, name, Reporter(progress, name or path.name, *file), course)

    def _ingest_path(self, path: Path, name: str | None, report: Reporter, course: str, *,
                     ahead: _ReadAhead | None = None, on_embedding: Callable[[], None] | None = None) -> IngestResult:
        name = name or path.name
        try:
            size = path.stat().st_size
            if size > MAX_PDF_BYTES:
                return report.done(IngestResult(name, "failed", reason=f"'{name}' is {size / 1e6:.0f} MB; the most "
                                                f"I index is {MAX_PDF_BYTES / 1e6:.0f} MB per PDF."))
            data = path.read_bytes()
        except FileNotFoundError:
            return report.done(IngestResult(name, "failed", reason=f"No such file: '{path}'."))
        except OSError as e:
            return report.done(IngestResult(name, "failed", reason=f"I couldn't read '{name}' ({e.strerror or e})."))
        return self._ingest(name, data, report, course=course, ahead=ahead, on_embedding=on_embedding)

    def ingest_bytes(self, name: str, data: bytes, *, progress: IngestListener | None = None,
                     course: str = DEFAULT_COURSE, owner: str | None = None, limits: PdfLimits | None = None,
                     ttl_seconds: float | None = None, admit: Callable[[int], str | None] | None = None) -> IngestResult:
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
        return self._ingest(name, data, Reporter(progress, name), course=course, owner=owner, limits=limits,
                            ttl_seconds=ttl_seconds, admit=admit)

    def _ingest(self, name: str, data: bytes, report: Reporter, *, course: str = DEFAULT_COURSE,
                owner: str | None = None, limits: PdfLimits | None = None, ttl_seconds: float | None = None,
                admit: Callable[[int], str | None] | None = None, ahead: _ReadAhead | None = None,
                on_embedding: Callable[[], None] | None = None) -> IngestResult:
        sha = hashlib.sha256(data).hexdigest()
        with self._content_lock(sha):  # identical bytes arriving together are read and embedded once
            return self._ingest_locked(name, data, sha, course, owner or "", limits, ttl_seconds, admit, report,
                                       ahead if ahead is not None and ahead.sha == sha else None, on_embedding)

    def _content_lock(self, sha: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._sha_locks.get(sha)
            if lock is None:
                lock = self._sha_locks[sha] = threading.Lock()
            return lock

    def _ingest_locked(self, name: str, data: bytes, sha: str, course: str, owner: str, limits: PdfLimits | None,
                       ttl_seconds: float | None, admit: Callable[[int], str | None] | None,
                       report: Reporter, ahead: _ReadAhead | None = None,
                       on_embedding: Callable[[], None] | None = None) -> IngestResult:
        current = self.index.document(name, course, owner)
        if current is not None and current.sha256 == sha:
            return report.done(IngestResult(name, "unchanged", pages=current.pages, chunks=current.chunks))
        twin = self.index.by_sha(sha, course, owner)
        if twin is not None and twin.name != name:
            return report.done(IngestResult(name, "duplicate", pages=twin.pages, chunks=twin.chunks,
                                            reason=f"Same content as '{twin.name}', which is already indexed."))
        model = getattr(self.embedder, "document_model_id", None) or getattr(self.embedder, "model_id", "?")
        reused = self.index.copy_chunks(self.index.db, sha, model)
        note = None
        title, headings = None, ()
        if reused is not None:
            rows, vectors, total_pages = reused
            if limits is not None and total_pages > limits.max_pages:
                from kb.pdf_limits import too_many_pages

                return report.done(IngestResult(name, "failed",
                                                reason=too_many_pages(name, total_pages, limits.max_pages).user_message))
            refused = admit(total_pages) if admit else None
            if refused:
                return report.done(IngestResult(name, "failed", pages=total_pages, reason=refused))
        else:
            report("reading")
            try:
                if limits is not None:
                    doc = extract_limited(data, name, limits)
                elif ahead is not None:  # read while the PDF before it was embedded
                    doc = ahead.take(report)
                else:
                    doc = extract_document(data, name, on_page=lambda done, total: report("reading", done, total))
            except PdfProblem as e:
                return report.done(IngestResult(name, "failed", reason=e.user_message))
            if limits is not None:  # read in a child process: its pages are known only now
                report("reading", doc.total_pages, doc.total_pages)
            refused = admit(doc.total_pages) if admit else None
            if refused:
                return report.done(IngestResult(name, "failed", pages=doc.total_pages, reason=refused))
            chunks = chunk_pages(doc.pages)
            if on_embedding is not None:
                on_embedding()
            vectors = self._embed(chunks, report, doc.total_pages)
            rows = [(c.page, c.ordinal, c.context, c.text) for c in chunks]
            total_pages, note = doc.total_pages, doc.note
            title, headings = outline_of(doc, chunks)
        blob_key = self._store_pdf(sha, data)
        expires = time.time() + ttl_seconds if owner and ttl_seconds else None
        with self.index.transaction() as db:
            replaced = self.index.delete_document(db, name, course, owner)
            self.index.insert_document(db, name=name, sha256=sha, size=len(data), pages=total_pages,
                                       blob_key=blob_key, model=model, chunks=rows, vectors=vectors,
                                       title=title, headings=headings, course=course, owner=owner,
                                       expires_at=expires)
        return report.done(IngestResult(name, "replaced" if replaced else "added", pages=total_pages,
                                        chunks=len(rows), reason=note))

    def _embed(self, chunks: Sequence[Any], report: Reporter, pages: int) -> Any:
        """The chunks' vectors, embedded in page order a window at a time so progress can name a page."""
        import numpy as np

        texts = [embedding_text(c) for c in chunks]
        if report.listener is None or len(texts) <= EMBED_WINDOW:
            vectors = self._embed_documents(texts)
        else:
            report("indexing", 0, pages)
            parts = []
            for start in range(0, len(texts), EMBED_WINDOW):
                parts.append(self._embed_documents(texts[start:start + EMBED_WINDOW]))
                end = min(start + EMBED_WINDOW, len(chunks))
                # the last page reached is only partly done unless the next chunk starts a new page
                page = chunks[end - 1].page if end == len(chunks) or chunks[end].page > chunks[end - 1].page \
                    else chunks[end - 1].page - 1
                report("indexing", page if end < len(chunks) else pages, pages)
            return np.concatenate(parts)
        report("indexing", pages, pages)
        return vectors

    def _embed_documents(self, texts: Sequence[str]) -> Any:
        """Passage vectors: the embedder's ``embed_documents`` (a faster graph for bulk text) when it has one."""
        embed = getattr(self.embedder, "embed_documents", None) or self.embedder.embed
        return embed(texts)

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
    def hits(self, query: str, k: int = 5, *, dense_weight: float | None = None, query_vec: Any = None,
             scope: Scope | None = None) -> list[Hit]:
        query = (query or "").strip()
        if not query:
            raise InputError("Please give me something to search for.", code="empty_query")
        w = self.dense_weight if dense_weight is None else dense_weight
        qv = query_vec if query_vec is not None else self.embedder.embed_one(query[:2000])
        dense = dict(self.index.dense(qv, CANDIDATES, scope))
        lexical = dict(self.index.lexical(query[:2000], CANDIDATES, scope))
        if not dense and not lexical:
            return []
        dense.update(self.index.dense_scores(qv, [cid for cid in lexical if cid not in dense]))
        fused = ranking.fuse(dense, lexical, w)
        if ranking.FEEDBACK_WEIGHT > 0:  # search again from the best chunks' direction
            fqv = ranking.feedback_query(qv, self.index.vectors(ranking.best(fused, ranking.FEEDBACK_DEPTH)))
            moved = dict(self.index.dense(fqv, CANDIDATES, scope))
            moved.update(self.index.dense_scores(fqv, [cid for cid in lexical if cid not in moved]))
            fused = ranking.fuse(moved, lexical, w)
            # the cosine reported (and used to abstain) stays the question's own
            dense.update(self.index.dense_scores(qv, [cid for cid in moved if cid not in dense]))
        top = ranking.best(fused, max(k, ranking.RERANK_DEPTH))
        rows = self.index.chunks(top)
        fused = ranking.kind_rerank(query, {cid: fused[cid] for cid in top if cid in rows},
                                    {cid: r.text for cid, r in rows.items()})
        best = ranking.best(fused, k)
        return [Hit(cid, rows[cid].source, rows[cid].page, rows[cid].text, rows[cid].blob_key, fused[cid],
                    dense.get(cid, 0.0), lexical.get(cid, 0.0), rows[cid].context) for cid in best]

    def search(self, query: str, k: int = 5, *, course: str = DEFAULT_COURSE, owner: str | None = None,
               rerank: bool = True) -> list[Passage]:
        """The ``k`` passages nearest ``query`` (in another language: read word by word in English), in the
        order the answer would choose them; ``rerank=False``: in hybrid search's order (a topic, not a question)."""
        scope = Scope(course, owner)
        if not rerank:
            return [h.passage() for h in self.hits(self.in_english(query), k, scope=scope)]
        return [h.passage() for h in self.ranked(query, k, scope=scope)]

    def ranked(self, question: str, k: int = 5, *, scope: Scope | None = None) -> list[Hit]:
        """Hybrid search's best chunks, the first RERANK of them reordered as the answer ranks them (by their
        sentences' closeness to the question, its terms and the kind of answer it asks for) with the score they
        were ranked by, then the rest in search order."""
        english, query, qv, hits = self._retrieve(self.readings(question), (), scope or Scope(DEFAULT_COURSE, None),
                                                  max(k, ANSWER_DEPTH))
        passages = extractive.rank(english, query, hits, self.embedder, query_vec=qv, doc_freq=self.index.doc_freq,
                                   is_word=self._is_word, shown_only=False)
        order = [dataclasses.replace(p.hit, score=p.score) for p in passages]  # the score it was ranked by
        ranked = {h.chunk_id for h in order}
        for h in hits:  # past the reranked ones: search order, each scored no higher than the one before
            if h.chunk_id not in ranked:
                order.append(dataclasses.replace(h, score=min(h.score, order[-1].score) if order else h.score))
        return order[:k]

    def readings(self, question: str) -> tuple[str, str]:
        """What a question is searched with and what it is answered as: in another language, two English
        senses of each word and one; an English question twice as it is."""
        counts: dict[str, int] = {}  # the course's use of each English word, shared by the two readings
        return self.in_english(question, 2, counts), self.in_english(question, 1, counts)

    def _retrieve(self, readings: tuple[str, str], history: Sequence[str], scope: Scope,
                  k: int = ANSWER_DEPTH) -> tuple[str, str, Any, list[Hit]]:
        """The question's English reading, the retrieval query (with the conversation's context), its
        vector and the ``k`` best chunks of hybrid search for the question's ``readings``."""
        search, english = readings
        query = self.retrieval_query(english, history)
        qv = self.embedder.embed_one(query[:2000])
        hits = self.hits(self.retrieval_query(search, history) if search != english else query, k=k,
                         query_vec=None if search != english else qv, scope=scope)
        return english, query, qv, hits

    def relevance(self, question: str, *, course: str = DEFAULT_COURSE, owner: str | None = None) -> float | None:
        """The cosine of the passage nearest to ``question`` among what ``course`` (and ``owner``'s own
        uploads) holds, or None when there is none: the NLU's evidence that a question is about the course."""
        question = (question or "").strip()
        if not question:
            return None
        top = self.index.dense(self.embedder.embed_one(self.in_english(question)[:2000]), 1, Scope(course, owner))
        return top[0][1] if top else None

    # --- ask -------------------------------------------------------------------------------------
    def retrieval_query(self, question: str, history: Sequence[str] = ()) -> str:
        return extractive.condense(question, history)

    def ask(self, question: str, *, session_id: str | None = None, history: Sequence[str] = (),
            about: str | None = None, more: dict[str, Any] | None = None, course: str = DEFAULT_COURSE,
            owner: str | None = None) -> Answer:
        """Answer from ``course``'s PDFs and the private uploads of ``owner`` (cited as "your file").
        ``about``: the document the conversation is on ("this PDF"); ``more``: where the previous
        answer stopped, for "tell me more"."""
        question = (question or "").strip()
        if not question:
            raise InputError("Please ask me a question about the course.", code="empty_question")
        self.purge_expired()
        if more and extractive.is_more(question):
            continued = self.more(more)
            if continued is not None:
                return replace(continued, kind="more")
        readings = self.readings(question)
        english = readings[1]
        read_as = english if english != question else None
        if extractive.is_overview(question) or (read_as and extractive.is_overview_words(english)):
            return replace(self.overview(question, about=about, course=course, owner=owner), read_as=read_as)
        english, query, qv, hits = self._retrieve(readings, history, Scope(course, owner))
        if not hits and not self.index.stats()["documents"]:
            return Answer(False, extractive.NOTHING_INDEXED)
        found = extractive.answer(english, query, hits, self.embedder, self.link, query_vec=qv,
                                  following=self.index.following, previous=self._previous, heading=self.heading,
                                  doc_freq=self.index.doc_freq, is_word=self._is_word, read=read_as is not None)
        return replace(found, read_as=read_as) if read_as else found

    def in_english(self, question: str, glosses: int = 2, counts: dict[str, int] | None = None) -> str:
        """A question in Spanish, French, German, Portuguese or Italian as English words (the PDFs and the
        embedding model are English), each word's senses chosen among those the course's PDFs use; an
        English question, or one in a language without a dictionary here, as it is."""
        from bot.local.translation import get_translator

        lang = question_language(question)
        if lang is None:
            return question
        seen: dict[str, int] = {} if counts is None else counts

        def in_course(gloss: str) -> int:  # how many passages use the gloss's rarest word
            terms = extractive.content_words(gloss)
            if not terms:
                return 0  # "that", "of": no topic
            missing = [w for w in terms if w not in seen]
            if missing:
                df = self.index.doc_freq(missing)[0]
                seen.update({w: df.get(w, 0) for w in missing})
            return min(seen[w] for w in terms)

        return get_translator().english(question, lang, known=in_course, glosses=glosses) or question

    def _is_word(self, word: str) -> bool:
        return words.is_everyday(word, getattr(self.embedder, "is_word", None))

    def overview(self, question: str = "What does the course cover?", about: str | None = None,
                 course: str = DEFAULT_COURSE, owner: str | None = None) -> Answer:
        """The documents with their titles and section headings, with page links."""
        docs = [d if d.title else dataclasses.replace(d, title=self.index.first_line(d.name))
                for d in self.index.documents(course) + (self.index.documents(course, owner) if owner else [])]
        answer = extractive.overview(question, docs, lambda name: self.index.headings(name, owner), self.link, about)
        return Answer(answer.found, answer.text, answer.citations, kind="overview")

    def more(self, cursor: dict[str, Any]) -> Answer | None:
        """The passage after the one last shown (``Answer.more`` of the previous answer)."""
        try:
            chunk_id, end = int(cursor["chunk"]), int(cursor["end"])
        except (KeyError, TypeError, ValueError):
            return None
        rows = self.index.chunks([chunk_id])
        if chunk_id not in rows:
            return None  # the document was removed or replaced since
        return extractive.continue_from(rows[chunk_id], max(end, 0), self.index.following, self.link)

    def _previous(self, chunk_id: int) -> Any:
        rows = self.index.neighbours(chunk_id)
        return rows[0] if rows and rows[0].id != chunk_id else None

    def heading(self, source: str, page: int) -> str | None:
        """The section heading in force on ``page`` of ``source``."""
        heads = [h for h in self.index.headings(source) if h.page <= page]
        return heads[-1].title if heads else None

    def page_link(self, source: str, page: int | None) -> str | None:
        """A signed link that opens the course PDF ``source`` at ``page`` (None when it is not stored)."""
        doc = self.index.document(source) if isinstance(source, str) else None
        return self.link(doc.blob_key, page) if doc is not None else None

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

