"""AWS faults over real HTTP: throttling and timeouts are retried with backoff (botocore config from
bot.aws.clients.make_client), then become a friendly, user-safe error within a bounded time."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.aws.clients import make_client
from bot.conversation import DynamoConversationStore
from bot.errors import ServiceError
from bot.settings import load


class FakeDynamo(BaseHTTPRequestHandler):
    """Plays DynamoDB's JSON protocol: the first `fail` requests are throttled (or stall), then GetItem works."""

    fail = 0
    stall = 0.0
    calls: list[str] = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        FakeDynamo.calls.append(self.headers.get("X-Amz-Target", ""))
        if len(FakeDynamo.calls) <= FakeDynamo.fail:
            if FakeDynamo.stall:
                time.sleep(FakeDynamo.stall)
            body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                               "message": "Rate of requests exceeds the allowed throughput."}).encode()
            self.send_response(400)
        else:
            body = json.dumps({"Item": {"pk": {"S": "k"}, "data": {"S": '{"last_answer": "hello"}'},
                                        "expires": {"N": str(int(time.time()) + 60)}}}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    FakeDynamo.calls = []
    FakeDynamo.fail = 0
    FakeDynamo.stall = 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDynamo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def store(url, **settings):
    s = load(backend="aws", aws_endpoint_url=url, **settings)
    return DynamoConversationStore("t", make_client("dynamodb", s))


def test_throttling_is_retried_then_succeeds(fake):
    FakeDynamo.fail = 2
    assert store(fake, aws_max_attempts=4).load("k").last_answer == "hello"
    assert len(FakeDynamo.calls) == 3


def test_persistent_throttling_becomes_a_friendly_error(fake):
    FakeDynamo.fail = 100
    started = time.monotonic()
    with pytest.raises(ServiceError) as e:
        store(fake, aws_max_attempts=3).load("k")
    assert len(FakeDynamo.calls) == 3  # max_attempts counts the first try
    assert e.value.code == "throttled" and "busy" in e.value.user_message
    assert "Throttling" not in e.value.user_message and "127.0.0.1" not in e.value.user_message
    assert time.monotonic() - started < 30


def test_read_timeout_is_bounded_and_friendly(fake):
    FakeDynamo.fail = 100
    FakeDynamo.stall = 2.0
    started = time.monotonic()
    with pytest.raises(ServiceError) as e:
        store(fake, aws_max_attempts=2, aws_read_timeout=0.5).load("k")
    assert e.value.code == "unreachable"
    assert time.monotonic() - started < 10
