"""Fair-use quotas: one contract run against both stores, SQLite and DynamoDB (moto, on a table created
from the stack template's own StateTable properties, so conditional writes are really evaluated)."""

from __future__ import annotations

import threading

import pytest

from bot.quotas import DAY, HOUR, MINUTE, DynamoQuotas, SqliteQuotas, wait_sentence

T0 = 1_700_000_000.0 // DAY * DAY  # the start of a day: every window below starts here


class Clock:
    def __init__(self, now: float = T0 + 10):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamo(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    from moto import mock_aws

    from bot.aws.stack import build_template

    props = build_template()["Resources"]["StateTable"]["Properties"]
    # DynamoDB applies the writes to one item one at a time, each condition checked against the value
    # the previous write left; moto's backend does not lock, so the fake gets that one property here.
    from moto.dynamodb.models import DynamoDBBackend

    real, lock = DynamoDBBackend.update_item, threading.Lock()

    def serialized(self, *args, **kwargs):
        with lock:
            return real(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", serialized)
    with mock_aws():
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", BillingMode=props["BillingMode"],
                            AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"])
        yield client


@pytest.fixture(params=["sqlite", "dynamodb"])
def quotas(request, tmp_path):
    clock = Clock()
    if request.param == "sqlite":
        return SqliteQuotas(tmp_path / "quotas.sqlite3", clock=clock), clock
    return DynamoQuotas("state", request.getfixturevalue("dynamo"), clock=clock), clock


def test_the_limit_holds_and_a_refusal_records_nothing(quotas):
    q, clock = quotas
    assert [q.take("uploads", "T1:U1", 1, 3, HOUR) for _ in range(3)] == [None, None, None]
    wait = q.take("uploads", "T1:U1", 1, 3, HOUR)
    assert wait == pytest.approx(HOUR - 10)
    assert "try again in 60 minutes" == wait_sentence(wait)
    assert q.take("uploads", "T1:U2", 1, 3, HOUR) is None  # another student has their own count
    assert q.take("turns", "T1:U1", 1, 3, HOUR) is None  # and another quota is counted apart


def test_amounts_count_towards_the_limit(quotas):
    q, clock = quotas
    assert q.take("pages", "u", 600, 1000, DAY) is None
    assert q.take("pages", "u", 401, 1000, DAY) is not None  # 1001 > 1000: refused, not recorded
    assert q.take("pages", "u", 400, 1000, DAY) is None  # exactly the limit fits
    assert q.take("pages", "u", 1, 1000, DAY) is not None


def test_an_amount_over_the_whole_limit_is_refused_even_first(quotas):
    q, clock = quotas
    assert q.take("pages", "fresh", 1500, 1000, DAY) is not None
    assert q.take("pages", "fresh", 1000, 1000, DAY) is None  # the refusal left the day's count untouched


def test_the_window_resets(quotas):
    q, clock = quotas
    assert q.take("turns", "conv", 1, 2, MINUTE) is None
    assert q.take("turns", "conv", 1, 2, MINUTE) is None
    assert q.take("turns", "conv", 1, 2, MINUTE) == pytest.approx(50)
    clock.now += 49
    assert q.take("turns", "conv", 1, 2, MINUTE) is not None  # still the same minute
    clock.now += 2  # the next minute
    assert q.take("turns", "conv", 1, 2, MINUTE) is None


def test_concurrent_takes_never_exceed_the_limit(quotas):
    q, clock = quotas
    results: list[float | None] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            r = q.take("uploads", "busy", 1, 12, HOUR)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40
    assert sum(r is None for r in results) == 12  # exactly the limit, however the 40 takes interleave


def test_dynamo_counter_items_expire_with_the_table_ttl(dynamo):
    q = DynamoQuotas("state", dynamo, clock=Clock())
    assert q.take("uploads", "T1:U1", 1, 3, HOUR) is None
    items = dynamo.scan(TableName="state")["Items"]
    assert len(items) == 1
    item = items[0]
    assert item["pk"]["S"] == f"quota#uploads#T1:U1#{int(T0)}"  # its own key space, apart from conversations
    assert int(item["used"]["N"]) == 1
    assert int(item["expires"]["N"]) == int(T0) + HOUR + DAY  # the table's TTL attribute removes it later
