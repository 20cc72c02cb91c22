"""Seen-delivery store for Slack: a retried or replayed event is answered once (SQLite locally, DynamoDB on aws).

Two steps per delivery key (an Events API ``event_id``, or an interaction's ``trigger_id``):
``claim`` when Slack's request is acknowledged (only the first delivery wins), then ``begin`` when
the worker starts (only one worker wins, even when the work runs in another Lambda invocation).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from bot.capabilities import DedupeStore
from bot.local import sqlite

# Slack retries a delivery 3 times within ~5 minutes; a day is a generous window for replays too.
DEFAULT_TTL_SECONDS = 24 * 3600


def __getattr__(name: str) -> Any:
    if name == "DynamoDedupe":  # beside the other stores of the shared DynamoDB table
        from bot.aws.state_table import DynamoDedupe

        return DynamoDedupe
    raise AttributeError(name)


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
        self._conn = sqlite.connect(self.path, check_same_thread=False)
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


def build(settings: Any) -> DedupeStore:
    """The store for the configured backend."""
    if settings.backend == "aws":
        from bot.aws.state_table import build_dedupe

        return build_dedupe(settings)
    return SqliteDedupe(settings.data_dir / "slack-deliveries.sqlite3")
