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
        # One connection behind a lock: the HTTP server runs a thread per request, and SQLite's own
        # busy-wait (sleeps of 1-100 ms) would add to the ack time; other processes still lock via SQLite.
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS slack_deliveries (key TEXT PRIMARY KEY, state TEXT NOT NULL, at REAL NOT NULL)")

    def claim(self, key: str) -> bool:
        now = time.time()
        with self._lock:  # one statement, one commit: new, or older than the TTL, wins
            cur = self._conn.execute(
                "INSERT INTO slack_deliveries (key, state, at) VALUES (?, 'acked', ?) "
                "ON CONFLICT(key) DO UPDATE SET state = 'acked', at = excluded.at WHERE slack_deliveries.at < ?",
                (key, now, now - self.ttl))
            return cur.rowcount == 1

    def begin(self, key: str) -> bool:
        with self._lock:
            cur = self._conn.execute(
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
        # PutItem (not UpdateItem): the function's role needs only Get/Put/DeleteItem on the table
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": _PREFIX + key}, "state": {"S": "working"},
                      "expires": {"N": str(int(time.time() + self.ttl))}},
                ConditionExpression="#s = :acked",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":acked": {"S": "acked"}},
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
