"""The local insight store: answers, ratings and curated answers in one SQLite file in COURSEBOT_HOME."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bot.capabilities import AnswerRecord, CuratedAnswer, Rating

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY, conversation TEXT NOT NULL, course TEXT NOT NULL, intent TEXT NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL, found INTEGER, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_at ON answers (course, at);
CREATE TABLE IF NOT EXISTS ratings (
    answer_id TEXT NOT NULL, conversation TEXT NOT NULL, rating TEXT NOT NULL, comment TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (answer_id, conversation));
CREATE TABLE IF NOT EXISTS curated (
    id TEXT PRIMARY KEY, course TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, at REAL NOT NULL);
"""
_PRUNE_EVERY = 500  # writes between deletions of records past their keep time


class SqliteInsightStore:
    """Implements :class:`bot.capabilities.InsightStore`; safe across threads and processes.

    Args:
        path: the SQLite file.
        keep_days: answers and ratings older than this are deleted (curated answers are kept).
    """

    def __init__(self, path: str | Path, keep_days: int = 180):
        self.path = str(path)
        self.keep = keep_days * 86400
        self._local = threading.local()
        self._writes = 0
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def record(self, record: AnswerRecord) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.answer_id, record.conversation, record.course, record.intent, record.question, record.answer,
             json.dumps([list(c) for c in record.citations]), None if record.found is None else int(record.found),
             record.at or time.time()))
        self._wrote()

    def get(self, answer_id: str) -> AnswerRecord | None:
        row = self._db().execute("SELECT * FROM answers WHERE answer_id = ? AND at >= ?",
                                 (answer_id, time.time() - self.keep)).fetchone()
        return _answer(row) if row else None

    def rate(self, rating: Rating) -> None:
        self._db().execute(
            "INSERT INTO ratings VALUES (?, ?, ?, ?, ?) ON CONFLICT(answer_id, conversation) DO UPDATE SET "
            "rating = excluded.rating, comment = excluded.comment, at = excluded.at",
            (rating.answer_id, rating.conversation, rating.rating, rating.comment, rating.at or time.time()))
        self._wrote()

    def answers(self, *, since: float = 0.0, course: str | None = None) -> list[AnswerRecord]:
        since = max(since, time.time() - self.keep)
        if course is None:
            rows = self._db().execute("SELECT * FROM answers WHERE at >= ? ORDER BY at", (since,))
        else:
            rows = self._db().execute("SELECT * FROM answers WHERE course = ? AND at >= ? ORDER BY at", (course, since))
        return [_answer(r) for r in rows]

    def ratings(self, *, since: float = 0.0) -> list[Rating]:
        since = max(since, time.time() - self.keep)
        rows = self._db().execute("SELECT * FROM ratings WHERE at >= ? ORDER BY at", (since,))
        return [Rating(*r) for r in rows]

    def pin(self, curated: CuratedAnswer) -> None:
        self._db().execute("INSERT OR REPLACE INTO curated VALUES (?, ?, ?, ?, ?)",
                           (curated.id, curated.course, curated.question, curated.answer, curated.at or time.time()))

    def unpin(self, course: str, curated_id: str) -> bool:
        cur = self._db().execute("DELETE FROM curated WHERE course = ? AND id = ?", (course, curated_id))
        return cur.rowcount > 0

    def curated(self, course: str) -> list[CuratedAnswer]:
        rows = self._db().execute("SELECT * FROM curated WHERE course = ? ORDER BY at", (course,))
        return [CuratedAnswer(*r) for r in rows]

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 1:
            cutoff = time.time() - self.keep
            db = self._db()
            db.execute("DELETE FROM answers WHERE at < ?", (cutoff,))
            db.execute("DELETE FROM ratings WHERE at < ?", (cutoff,))


def _answer(row: tuple) -> AnswerRecord:
    answer_id, conversation, course, intent, question, answer, citations, found, at = row
    return AnswerRecord(answer_id, conversation, course, intent, question, answer,
                        tuple((s, p) for s, p in json.loads(citations)), None if found is None else bool(found), at)


def build(settings: Any, services: Any) -> SqliteInsightStore:
    """Services factory (local)."""
    return SqliteInsightStore(settings.data_dir / "insight.sqlite3", keep_days=settings.insight_days)
