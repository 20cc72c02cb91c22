"""Conversation keys nobody can forge, and the edges of the web chat, the CLI and the Lex photo slot:
driven through the real Lex handler, the web app (TestClient and real HTTP), the Slack adapter and the CLI."""

from __future__ import annotations

import copy
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import keys
from bot.channels import lex
from bot.turn import Turn

LEX = Path(__file__).parent / "fixtures" / "lex"
ALICE = "us-east-1:aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
MALLORY = "us-east-1:mmmmmmmm-2222-4222-8222-mmmmmmmmmmmm"
NOTHING = "What should I read aloud?"


def event(name: str, session_id: str, attributes: dict | None = None) -> dict:
    e = copy.deepcopy(json.loads((LEX / f"{name}.json").read_text()))
    e["sessionId"] = session_id
    e["sessionState"]["sessionAttributes"] = dict(attributes or {})
    return e


def read_aloud(router, session_id: str, attributes: dict | None) -> dict:
    """The Lex dialog step of "read that aloud" with no text: Delegate when the conversation has an
    answer to read, else ElicitSlot "What should I read aloud?"."""
    return lex.handle_event(event("speak_answer_text_dialog_missing_slot", session_id, attributes), router=router,
                            budget=60)


def elicits_nothing(response: dict) -> bool:
    return (response["sessionState"]["dialogAction"]["type"] == "ElicitSlot"
            and NOTHING in response["messages"][0]["content"])


@pytest.fixture
def alice(router):
    """Alice has a text summarized in Lex: her conversation now has an answer to read aloud."""
    response = lex.handle_event(event("summarize_text_text_fulfillment", ALICE), router=router, budget=120)
    assert response["sessionState"]["intent"]["state"] == "Fulfilled"
    assert router.services.conversations.load("lex-" + ALICE).last_answer
    return response["sessionState"]["sessionAttributes"]


# --- Lex: a session gets only its own conversation ------------------------------------------------------
def test_lex_replayed_attributes_of_another_session_get_nothing(router, alice):
    assert alice["coursebot_conversation"].startswith(f"lex-{ALICE}.")  # issued, signed for Alice
    assert elicits_nothing(read_aloud(router, MALLORY, alice))
    fulfilled = lex.handle_event(event("speak_answer_text_dialog_missing_slot", MALLORY, alice) | {
        "invocationSource": "FulfillmentCodeHook"}, router=router, budget=60)
    assert NOTHING in fulfilled["messages"][0]["content"]
    # Alice still has her context, with her own attributes and with none at all
    assert read_aloud(router, ALICE, alice)["sessionState"]["dialogAction"]["type"] == "Delegate"
    assert read_aloud(router, ALICE, {})["sessionState"]["dialogAction"]["type"] == "Delegate"


def test_lex_naming_another_sessions_default_key_gets_nothing(router, alice):
    assert elicits_nothing(read_aloud(router, MALLORY, {"coursebot_conversation": "lex-" + ALICE}))
    # nor a copy of Alice's signed key with the signature of another session
    token = keys.issue("lex-" + ALICE, "lex", MALLORY, b"not the server's secret" * 2)
    assert elicits_nothing(read_aloud(router, MALLORY, {"coursebot_conversation": token}))
    assert read_aloud(router, ALICE, alice)["sessionState"]["dialogAction"]["type"] == "Delegate"


def test_lex_naming_a_slack_dm_or_web_key_gets_nothing(router):
    dm = keys.slack("T0000001", "D0DM00001", None, "U0STUDENT1", dm=True)
    text = ("The Lex bot reads the answer aloud when asked. It keeps each conversation apart. "
            "Slack users see their own answers, and nobody else's.")
    router.handle(Turn(conversation=dm, text="summarize this", user="T0000001:U0STUDENT1", channel="slack",
                       intent="SummarizeText", slots={"text": text}))
    assert router.services.conversations.load(dm).last_answer
    for named in (dm, "web-7f3a9c", "web-" + "0" * 32):
        response = read_aloud(router, MALLORY, {"coursebot_conversation": named})
        assert elicits_nothing(response), named
        assert response["sessionState"]["sessionAttributes"]["coursebot_conversation"].startswith(f"lex-{MALLORY}.")


def test_lex_input_never_names_internal_items(router):
    db = router.services.conversations.path
    for attrs, session_id in (({"coursebot_conversation": "link#AAAAAAAAAAAAAAAAAAAAAA"}, MALLORY),
                              ({"coursebot_conversation": "slack-dedupe#event:Ev1"}, MALLORY),
                              ({"coursebot_conversation": "insight#answer#1"}, MALLORY),
                              ({}, "link#AAAAAAAAAAAAAAAAAAAAAA"), ({}, "slack-dedupe#event:Ev1"),
                              ({}, "a/../b"), ({}, "x" * 500)):
        turn = lex.to_turn(event("greeting_text_fulfillment", session_id, attrs), keys.secret(router.settings))
        assert keys.parse(turn.conversation).channel == "lex" and not keys.is_internal(turn.conversation)
        lex.handle_event(event("greeting_text_fulfillment", session_id, attrs), router=router)
    stored = [k for (k,) in sqlite3.connect(db).execute("SELECT key FROM conversations")]
    assert stored and all(k.startswith(("lex-", "lex!")) and "#" not in k and "/" not in k for k in stored), stored
    with pytest.raises(Exception):
        router.services.conversations.save("link#AAAAAAAAAAAAAAAAAAAAAA", router.services.conversations.load("x"))


# --- Slack: a button names only the clicking user's conversations ------------------------------------------
def click(value: dict, team="T0000001", user="U0STUDENT1", channel="C0COURSE01") -> Turn:
    from bot.channels.slack import action_to_turn

    body = {"type": "block_actions", "team": {"id": team}, "user": {"id": user}, "channel": {"id": channel},
            "message": {"ts": "1763690000.000100", "text": "an answer"},
            "actions": [{"action_id": "coursebot_suggest_0", "value": json.dumps(value)}]}
    return action_to_turn(body).turn


def test_slack_button_cannot_name_another_conversation():
    own = keys.slack("T0000001", "C0COURSE01", "1763690000.000100")
    assert click({"c": own, "t": "more"}).conversation == own
    mine = keys.slack("T0000001", "D0DM00001", None, "U0STUDENT1", dm=True)
    assert click({"c": mine, "t": "more"}).conversation == mine
    for foreign in (keys.slack("T0000001", "D0DM00002", None, "U0OTHER002", dm=True),  # another user's DM
                    keys.slack_command("T0000001", "C0COURSE01", "U0OTHER002"),  # their private answers
                    keys.slack("T0000001", "C0OTHER001", "1.2"),  # a thread of another channel
                    keys.slack("T0OTHER01", "C0COURSE01", "1763690000.000100"),  # another team
                    "lex-" + ALICE, "web-" + "0" * 32, "link#AAAAAAAAAAAAAAAAAAAAAA", "slack-dedupe#event:Ev1"):
        assert click({"c": foreign, "t": "more"}).conversation == own, foreign


# --- web: signed sessions, opaque conversation ids -------------------------------------------------------------
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def web(home):
    from fastapi.testclient import TestClient

    from bot.channels.web import create_app
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    services = Services(load(home=home, backend="local", public_url=BASE, web_max_upload_bytes=50_000))
    with TestClient(create_app(services, Router(services)), base_url=BASE) as client:
        client.services = services
        yield client


def test_web_refuses_unsigned_and_forged_session_cookies(web):
    first = web.post("/api/turn", data={"text": "hello"})
    cookie = first.cookies["coursebot_session"]
    conversation = first.json()["conversation"]
    assert cookie not in conversation and cookie.split(".")[0] not in first.text  # the id is not the credential
    again = web.post("/api/turn", data={"text": "hello"})
    assert again.json()["conversation"] == conversation and "set-cookie" not in again.headers

    sid, _, mac = cookie.partition(".")
    for forged in ("A" * 24, sid, f"{sid}.{'A' * 22}", f"{'B' * 24}.{mac}", conversation):
        web.cookies.clear()
        web.cookies.set("coursebot_session", forged)
        r = web.post("/api/turn", data={"text": "hello"})
        assert r.status_code == 200
        new = r.cookies.get("coursebot_session")
        assert new and new != forged and r.json()["conversation"] != conversation, forged


def test_web_chunked_upload_over_the_limit_is_413_with_the_reply(web):
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nwhat is this?\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n").encode()

    def chunks():  # no Content-Length: the body is sent chunked
        yield head
        for _ in range(40):
            yield b"0" * 8192

    r = web.post("/api/turn", content=chunks(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    assert r.json()["error"] == "attachment_too_large" and r.json()["state"] == "failed" and "MB" in r.json()["text"]


def test_web_serves_stored_documents_sandboxed(web):
    blobs = web.services.blobs
    course = blobs.put("kb/pdfs/notes.pdf", b"%PDF-1.4\n/JS (app.alert(1))\n%%EOF", "application/pdf")
    upload = blobs.put(keys.blob_folder(keys.UPLOADS, "web-" + "0" * 32) + "x.pdf", b"%PDF-1.4\n%%EOF", "application/pdf")
    page = blobs.put("media/page.html", b"<html><script>alert(1)</script></html>", "text/html")
    for stored, disposition in ((course, "inline"), (upload, "attachment"), (page, "attachment")):
        r = web.get(stored.url[len(BASE):])
        assert r.status_code == 200
        assert "sandbox" in r.headers["content-security-policy"], stored.key
        assert r.headers["content-disposition"].startswith(disposition), stored.key
    assert web.get(page.url[len(BASE):]).headers["content-type"] == "application/octet-stream"


def test_home_and_its_stores_are_private(tmp_path):
    from fastapi.testclient import TestClient

    from bot.channels.web import create_app
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    home = tmp_path / "fresh-home"
    old = os.umask(0o022)
    try:
        services = Services(load(home=home, backend="local", public_url=BASE))
        with TestClient(create_app(services, Router(services)), base_url=BASE) as client:
            photo = Path(__file__).parent / "fixtures" / "web" / "photo.png"
            files = {"file": ("p.png", photo.read_bytes(), "image/png")}
            assert client.post("/api/turn", data={"text": "describe this photo"}, files=files).status_code == 200
            services.links  # noqa: B018 - the short-link store creates its file
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    made = [p for p in home.rglob("*")]
    names = {p.name for p in made}
    assert {"conversations.sqlite3", "links.sqlite3", "secret.key", "blobs"} <= names, names
    assert any(keys.UPLOADS.rstrip("/") in p.parts and p.is_file() for p in made), names  # the photo was kept
    for p in made:
        if "cache" in p.relative_to(home).parts:  # the NLU's embeddings of the intents' sample utterances
            continue
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), (p, oct(p.stat().st_mode))


def test_web_body_that_never_finishes_is_cut_off(home):
    from bot.channels.web import create_app
    from bot.cli.serve import BackgroundServer
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    def factory(url):
        services = Services(load(home=home, backend="local", public_url=url, web_body_timeout_seconds=1.0))
        return create_app(services, Router(services))

    with BackgroundServer(factory) as url:
        host, port = url.rsplit("//", 1)[1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /api/turn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1000\r\n\r\ntext=hel")
            started = time.monotonic()
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            took = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer and took < 5


# --- CLI ---------------------------------------------------------------------------------------------------------
def cli(*args, home, input=None):
    env = {**os.environ, "COURSEBOT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, input=input)


def test_cli_session_cannot_name_internal_items_or_other_channels(tmp_path):
    for bad in ("link#AAAAAAAAAAAAAAAAAAAAAA", "slack-dedupe#event:Ev1", "slack:T1:dm:U1", "web-7f3a9c",
                "lex-" + ALICE, "../x", ""):
        p = cli("turn", "hi", "--session", bad, "--json", home=tmp_path)
        assert p.returncode == 2 and "--session" in p.stderr and "Traceback" not in p.stderr, (bad, p.stderr)
    ok = cli("turn", "hi", "--session", "my-session.1", "--json", home=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["conversation"] == "my-session.1"


def test_lex_invoke_on_deeply_nested_json_is_a_clear_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    p = cli("lex", "invoke", "--event", str(deep), home=tmp_path)
    assert p.returncode == 2 and "nested" in p.stderr
    assert "RecursionError" not in p.stderr and "Traceback" not in p.stderr
    assert lex_cli_depth('{"a": "[[[[", "b": [{"c": 1}]}') == 3


def lex_cli_depth(text: str) -> int:
    from bot.cli.lex import json_depth

    return json_depth(text)


# --- Lex photo slot: only this stack's buckets -----------------------------------------------------------------
def test_lex_s3_photo_slot_accepts_only_our_buckets(home, monkeypatch):
    from moto import mock_aws

    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("someone-elses-bucket", "coursebot-media"):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"not a photo at all")
        settings = load(home=home, backend="aws", media_bucket="coursebot-media", pdf_bucket="coursebot-pdfs")
        router = Router(Services(settings))

        def describe(url: str) -> dict:
            e = event("describe_photo_text_fulfillment", ALICE)
            for where in (e["sessionState"]["intent"], e["interpretations"][0]["intent"]):
                where["slots"]["image"]["value"] = {"originalValue": url, "interpretedValue": url, "resolvedValues": [url]}
            return lex.handle_event(e, router=router)

        refused = describe("s3://someone-elses-bucket/photo.jpg")["messages"][0]["content"]
        assert "only open photos uploaded to this course" in refused
        # our own bucket is read (and the bytes are then refused as not a photo, which proves the read)
        ours = describe("s3://coursebot-media/photo.jpg")["messages"][0]["content"]
        assert "only open photos" not in ours and "photo" in ours.lower()


def test_stack_gives_every_instance_one_signing_secret():
    from bot.aws.stack import build_template

    resources = build_template()["Resources"]
    assert resources["ServerSecret"]["Type"] == "AWS::SecretsManager::Secret"
    for fn in ("LexFunction", "SlackFunction"):
        value = resources[fn]["Properties"]["Environment"]["Variables"]["COURSEBOT_SECRET_KEY"]
        assert value == {"Fn::Sub": "{{resolve:secretsmanager:${ServerSecret}:SecretString}}"}, fn
