"""Fair-use quotas: uploads per student per hour, pages per student per day, turns per conversation per minute.

Fixed windows: a counter per (what, who, window start). SQLite locally, the DynamoDB state table
on AWS (an atomic ADD with a condition, the item's TTL cleaning up). Over a quota, the caller gets
the seconds until the window ends and says "try again in N minutes"; nothing is recorded or lost.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

HOUR = 3600
DAY = 86400
MINUTE = 60


class Quotas(Protocol):
    def take(self, what: str, who: str, amount: int, limit: int, window: int) -> float | None:
        """Record ``amount`` against the quota; ``None`` when it fits, else the seconds to wait (nothing recorded)."""


def _window(window: int, now: float) -> tuple[int, float]:
    start = int(now // window * window)
    return start, start + window - now


class SqliteQuotas:
    def __init__(self, path: str | Path, clock: Any = time.time):
        self.path = str(path)
        self.clock = clock
        self._local = threading.local()
        self._db().execute("CREATE TABLE IF NOT EXISTS quotas (key TEXT PRIMARY KEY, used INTEGER NOT NULL, "
                           "until REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            from bot.local.sqlite import connect

            db = connect(self.path)  # a private file in COURSEBOT_HOME, WAL mode
            self._local.db = db
        return db

    def take(self, what: str, who: str, amount: int, limit: int, window: int) -> float | None:
        now = self.clock()
        start, left = _window(window, now)
        key = f"{what}:{who}:{start}"
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT used FROM quotas WHERE key = ?", (key,)).fetchone()
            used = row[0] if row else 0
            if used + amount > limit and (used > 0 or amount > limit):
                db.execute("ROLLBACK")
                return left
            db.execute("INSERT INTO quotas (key, used, until) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                       "SET used = used + excluded.used", (key, amount, start + window))
            db.execute("DELETE FROM quotas WHERE until < ?", (now - DAY,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return None


class DynamoQuotas:
    """Counters in the conversation state table (partition key ``pk``, TTL attribute ``expires``)."""

    def __init__(self, table: str, client: Any, clock: Any = time.time):
        self.table, self.client, self.clock = table, client, clock

    def take(self, what: str, who: str, amount: int, limit: int, window: int) -> float | None:
        from botocore.exceptions import ClientError

        now = self.clock()
        start, left = _window(window, now)
        if amount > limit:  # more than the whole window allows: refused before any write, as SQLite does
            return left
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": f"quota#{what}#{who}#{start}"}},
                UpdateExpression="ADD used :n SET expires = :e",
                ConditionExpression="attribute_not_exists(used) OR used <= :room",
                ExpressionAttributeValues={":n": {"N": str(amount)}, ":e": {"N": str(start + window + DAY)},
                                           ":room": {"N": str(limit - amount)}})
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return left
            raise
        return None


def wait_sentence(seconds: float) -> str:
    """ "try again in N minutes" (or hours), rounded up."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes >= 120:
        hours = math.ceil(minutes / 60)
        return f"try again in {hours} hours"
    return f"try again in {minutes} minute{'s' if minutes != 1 else ''}"


def build_local(settings: Any, services: Any) -> SqliteQuotas:
    return SqliteQuotas(Path(settings.data_dir) / "quotas.sqlite3")


def build_aws(settings: Any, services: Any) -> DynamoQuotas:
    from bot.aws.clients import make_client

    return DynamoQuotas(settings.state_table, make_client("dynamodb", settings))
