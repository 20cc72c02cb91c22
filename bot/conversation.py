"""Conversation state keyed by conversation key: SQLite locally, DynamoDB on AWS, one interface."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from bot.keys import check_store_key

# Keep state small: it is ids and the last answer, never transcripts. Lex session attributes only
# carry the conversation key; DynamoDB items are capped at 400 KB.
MAX_ANSWER_CHARS = 20_000


@dataclass
class Conversation:
    """What the bot remembers about one conversation."""

    last_answer: str | None = None
    last_intent: str | None = None
    last_question: str | None = None
    last_image: str | None = None  # a blob key or local path of the last image seen
    kb_session: str | None = None  # Bedrock RetrieveAndGenerate sessionId, sent back on follow-ups
    pending: dict[str, Any] | None = None  # {"intent", "slot", "slots"} while a slot is elicited
    extra: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    def to_json(self) -> str:
        d = asdict(self)
        if d["last_answer"] and len(d["last_answer"]) > MAX_ANSWER_CHARS:
            d["last_answer"] = d["last_answer"][:MAX_ANSWER_CHARS]
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | None) -> "Conversation":
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError:
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class ConversationStore(Protocol):
    def load(self, key: str) -> Conversation: ...

    def save(self, key: str, conversation: Conversation) -> None: ...

    def delete(self, key: str) -> None: ...


class SqliteConversationStore:
    """Local store: one SQLite file in COURSEBOT_HOME; safe across threads and processes."""

    def __init__(self, path: str | Path, ttl_days: int = 7):
        from bot.home import private_file

        self.path = str(private_file(path))
        self.ttl = ttl_days * 86400
        self._local = threading.local()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL)"
            )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def load(self, key: str) -> Conversation:
        check_store_key(key)
        row = self._db().execute("SELECT data, updated FROM conversations WHERE key = ?", (key,)).fetchone()
        if row is None or time.time() - row[1] > self.ttl:
            return Conversation()
        return Conversation.from_json(row[0])

    def save(self, key: str, conversation: Conversation) -> None:
        check_store_key(key)
        conversation.updated_at = time.time()
        self._db().execute(
            "INSERT INTO conversations (key, data, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated = excluded.updated",
            (key, conversation.to_json(), conversation.updated_at),
        )

    def delete(self, key: str) -> None:
        check_store_key(key)
        self._db().execute("DELETE FROM conversations WHERE key = ?", (key,))


class DynamoConversationStore:
    """AWS store: a DynamoDB table with string partition key ``pk``, a JSON ``data`` attribute and a
    numeric ``expires`` attribute used as the table's TTL."""

    def __init__(self, table: str, client: Any, ttl_days: int = 7):
        self.table = table
        self.client = client
        self.ttl = ttl_days * 86400

    def load(self, key: str) -> Conversation:
        from bot.aws.clients import call

        check_store_key(key)  # the table also holds short links, Slack deliveries and insight items
        item = call(self.client.get_item, TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if not item or float(item.get("expires", {}).get("N", "0")) < time.time():
            return Conversation()
        return Conversation.from_json(item.get("data", {}).get("S"))

    def save(self, key: str, conversation: Conversation) -> None:
        from bot.aws.clients import call

        check_store_key(key)
        conversation.updated_at = time.time()
        call(
            self.client.put_item,
            TableName=self.table,
            Item={
                "pk": {"S": key},
                "data": {"S": conversation.to_json()},
                "expires": {"N": str(int(conversation.updated_at + self.ttl))},
            },
        )

    def delete(self, key: str) -> None:
        from bot.aws.clients import call

        check_store_key(key)
        call(self.client.delete_item, TableName=self.table, Key={"pk": {"S": key}})
