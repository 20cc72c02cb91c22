"""Factories for AWS services that need no module of their own."""

from __future__ import annotations

from typing import Any

from bot.aws.clients import make_client
from bot.conversation import DynamoConversationStore


def conversations(settings: Any, services: Any) -> DynamoConversationStore:
    return DynamoConversationStore(settings.state_table, make_client("dynamodb", settings), ttl_days=settings.conversation_ttl_days)
