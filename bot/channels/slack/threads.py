"""Where the bot has spoken and what people asked it (SQLite locally, the state table on aws).

Two facts, both small: the channel threads the bot is part of (so plain replies there are answered
without a mention), and each person's recent questions with where they asked them (the App Home
lists them with links).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

THREAD_TTL_SECONDS = 90 * 24 * 3600  # a term: threads older than this need a mention again
RECENT = 10  # questions kept per person
QUESTION_CHARS = 300
_THREAD_PREFIX = "slack-thread#"
_ASKED_PREFIX = "slack-asked#"


@dataclass(frozen=True)
class Question:
    """One question someone asked, and where (``ts`` is the message; ``thread_ts`` its thread)."""

    text: str
    channel: str
    ts: str
    thread_ts: str | None
    at: float


class ThreadStore(Protocol):
    def join(self, thread: str) -> None:
        """Remember that the bot is part of this thread (a key from :func:`adapter.thread_key`)."""

    def joined(self, thread: str) -> bool:
        """Whether the bot is part of this thread."""

    def asked(self, team: str, user: str, question: Question) -> None:
        """Remember a question for the person's App Home."""

    def recent(self, team: str, user: str, n: int = 5) -> list[Question]:
        """The person's latest questions, newest first."""


def _who(team: str, user: str) -> str:
    return f"{team}:{user}"


def _clip(q: Question) -> Question:
    return Question(q.text[:QUESTION_CHARS], q.channel, q.ts, q.thread_ts, q.at)


class MemoryThreads:
    """In-process store (tests)."""

    def __init__(self) -> None:
        self._threads: set[str] = set()
        self._asked: dict[str, list[Question]] = {}
        self._lock = threading.Lock()

    def join(self, thread: str) -> None:
        with self._lock:
            self._threads.add(thread)

    def joined(self, thread: str) -> bool:
        with self._lock:
            return thread in self._threads

    def asked(self, team: str, user: str, question: Question) -> None:
        with self._lock:
            items = self._asked.setdefault(_who(team, user), [])
            items.insert(0, _clip(question))
            del items[RECENT:]

    def recent(self, team: str, user: str, n: int = 5) -> list[Question]:
        with self._lock:
            return list(self._asked.get(_who(team, user), [])[:n])


class SqliteThreads:
    """Local store: one SQLite file in COURSEBOT_HOME, safe across threads and processes."""

    def __init__(self, path: str | Path, ttl_seconds: int = THREAD_TTL_SECONDS):
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS slack_threads (key TEXT PRIMARY KEY, at REAL NOT NULL)")
        self._conn.execute("CREATE TABLE IF NOT EXISTS slack_questions (who TEXT NOT NULL, text TEXT NOT NULL, "
                           "channel TEXT NOT NULL, ts TEXT NOT NULL, thread_ts TEXT, at REAL NOT NULL, "
                           "PRIMARY KEY (who, channel, ts))")

    def join(self, thread: str) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO slack_threads (key, at) VALUES (?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET at = excluded.at", (thread, time.time()))

    def joined(self, thread: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT at FROM slack_threads WHERE key = ?", (thread,)).fetchone()
        return bool(row) and row[0] >= time.time() - self.ttl

    def asked(self, team: str, user: str, question: Question) -> None:
        q = _clip(question)
        who = _who(team, user)
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO slack_questions VALUES (?, ?, ?, ?, ?, ?)",
                               (who, q.text, q.channel, q.ts, q.thread_ts, q.at))
            self._conn.execute("DELETE FROM slack_questions WHERE who = ? AND rowid NOT IN (SELECT rowid FROM "
                               "slack_questions WHERE who = ? ORDER BY at DESC LIMIT ?)", (who, who, RECENT))

    def recent(self, team: str, user: str, n: int = 5) -> list[Question]:
        with self._lock:
            rows = self._conn.execute("SELECT text, channel, ts, thread_ts, at FROM slack_questions WHERE who = ? "
                                      "ORDER BY at DESC LIMIT ?", (_who(team, user), n)).fetchall()
        return [Question(*r) for r in rows]


class DynamoThreads:
    """AWS store on the conversation-state table (partition key ``pk``, TTL attribute ``expires``):
    ``slack-thread#<thread>`` items, and one ``slack-asked#<team>:<user>`` item holding the person's
    last questions. GetItem and PutItem only, the calls the function's role already has."""

    def __init__(self, table: str, client: Any, ttl_seconds: int = THREAD_TTL_SECONDS):
        self.table = table
        self.client = client
        self.ttl = ttl_seconds

    def join(self, thread: str) -> None:
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": _THREAD_PREFIX + thread}, "expires": {"N": str(int(time.time() + self.ttl))}})

    def joined(self, thread: str) -> bool:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": _THREAD_PREFIX + thread}},
                                    ConsistentRead=True).get("Item")
        return bool(item) and int(item["expires"]["N"]) > time.time()  # TTL deletion lags by up to days

    def asked(self, team: str, user: str, question: Question) -> None:
        # read-modify-write: two questions in the same instant may keep only one; the list is a convenience
        items = [asdict(q) for q in self.recent(team, user, RECENT)]
        items = [asdict(_clip(question))] + [i for i in items if (i["channel"], i["ts"]) != (question.channel, question.ts)]
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": _ASKED_PREFIX + _who(team, user)},
            "questions": {"S": json.dumps(items[:RECENT], ensure_ascii=False)},
            "expires": {"N": str(int(time.time() + self.ttl))}})

    def recent(self, team: str, user: str, n: int = 5) -> list[Question]:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": _ASKED_PREFIX + _who(team, user)}},
                                    ConsistentRead=True).get("Item")
        if not item:
            return []
        try:
            return [Question(**q) for q in json.loads(item["questions"]["S"])][:n]
        except (KeyError, TypeError, ValueError):
            return []


def build(settings: Any) -> ThreadStore:
    """The store for the configured backend."""
    if settings.backend == "aws":
        from bot.aws.clients import make_client

        return DynamoThreads(settings.state_table, make_client("dynamodb", settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteThreads(settings.data_dir / "slack-threads.sqlite3")
