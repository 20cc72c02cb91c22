"""The embedded index: documents and chunks in SQLite, FTS5 (BM25) for words, float32 vectors for meaning.

One SQLite file in COURSEBOT_HOME. Every change of a document happens in one transaction, so a
crash or a kill mid-ingest leaves the previous state (SQLite's journal rolls it back). The dense
vectors are also kept in memory as one matrix for brute-force cosine search (~4 ms at 50k chunks),
reloaded when the ``generation`` counter shows another writer changed the index.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from bot.local.sqlite import PerThread
from kb.words import STOPWORDS, folded

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    blob_key TEXT,
    model TEXT NOT NULL,
    added_at REAL NOT NULL,
    title TEXT
);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id),
    page INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    context TEXT NOT NULL,
    text TEXT NOT NULL,
    vec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS headings (
    doc_id INTEGER NOT NULL REFERENCES documents(id),
    position INTEGER NOT NULL,
    level INTEGER NOT NULL,
    title TEXT NOT NULL,
    page INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS headings_doc ON headings(doc_id, page);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    context, text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, context, text) VALUES (new.id, new.context, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, context, text) VALUES ('delete', old.id, old.context, old.text);
END;
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""

DEFAULT_COURSE = "default"


def _migrate_scopes(db: sqlite3.Connection) -> None:
    """Courses and private uploads, added in place to an index of any older version.

    Each document belongs to a ``course``; a student's private upload also has an ``owner`` (a hash
    of its conversation) and an ``expires_at``. A name is unique per (course, owner), so a private
    file or another course's file never replaces a course document of the same name: the old
    ``UNIQUE(name)`` is dropped by rebuilding the table (same columns, in the same order).
    """
    cols = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
    unique_name = any(r[2] == "u" and [c[2] for c in db.execute(f"PRAGMA index_info('{r[1]}')")] == ["name"]
                      for r in db.execute("PRAGMA index_list(documents)"))
    if {"course", "owner", "expires_at"} <= cols and not unique_name:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        cols = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
        if "course" not in cols:
            db.execute(f"ALTER TABLE documents ADD COLUMN course TEXT NOT NULL DEFAULT '{DEFAULT_COURSE}'")
        if "owner" not in cols:
            db.execute("ALTER TABLE documents ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        if "expires_at" not in cols:
            db.execute("ALTER TABLE documents ADD COLUMN expires_at REAL")
        sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents'").fetchone()[0]
        rebuilt = re.sub(r"(\bname\s+TEXT\s+NOT\s+NULL)\s+UNIQUE", r"\1", sql, count=1, flags=re.I)
        if rebuilt != sql:
            db.execute(re.sub(r"^CREATE TABLE\s+\"?documents\"?", "CREATE TABLE documents_rebuilt", rebuilt, count=1))
            db.execute("INSERT INTO documents_rebuilt SELECT * FROM documents")
            db.execute("DROP TABLE documents")
            db.execute("ALTER TABLE documents_rebuilt RENAME TO documents")
            db.execute("CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256)")
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS documents_scope ON documents(course, owner, name)")
        db.execute("CREATE INDEX IF NOT EXISTS documents_expiry ON documents(expires_at) WHERE expires_at IS NOT NULL")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class Scope:
    """What one conversation may read: a course's documents, plus its own private uploads (``owner``)."""

    course: str = DEFAULT_COURSE
    owner: str | None = None

    def where(self, alias: str = "d") -> tuple[str, list[str]]:
        """An SQL condition on the documents table (aliased ``alias``) and its parameters."""
        if self.owner:
            return (f"(({alias}.course = ? AND {alias}.owner = '') OR {alias}.owner = ?)", [self.course, self.owner])
        return f"({alias}.course = ? AND {alias}.owner = '')", [self.course]


# How a chunk's document is named in answers: a private upload is cited as the student's own file.
SOURCE_SQL = "CASE WHEN d.owner = '' THEN d.name ELSE d.name || ' (your file)' END"
YOUR_FILE = " (your file)"


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an index written by an older version up to this schema, in place.

    Older indexes have no ``documents.title`` column and no ``headings`` rows: the column is added
    (NULL), and documents without headings fall back to the section contexts stored with their chunks.
    """
    cols = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
    if "title" not in cols:
        db.execute("ALTER TABLE documents ADD COLUMN title TEXT")




@dataclass(frozen=True)
class Document:
    name: str
    sha256: str
    bytes: int
    pages: int
    chunks: int
    blob_key: str | None
    added_at: float
    title: str | None = None

    def to_dict(self) -> dict:
        d = {"name": self.name, "sha256": self.sha256, "bytes": self.bytes, "pages": self.pages,
             "chunks": self.chunks, "added_at": round(self.added_at, 3)}
        if self.title:
            d["title"] = self.title
        return d


@dataclass(frozen=True)
class Heading:
    level: int  # 0 = chapter
    title: str
    page: int


@dataclass(frozen=True)
class ChunkRow:
    id: int
    source: str
    page: int
    text: str
    blob_key: str | None
    context: str = ""


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression: the question's content words OR-ed together (BM25 ranks them)."""
    words = [w for w in re.findall(r"[a-z0-9]+", folded(text)) if len(w) > 1 and w not in STOPWORDS]
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class Index:
    """Thread-safe access to the SQLite index (one connection per thread)."""

    def __init__(self, path: str | Path, dim: int):
        from bot.home import private_file

        self.path = str(path) if str(path) == ":memory:" else str(private_file(path))
        self.dim = dim
        self._conn = PerThread(path, timeout=30)
        self._lock = threading.Lock()
        self._matrix: np.ndarray = np.zeros((0, dim), dtype=np.float32)
        self._ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._generation: str | None = None
        self.db.executescript(SCHEMA)
        _migrate(self.db)
        _migrate_scopes(self.db)
        self._scopes: np.ndarray = np.zeros(0, dtype=np.int64)  # per vector: its document's id

    @property
    def db(self) -> sqlite3.Connection:
        return self._conn.get()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; bumps the generation so readers reload the vectors."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- documents -------------------------------------------------------------------------------
    _COLS = "name, sha256, bytes, pages, chunks, blob_key, added_at, title"

    def documents(self, course: str = DEFAULT_COURSE, owner: str = "") -> list[Document]:
        """The documents of ``course`` (its course documents; with ``owner``, that owner's private ones)."""
        rows = self.db.execute(f"SELECT {self._COLS} FROM documents WHERE course = ? AND owner = ? ORDER BY name",
                               (course, owner or "")).fetchall()
        return [Document(*r) for r in rows]

    def document(self, name: str, course: str = DEFAULT_COURSE, owner: str = "") -> Document | None:
        r = self.db.execute(f"SELECT {self._COLS} FROM documents WHERE name = ? AND course = ? AND owner = ?",
                            (name, course, owner or "")).fetchone()
        return Document(*r) if r else None

    def by_sha(self, sha: str, course: str | None = DEFAULT_COURSE, owner: str = "") -> Document | None:
        """A document with this content in the same place (``course=None``: anywhere)."""
        if course is None:
            r = self.db.execute(f"SELECT {self._COLS} FROM documents WHERE sha256 = ? LIMIT 1", (sha,)).fetchone()
        else:
            r = self.db.execute(f"SELECT {self._COLS} FROM documents WHERE sha256 = ? AND course = ? AND owner = ? "
                                "LIMIT 1", (sha, course, owner or "")).fetchone()
        return Document(*r) if r else None

    def courses(self) -> list[dict[str, Any]]:
        """Every course with its (course, not private) documents, pages and chunks."""
        rows = self.db.execute("SELECT course, COUNT(*), COALESCE(SUM(pages), 0), COALESCE(SUM(chunks), 0) "
                               "FROM documents WHERE owner = '' GROUP BY course ORDER BY course").fetchall()
        return [{"course": c, "documents": n, "pages": p, "chunks": k} for c, n, p, k in rows]

    def copy_chunks(self, db: sqlite3.Connection, sha: str, model: str) -> tuple[list[tuple[int, int, str, str]],
                                                                                  np.ndarray, int] | None:
        """The chunks, vectors and page count of an indexed document with this content (same embedding
        model), so identical bytes are read and embedded once."""
        row = db.execute("SELECT id, pages FROM documents WHERE sha256 = ? AND model = ? LIMIT 1", (sha, model)).fetchone()
        if row is None:
            return None
        rows = db.execute("SELECT page, ordinal, context, text, vec FROM chunks WHERE doc_id = ? ORDER BY ordinal",
                          (row[0],)).fetchall()
        if not rows:
            return None
        vecs = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
        return [(r[0], r[1], r[2], r[3]) for r in rows], vecs, row[1]

    def stale_documents(self, models: Sequence[str]) -> list[tuple[int, str, int]]:
        """(id, name, chunks) of the documents whose vectors were made by none of ``models``."""
        marks = ", ".join("?" for _ in models)
        return [tuple(r) for r in self.db.execute(
            f"SELECT id, name, chunks FROM documents WHERE model NOT IN ({marks}) ORDER BY id", list(models)).fetchall()]

    def chunk_texts(self, doc_id: int) -> list[tuple[int, str, str]]:
        """(chunk id, context, text) of a document's chunks, in order."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, context, text FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()]

    @staticmethod
    def set_vectors(db: sqlite3.Connection, doc_id: int, model: str, chunk_ids: Sequence[int],
                    vectors: np.ndarray) -> None:
        """Replace a document's vectors (re-embedded with ``model``)."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        db.executemany("UPDATE chunks SET vec = ? WHERE id = ? AND doc_id = ?",
                       [(vecs[i].tobytes(), cid, doc_id) for i, cid in enumerate(chunk_ids)])
        db.execute("UPDATE documents SET model = ? WHERE id = ?", (model, doc_id))

    def expired(self, now: float) -> list[tuple[str, str, str, str | None]]:
        """(course, owner, name, blob_key) of private uploads past their expiry."""
        return [tuple(r) for r in self.db.execute(
            "SELECT course, owner, name, blob_key FROM documents WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (now,)).fetchall()]

    def blob_in_use(self, blob_key: str) -> bool:
        return self.db.execute("SELECT 1 FROM documents WHERE blob_key = ? LIMIT 1", (blob_key,)).fetchone() is not None

    @staticmethod
    def delete_document(db: sqlite3.Connection, name: str, course: str = DEFAULT_COURSE, owner: str = "") -> bool:
        row = db.execute("SELECT id FROM documents WHERE name = ? AND course = ? AND owner = ?",
                         (name, course, owner or "")).fetchone()
        if row is None:
            return False
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (row[0],))
        db.execute("DELETE FROM headings WHERE doc_id = ?", (row[0],))
        db.execute("DELETE FROM documents WHERE id = ?", (row[0],))
        return True

    @staticmethod
    def insert_document(db: sqlite3.Connection, *, name: str, sha256: str, size: int, pages: int,
                        blob_key: str | None, model: str, chunks: Sequence[tuple[int, int, str, str]],
                        vectors: np.ndarray, title: str | None = None,
                        headings: Sequence[tuple[int, str, int]] = (), course: str = DEFAULT_COURSE, owner: str = "",
                        expires_at: float | None = None) -> None:
        cur = db.execute(
            "INSERT INTO documents (name, sha256, bytes, pages, chunks, blob_key, model, added_at, title, course, owner, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, sha256, size, pages, len(chunks), blob_key, model, time.time(), title, course, owner or "",
             expires_at))
        doc_id = cur.lastrowid
        db.executemany("INSERT INTO headings (doc_id, position, level, title, page) VALUES (?, ?, ?, ?, ?)",
                       [(doc_id, i, level, text, page) for i, (level, text, page) in enumerate(headings)])
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        db.executemany("INSERT INTO chunks (doc_id, page, ordinal, context, text, vec) VALUES (?, ?, ?, ?, ?, ?)",
                       [(doc_id, page, ordinal, context, text, vecs[i].tobytes())
                        for i, (page, ordinal, context, text) in enumerate(chunks)])

    # --- search ----------------------------------------------------------------------------------
    def _refresh(self) -> None:
        gen = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        if gen == self._generation:
            return
        with self._lock:
            if gen == self._generation:
                return
            rows = self.db.execute("SELECT id, vec, doc_id FROM chunks ORDER BY id").fetchall()
            if rows:
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                docs = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
                matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
            else:
                ids, matrix = np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
                docs = np.zeros(0, dtype=np.int64)
            self._ids, self._matrix, self._scopes, self._generation = ids, matrix, docs, gen

    def _doc_ids(self, scope: Scope) -> np.ndarray:
        where, params = scope.where("d")
        rows = self.db.execute(f"SELECT d.id FROM documents d WHERE {where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def dense(self, query_vec: np.ndarray, k: int, scope: Scope | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine) by brute force over the vectors ``scope`` may read (default: the default course)."""
        self._refresh()
        ids, matrix, docs = self._ids, self._matrix, self._scopes
        if len(ids) == 0:
            return []
        scores = matrix @ query_vec.astype(np.float32)
        allowed = np.isin(docs, self._doc_ids(scope or Scope()))
        if not allowed.all():
            ids, scores = ids[allowed], scores[allowed]
            if len(ids) == 0:
                return []
        k = min(k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def dense_scores(self, query_vec: np.ndarray, chunk_ids: Sequence[int]) -> dict[int, float]:
        self._refresh()
        if not len(chunk_ids) or not len(self._ids):
            return {}
        pos = np.searchsorted(self._ids, np.asarray(chunk_ids, dtype=np.int64))
        pos = np.clip(pos, 0, len(self._ids) - 1)
        out = {}
        for cid, p in zip(chunk_ids, pos):
            if self._ids[p] == cid:
                out[cid] = float(self._matrix[p] @ query_vec)
        return out

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of ``chunk_ids`` (those still indexed), one row each."""
        self._refresh()
        ids, matrix = self._ids, self._matrix
        if not len(chunk_ids) or not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        want = np.asarray(chunk_ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(ids, want), 0, len(ids) - 1)
        return matrix[pos[ids[pos] == want]]

    def lexical(self, text: str, k: int, scope: Scope | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, BM25 score, higher is better) from FTS5, over what ``scope`` may read."""
        q = fts_query(text)
        if q is None:
            return []
        where, params = (scope or Scope()).where("d")
        try:
            rows = self.db.execute(
                "SELECT f.rowid, -bm25(chunks_fts) AS s FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
                f"JOIN documents d ON d.id = c.doc_id WHERE chunks_fts MATCH ? AND {where} "
                "ORDER BY bm25(chunks_fts) LIMIT ?", (q, *params, k)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [(int(r[0]), float(r[1])) for r in rows]

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT c.id, {SOURCE_SQL}, c.page, c.text, d.blob_key, c.context FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({marks})", list(ids)).fetchall()
        return {r[0]: ChunkRow(*r) for r in rows}

    def neighbours(self, chunk_id: int) -> list[ChunkRow]:
        """The chunk before and after ``chunk_id`` in the same document (for answer context)."""
        rows = self.db.execute(
            f"SELECT c2.id, {SOURCE_SQL}, c2.page, c2.text, d.blob_key FROM chunks c1 "
            "JOIN chunks c2 ON c2.doc_id = c1.doc_id AND c2.ordinal BETWEEN c1.ordinal - 1 AND c1.ordinal + 1 "
            "JOIN documents d ON d.id = c2.doc_id WHERE c1.id = ? ORDER BY c2.ordinal", (chunk_id,)).fetchall()
        return [ChunkRow(*r) for r in rows]

    def first_line(self, name: str) -> str | None:
        """The first line of a document's first chunk (its title page), for documents stored without a title."""
        r = self.db.execute("SELECT c.text FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.name = ? "
                            "AND d.owner = '' ORDER BY c.ordinal LIMIT 1", (name,)).fetchone()
        line = r[0].strip().split("\n", 1)[0].strip() if r else ""
        line = re.sub(r"\s+(Version|Release|Edition)\s+\d.*$", "", line)
        return line[:120] if line and len(line.split()) <= 12 else None

    def headings(self, name: str, owner: str | None = None) -> list[Heading]:
        """The document's outline (or detected headings), in reading order; for an index written before
        headings were stored, the distinct section contexts of its chunks."""
        # the asker's own file of that name first, else the course's (never another student's)
        doc = self.db.execute("SELECT id FROM documents WHERE name = ? AND owner IN ('', ?) "
                              "ORDER BY owner = '' LIMIT 1", (name, owner or "")).fetchone()
        if doc is None:
            return []
        rows = self.db.execute("SELECT level, title, page FROM headings WHERE doc_id = ? ORDER BY position",
                               (doc[0],)).fetchall()
        if rows:
            return [Heading(*r) for r in rows]
        out: list[Heading] = []
        seen = set()
        for context, page in self.db.execute(
                "SELECT context, MIN(page) FROM chunks WHERE doc_id = ? GROUP BY context ORDER BY MIN(ordinal)",
                (doc[0],)):
            section = context.split(" - ", 1)[-1] if " - " in context else ""
            if section and section not in seen:
                seen.add(section)
                out.append(Heading(0, section, page))
        return out

    def chunk_places(self, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """Chunk id -> (document id, ordinal)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r[0]: (r[1], r[2]) for r in self.db.execute(
            f"SELECT id, doc_id, ordinal FROM chunks WHERE id IN ({marks})", list(ids))}

    def following(self, chunk_id: int, n: int = 1) -> list[ChunkRow]:
        """The ``n`` chunks after ``chunk_id`` in its document (the text that continues it)."""
        rows = self.db.execute(
            f"SELECT c2.id, {SOURCE_SQL}, c2.page, c2.text, d.blob_key, c2.context FROM chunks c1 "
            "JOIN chunks c2 ON c2.doc_id = c1.doc_id AND c2.ordinal > c1.ordinal "
            "JOIN documents d ON d.id = c2.doc_id WHERE c1.id = ? ORDER BY c2.ordinal LIMIT ?",
            (chunk_id, n)).fetchall()
        return [ChunkRow(*r) for r in rows]

    def doc_freq(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks contain each word (FTS5, stemmed as the index is), and the number of chunks.
        A compound ("k-means", "data.table") counts the chunks holding its parts as a phrase."""
        total = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        out = {}
        for w in dict.fromkeys(words):
            if not re.fullmatch(r"[a-z0-9_]+([-.][a-z0-9_]+)*", w):
                continue
            try:
                out[w] = self.db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                         (f'"{w}"',)).fetchone()[0]
            except sqlite3.OperationalError:
                out[w] = 0
        return out, total

    def stats(self, course: str | None = None) -> dict[str, int]:
        """Documents, pages and chunks: of the whole index, or of one course's course documents."""
        if course is not None:
            docs, pages, chunks = self.db.execute(
                "SELECT COUNT(*), COALESCE(SUM(pages), 0), COALESCE(SUM(chunks), 0) FROM documents "
                "WHERE course = ? AND owner = ''", (course,)).fetchone()
            return {"documents": docs, "pages": pages, "chunks": chunks}
        docs, pages = self.db.execute("SELECT COUNT(*), COALESCE(SUM(pages), 0) FROM documents").fetchone()
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {"documents": docs, "pages": pages, "chunks": chunks}

    def check(self) -> bool:
        """True when SQLite's integrity check passes and the FTS index matches its content table."""
        ok = self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        try:
            self.db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError:
            return False
        return ok
