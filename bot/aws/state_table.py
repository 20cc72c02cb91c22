"""The DynamoDB table the stack shares between stores: conversations and Slack deliveries.

One table, string partition key ``pk``, numeric TTL attribute ``expires``. Each store keeps its own
key space: conversation keys as the router builds them, ``slack-dedupe#<key>`` for Slack deliveries.
The local side is bot/local/state.py (conversations) and the Slack dedupe module (SQLite).
"""

from __future__ import annotations

import time
from typing import Any

from bot.aws.clients import call, make_client
from bot.conversation import Conversation

# Slack retries a delivery 3 times within ~5 minutes; a day is a generous window for replays too.
DEDUPE_TTL_SECONDS = 24 * 3600
DEDUPE_PREFIX = "slack-dedupe#"


class DynamoConversationStore:
    """Conversations: a JSON ``data`` attribute per key, expiring ``ttl_days`` after the last save."""

    def __init__(self, table: str, client: Any, ttl_days: int = 7):
        self.table = table
        self.client = client
        self.ttl = ttl_days * 86400

    def load(self, key: str) -> Conversation:
        item = call(self.client.get_item, TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if not item or float(item.get("expires", {}).get("N", "0")) < time.time():
            return Conversation()
        return Conversation.from_json(item.get("data", {}).get("S"))

    def save(self, key: str, conversation: Conversation) -> None:
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
        call(self.client.delete_item, TableName=self.table, Key={"pk": {"S": key}})


class DynamoDedupe:
    """Slack deliveries: conditional writes under keys ``slack-dedupe#<key>`` that never collide with conversations."""

    def __init__(self, table: str, client: Any, ttl_seconds: int = DEDUPE_TTL_SECONDS):
        self.table = table
        self.client = client
        self.ttl = ttl_seconds

    def claim(self, key: str) -> bool:
        now = time.time()
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": DEDUPE_PREFIX + key}, "state": {"S": "acked"},
                      "expires": {"N": str(int(now + self.ttl))}},
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
                Item={"pk": {"S": DEDUPE_PREFIX + key}, "state": {"S": "working"},
                      "expires": {"N": str(int(time.time() + self.ttl))}},
                ConditionExpression="#s = :acked",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":acked": {"S": "acked"}},
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False


def build_conversations(settings: Any, services: Any) -> DynamoConversationStore:
    return DynamoConversationStore(settings.state_table, make_client("dynamodb", settings),
                                   ttl_days=settings.conversation_ttl_days)


def build_dedupe(settings: Any) -> DynamoDedupe:
    return DynamoDedupe(settings.state_table, make_client("dynamodb", settings))
