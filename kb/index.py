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
from typing import Iterator, Sequence

import numpy as np

from bot.local.sqlite import PerThread
from kb.words import STOPWORDS

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
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1 and w not in STOPWORDS]
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
    def documents(self) -> list[Document]:
        rows = self.db.execute("SELECT name, sha256, bytes, pages, chunks, blob_key, added_at, title FROM documents "
                               "ORDER BY name").fetchall()
        return [Document(*r) for r in rows]

    def document(self, name: str) -> Document | None:
        r = self.db.execute("SELECT name, sha256, bytes, pages, chunks, blob_key, added_at, title FROM documents "
                            "WHERE name = ?", (name,)).fetchone()
        return Document(*r) if r else None

    def by_sha(self, sha: str) -> Document | None:
        r = self.db.execute("SELECT name, sha256, bytes, pages, chunks, blob_key, added_at, title FROM documents "
                            "WHERE sha256 = ? LIMIT 1", (sha,)).fetchone()
        return Document(*r) if r else None

    @staticmethod
    def delete_document(db: sqlite3.Connection, name: str) -> bool:
        row = db.execute("SELECT id FROM documents WHERE name = ?", (name,)).fetchone()
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
                        headings: Sequence[tuple[int, str, int]] = ()) -> None:
        cur = db.execute(
            "INSERT INTO documents (name, sha256, bytes, pages, chunks, blob_key, model, added_at, title) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, sha256, size, pages, len(chunks), blob_key, model, time.time(), title))
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
            rows = self.db.execute("SELECT id, vec FROM chunks ORDER BY id").fetchall()
            if rows:
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
            else:
                ids, matrix = np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
            self._ids, self._matrix, self._generation = ids, matrix, gen

    def dense(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine) by brute force over all vectors."""
        self._refresh()
        ids, matrix = self._ids, self._matrix
        if len(ids) == 0:
            return []
        scores = matrix @ query_vec.astype(np.float32)
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

    def lexical(self, text: str, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, BM25 score, higher is better) from FTS5."""
        q = fts_query(text)
        if q is None:
            return []
        try:
            rows = self.db.execute("SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
                                   "ORDER BY bm25(chunks_fts) LIMIT ?", (q, k)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [(int(r[0]), float(r[1])) for r in rows]

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT c.id, d.name, c.page, c.text, d.blob_key, c.context FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({marks})", list(ids)).fetchall()
        return {r[0]: ChunkRow(*r) for r in rows}

    def neighbours(self, chunk_id: int) -> list[ChunkRow]:
        """The chunk before and after ``chunk_id`` in the same document (for answer context)."""
        rows = self.db.execute(
            "SELECT c2.id, d.name, c2.page, c2.text, d.blob_key FROM chunks c1 "
            "JOIN chunks c2 ON c2.doc_id = c1.doc_id AND c2.ordinal BETWEEN c1.ordinal - 1 AND c1.ordinal + 1 "
            "JOIN documents d ON d.id = c2.doc_id WHERE c1.id = ? ORDER BY c2.ordinal", (chunk_id,)).fetchall()
        return [ChunkRow(*r) for r in rows]

    def first_line(self, name: str) -> str | None:
        """The first line of a document's first chunk (its title page), for documents stored without a title."""
        r = self.db.execute("SELECT c.text FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.name = ? "
                            "ORDER BY c.ordinal LIMIT 1", (name,)).fetchone()
        line = r[0].strip().split("\n", 1)[0].strip() if r else ""
        line = re.sub(r"\s+(Version|Release|Edition)\s+\d.*$", "", line)
        return line[:120] if line and len(line.split()) <= 12 else None

    def headings(self, name: str) -> list[Heading]:
        """The document's outline (or detected headings), in reading order; for an index written before
        headings were stored, the distinct section contexts of its chunks."""
        rows = self.db.execute("SELECT h.level, h.title, h.page FROM headings h JOIN documents d ON d.id = h.doc_id "
                               "WHERE d.name = ? ORDER BY h.position", (name,)).fetchall()
        if rows:
            return [Heading(*r) for r in rows]
        out: list[Heading] = []
        seen = set()
        for context, page in self.db.execute(
                "SELECT c.context, MIN(c.page) FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.name = ? "
                "GROUP BY c.context ORDER BY MIN(c.ordinal)", (name,)):
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
            "SELECT c2.id, d.name, c2.page, c2.text, d.blob_key, c2.context FROM chunks c1 "
            "JOIN chunks c2 ON c2.doc_id = c1.doc_id AND c2.ordinal > c1.ordinal "
            "JOIN documents d ON d.id = c2.doc_id WHERE c1.id = ? ORDER BY c2.ordinal LIMIT ?",
            (chunk_id, n)).fetchall()
        return [ChunkRow(*r) for r in rows]

    def doc_freq(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks contain each word (FTS5, stemmed as the index is), and the number of chunks."""
        total = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        out = {}
        for w in dict.fromkeys(words):
            if not re.fullmatch(r"[a-z0-9_]+", w):
                continue
            try:
                out[w] = self.db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                         (f'"{w}"',)).fetchone()[0]
            except sqlite3.OperationalError:
                out[w] = 0
        return out, total

    def stats(self) -> dict[str, int]:
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
