"""Seen-delivery store for Slack: a retried or replayed event is answered once (SQLite locally, DynamoDB on aws).

Two steps per delivery key (an Events API ``event_id``, or an interaction's ``trigger_id``):
``claim`` when Slack's request is acknowledged (only the first delivery wins), then ``begin`` when
the worker starts (only one worker wins, even when the work runs in another Lambda invocation).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

# Slack retries a delivery 3 times within ~5 minutes; a day is a generous window for replays too.
DEFAULT_TTL_SECONDS = 24 * 3600
_PREFIX = "slack-dedupe#"


class DedupeStore(Protocol):
    def claim(self, key: str) -> bool:
        """True for the first delivery of ``key``; False for a retry or a replay."""

    def begin(self, key: str) -> bool:
        """True once per claimed key: the worker that may do the work."""


class MemoryDedupe:
    """In-process store (one server process, tests)."""

    def __init__(self) -> None:
        self._state: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._state:
                return False
            self._state[key] = "acked"
            return True

    def begin(self, key: str) -> bool:
        with self._lock:
            if self._state.get(key) != "acked":
                return False
            self._state[key] = "working"
            return True


class SqliteDedupe:
    """Local store: one SQLite file in COURSEBOT_HOME, safe across threads and processes."""

    def __init__(self, path: str | Path, ttl_seconds: int = DEFAULT_TTL_SECONDS):
        self.path = str(path)
        self.ttl = ttl_seconds
        self._local = threading.local()
        self._db().execute(
            "CREATE TABLE IF NOT EXISTS slack_deliveries (key TEXT PRIMARY KEY, state TEXT NOT NULL, at REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def claim(self, key: str) -> bool:
        now = time.time()
        db = self._db()
        db.execute("DELETE FROM slack_deliveries WHERE key = ? AND at < ?", (key, now - self.ttl))
        cur = db.execute("INSERT OR IGNORE INTO slack_deliveries (key, state, at) VALUES (?, 'acked', ?)", (key, now))
        return cur.rowcount == 1

    def begin(self, key: str) -> bool:
        cur = self._db().execute(
            "UPDATE slack_deliveries SET state = 'working' WHERE key = ? AND state = 'acked'", (key,))
        return cur.rowcount == 1


class DynamoDedupe:
    """AWS store: conditional writes on the conversation-state table (partition key ``pk``, TTL
    attribute ``expires``), under keys ``slack-dedupe#<key>`` that never collide with conversations."""

    def __init__(self, table: str, client: Any, ttl_seconds: int = DEFAULT_TTL_SECONDS):
        self.table = table
        self.client = client
        self.ttl = ttl_seconds

    def claim(self, key: str) -> bool:
        now = time.time()
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": _PREFIX + key}, "state": {"S": "acked"}, "expires": {"N": str(int(now + self.ttl))}},
                # an expired item DynamoDB has not swept yet counts as absent
                ConditionExpression="attribute_not_exists(pk) OR expires < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def begin(self, key: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": _PREFIX + key}},
                UpdateExpression="SET #s = :working",
                ConditionExpression="#s = :acked",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":working": {"S": "working"}, ":acked": {"S": "acked"}},
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False


def build(settings: Any) -> DedupeStore:
    """The store for the configured backend."""
    if settings.backend == "aws":
        from bot.aws.clients import make_client

        return DynamoDedupe(settings.state_table, make_client("dynamodb", settings))
    return SqliteDedupe(settings.data_dir / "slack-deliveries.sqlite3")
