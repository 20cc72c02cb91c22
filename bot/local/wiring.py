"""Factories for local services that need no engine of their own."""

from __future__ import annotations

from typing import Any

from bot.conversation import SqliteConversationStore


def conversations(settings: Any, services: Any) -> SqliteConversationStore:
    return SqliteConversationStore(settings.data_dir / "conversations.sqlite3", ttl_days=settings.conversation_ttl_days)
