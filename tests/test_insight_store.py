"""One contract suite for every InsightStore: SQLite (local) and the state table on DynamoDB (moto)."""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from bot.capabilities import AnswerRecord, CuratedAnswer, Rating
from bot.insight.dynamo import DynamoInsightStore
from bot.insight.sqlite import SqliteInsightStore


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield SqliteInsightStore(tmp_path / "i.sqlite3", keep_days=180)
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        # a conversation item shares the table: the insight scans must not read it
        client.put_item(TableName="state", Item={"pk": {"S": "web-abc"}, "data": {"S": "{}"},
                                                 "expires": {"N": str(int(time.time() + 3600))}})
        yield DynamoInsightStore("state", client, keep_days=180)


def _record(answer_id="a" * 22, conversation="h1", at=None, course="default", **kw):
    return AnswerRecord(answer_id=answer_id, conversation=conversation, course=course,
                        intent=kw.pop("intent", "AskCoursePdfs"), question=kw.pop("question", "what is a vector?"),
                        answer=kw.pop("answer", "A vector holds values."),
                        citations=kw.pop("citations", (("R-intro.pdf", 7), ("R-lang.pdf", None))),
                        found=kw.pop("found", True), at=at or time.time())


def test_record_round_trip(store):
    r = _record()
    store.record(r)
    back = store.get(r.answer_id)
    assert back is not None
    assert (back.conversation, back.course, back.intent, back.question, back.answer, back.found) == \
        ("h1", "default", "AskCoursePdfs", "what is a vector?", "A vector holds values.", True)
    assert back.citations == (("R-intro.pdf", 7), ("R-lang.pdf", None))
    assert abs(back.at - r.at) < 0.01
    assert store.get("b" * 22) is None


def test_found_unknown_for_other_intents(store):
    store.record(_record(intent="Greeting", found=None, citations=()))
    assert store.get("a" * 22).found is None and store.get("a" * 22).citations == ()


def test_answers_filtered_by_time_and_course(store):
    now = time.time()
    store.record(_record("old" + "x" * 19, at=now - 10 * 86400))
    store.record(_record("new" + "x" * 19, at=now - 60))
    store.record(_record("oth" + "x" * 19, at=now - 30, course="other"))
    assert [a.answer_id[:3] for a in store.answers(since=now - 7 * 86400, course="default")] == ["new"]
    assert [a.answer_id[:3] for a in store.answers(course="default")] == ["old", "new"]
    assert [a.answer_id[:3] for a in store.answers()] == ["old", "new", "oth"]


def test_records_past_their_keep_time_are_gone(store):
    store.record(_record(at=time.time() - 181 * 86400))
    assert store.get("a" * 22) is None
    assert store.answers() == []


def test_one_rating_per_answer_and_conversation_last_counts(store):
    store.record(_record())
    store.rate(Rating("a" * 22, "h1", "up"))
    store.rate(Rating("a" * 22, "h1", "down", "wrong page"))
    ratings = store.ratings()
    assert [(r.rating, r.comment) for r in ratings] == [("down", "wrong page")]
    store.rate(Rating("a" * 22, "h2", "up"))
    assert sorted(r.conversation for r in store.ratings()) == ["h1", "h2"]


def test_curated_answers_per_course(store):
    store.pin(CuratedAnswer("c1", "default", "when are office hours?", "Tuesdays 2-4 pm, room 4.12"))
    store.pin(CuratedAnswer("c2", "default", "when is the exam?", "June 3"))
    store.pin(CuratedAnswer("c3", "other", "x?", "y"))
    assert [c.id for c in store.curated("default")] == ["c1", "c2"]
    store.pin(CuratedAnswer("c1", "default", "when are office hours?", "Wednesdays now"))
    assert {c.id: c.answer for c in store.curated("default")}["c1"] == "Wednesdays now"
    assert store.unpin("default", "c2") is True
    assert store.unpin("default", "c2") is False
    assert [c.id for c in store.curated("default")] == ["c1"]
    assert [c.id for c in store.curated("other")] == ["c3"] and store.curated("none") == []


def test_dynamo_items_carry_the_ttl(tmp_path):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        store = DynamoInsightStore("state", client, keep_days=30)
        r = _record()
        store.record(r)
        store.rate(Rating(r.answer_id, "h1", "down"))
        items = {i["pk"]["S"]: i for i in client.scan(TableName="state")["Items"]}
        answer = items["insight#answer#" + r.answer_id]
        assert int(answer["expires"]["N"]) == int(r.at + 30 * 86400)
        assert "expires" in items[f"insight#rating#{r.answer_id}#h1"]
        assert not any("user" in k for i in items.values() for k in i)  # no identity stored


def test_instructor_token_from_settings_or_random():
    from bot.insight.access import instructor_token, is_instructor
    from bot.settings import load

    token, generated = instructor_token(load(instructor_token="s3cret-token-value"))
    assert (token, generated) == ("s3cret-token-value", False)
    a, gen_a = instructor_token(load())
    b, _ = instructor_token(load())
    assert gen_a and a != b and len(a) >= 32
    other = a[:-1] + ("y" if a.endswith("x") else "x")  # a token one character off (never equal to it)
    assert is_instructor(a, a) and not is_instructor(other, a)
    assert not is_instructor("", "") and not is_instructor(None, a) and not is_instructor(["x"], a)
