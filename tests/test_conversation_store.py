"""One contract suite for every ConversationStore: SQLite (local) and DynamoDB (aws, through moto)."""

from __future__ import annotations

import threading

import boto3
import pytest
from moto import mock_aws

from bot.aws.state_table import DynamoConversationStore
from bot.conversation import Conversation
from bot.local.state import SqliteConversationStore


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield SqliteConversationStore(tmp_path / "c.sqlite3")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="conv", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        yield DynamoConversationStore("conv", client)


def test_unknown_key_is_a_fresh_conversation(store):
    c = store.load("nobody")
    assert c == Conversation()


def test_round_trip(store):
    c = Conversation(last_answer="Lex builds bots.", kb_session="sess-1", last_image="img/abc.png",
                     pending={"intent": "SpeakAnswer", "slot": "text", "slots": {"voice": "Joanna"}})
    store.save("k1", c)
    back = store.load("k1")
    assert back.last_answer == "Lex builds bots." and back.kb_session == "sess-1"
    assert back.pending == {"intent": "SpeakAnswer", "slot": "text", "slots": {"voice": "Joanna"}}
    assert back.updated_at > 0


def test_overwrite_and_delete(store):
    store.save("k", Conversation(last_answer="one"))
    store.save("k", Conversation(last_answer="two"))
    assert store.load("k").last_answer == "two"
    store.delete("k")
    assert store.load("k").last_answer is None


def test_keys_are_isolated(store):
    store.save("a", Conversation(last_answer="A"))
    store.save("b", Conversation(last_answer="B"))
    assert store.load("a").last_answer == "A" and store.load("b").last_answer == "B"


def test_state_stays_small(store):
    store.save("big", Conversation(last_answer="x" * 500_000))
    assert len(store.load("big").last_answer) <= 20_000


def test_expired_state_is_forgotten(tmp_path):
    s = SqliteConversationStore(tmp_path / "c.sqlite3", ttl_days=0)
    s.save("k", Conversation(last_answer="old"))
    assert s.load("k").last_answer is None


def test_sqlite_store_is_thread_safe(tmp_path):
    s = SqliteConversationStore(tmp_path / "c.sqlite3")
    errors = []

    def work(i):
        try:
            for j in range(20):
                s.save(f"k{i}", Conversation(last_answer=str(j)))
                s.load(f"k{i}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert all(s.load(f"k{i}").last_answer == "19" for i in range(8))


def test_corrupt_row_is_a_fresh_conversation():
    assert Conversation.from_json("{not json") == Conversation()
    assert Conversation.from_json('{"last_answer": "x", "unknown_field": 1}').last_answer == "x"


def test_dynamo_errors_are_user_safe():
    from botocore.stub import Stubber

    from bot.errors import ServiceError

    client = boto3.client("dynamodb", region_name="us-east-1")
    store = DynamoConversationStore("conv", client)
    with Stubber(client) as stub:
        stub.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(ServiceError) as e:
            store.load("k")
    assert "busy" in e.value.user_message and "conv" not in e.value.user_message
