"""Local state in COURSEBOT_HOME: conversations in one SQLite file (the aws side: bot/aws/state_table.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bot.conversation import Conversation
from bot.local.sqlite import PerThread


class SqliteConversationStore:
    """Local store: one SQLite file in COURSEBOT_HOME; safe across threads and processes."""

    def __init__(self, path: str | Path, ttl_days: int = 7):
        self._conn = PerThread(path)
        self.path = self._conn.path
        self.ttl = ttl_days * 86400
        self._db().execute(
            "CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL)"
        )

    def _db(self) -> Any:
        return self._conn.get()

    def load(self, key: str) -> Conversation:
        row = self._db().execute("SELECT data, updated FROM conversations WHERE key = ?", (key,)).fetchone()
        if row is None or time.time() - row[1] > self.ttl:
            return Conversation()
        return Conversation.from_json(row[0])

    def save(self, key: str, conversation: Conversation) -> None:
        conversation.updated_at = time.time()
        self._db().execute(
            "INSERT INTO conversations (key, data, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated = excluded.updated",
            (key, conversation.to_json(), conversation.updated_at),
        )

    def delete(self, key: str) -> None:
        self._db().execute("DELETE FROM conversations WHERE key = ?", (key,))


def build_conversations(settings: Any, services: Any) -> SqliteConversationStore:
    return SqliteConversationStore(settings.data_dir / "conversations.sqlite3", ttl_days=settings.conversation_ttl_days)
