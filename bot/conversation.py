"""What the bot remembers per conversation, and the hash that names a conversation's files.

The stores (ConversationStore in bot/capabilities.py) live beside their backends: SQLite in
bot/local/state.py, DynamoDB in bot/aws/state_table.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bot.capabilities import ConversationStore  # noqa: F401  (re-exported)

from bot import keys

# Keep state small: it is ids and the last answer, never transcripts. Lex session attributes only
# carry the conversation key; DynamoDB items are capped at 400 KB.
MAX_ANSWER_CHARS = 20_000


@dataclass
class Conversation:
    """What the bot remembers about one conversation."""

    last_answer: str | None = None
    last_intent: str | None = None
    last_answer_id: str | None = None  # the Reply.answer_id of last_answer, which "that was wrong" rates
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


def conversation_hash(conversation: str) -> str:
    """The key segment that groups a conversation's files: a hash, never the raw (possibly personal) key."""
    return keys.conversation_hash(conversation)


def __getattr__(name: str) -> Any:
    # the stores moved beside their backends; old imports keep working
    if name == "SqliteConversationStore":
        from bot.local.state import SqliteConversationStore

        return SqliteConversationStore
    if name == "DynamoConversationStore":
        from bot.aws.state_table import DynamoConversationStore

        return DynamoConversationStore
    raise AttributeError(name)
