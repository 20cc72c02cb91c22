"""Slack adapters (pure), the seen-delivery stores (SQLite, DynamoDB on moto), the Lambda entry and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.channels import slack
from bot.turn import Citation, Media, Reply

FIX = Path(__file__).parent / "fixtures" / "slack"
SECRET = "lambda-signing-secret"
TOKEN = "xoxb-lambda-test"


def sign(body: str, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    import hashlib
    import hmac

    ts = int(time.time()) if ts is None else ts
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}


# -- pure adapters ---------------------------------------------------------------------------------

def test_plain_text_from_slack_markup():
    raw = "<@UBOT0001> see <https://a.example/x?y=1|the notes> &amp; <#C1|general>, <@U2> <!here> a &lt;b&gt;"
    assert slack.plain_text(raw, "UBOT0001") == "see the notes (https://a.example/x?y=1) & #general, @U2 @here a <b>"
    assert slack.plain_text("<mailto:a@b.c|a@b.c>") == "a@b.c (mailto:a@b.c)"
    assert slack.plain_text("") == ""


def test_conversation_and_delivery_keys():
    assert slack.conversation_key("T1", "C1", "123.4") == "slack:T1:C1:123.4"
    assert slack.conversation_key("T1", "D1", None, "U1", dm=True) == "slack:T1:dm:U1"
    assert slack.delivery_key({"event_id": "Ev1", "trigger_id": "x"}) == "event:Ev1"
    assert slack.delivery_key({"trigger_id": "t.1"}) == "trigger:t.1"
    assert slack.delivery_key({"type": "url_verification"}) is None


def test_reply_blocks_escape_chunk_and_fit_limits():
    long = ("word <@U1> & " * 700).strip()  # ~9 KB, with characters that must be escaped
    reply = Reply(text=long, intent="AskCoursePdfs", state="fulfilled",
                  citations=tuple(Citation(f"doc|{i}.pdf", i, f"https://x.example/{i} >") for i in range(1, 13)),
                  suggestions=tuple(f"suggestion {i} " + "x" * 100 for i in range(8)),
                  attachments=(Media("image", "image/png", url="https://cdn.example/img.png", title="A <chart>"),
                               Media("audio", "audio/mpeg", url="http://127.0.0.1:8000/files/a.mp3?sig=1"),
                               Media("image", "image/png", url="javascript:alert(1)")))
    text, blocks = slack.reply_blocks(reply, "slack:T1:C1:1.2")
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) >= 3 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert "<@U1>" not in "".join(b["text"]["text"] for b in sections)
    assert len(text) <= 3000 and "<" not in text
    contexts = [b for b in blocks if b["type"] == "context"]
    assert all(len(b["elements"]) <= 10 for b in contexts)
    cites = [e["text"] for b in contexts for e in b["elements"]]
    assert "<https://x.example/1%20%3E|[1] doc¦1.pdf, p. 1>" in cites  # '>' and '|' cannot break the link
    assert not any(b["type"] == "image" for b in blocks)  # media are uploaded, not linked
    assert not any("javascript" in json.dumps(b) or "a.mp3" in json.dumps(b) for b in blocks)
    buttons = [b for b in blocks if b["type"] == "actions"][0]["elements"]
    assert len(buttons) == 2 + slack.MAX_SUGGESTIONS
    assert all(len(b["value"]) <= 2000 and len(b["text"]["text"]) <= 75 for b in buttons)
    assert len({b["action_id"] for b in buttons}) == len(buttons)
    assert json.loads(buttons[0]["value"])["c"] == "slack:T1:C1:1.2"
    assert len(blocks) <= 50


def test_the_answering_sentence_is_bold_in_slack():
    reply = Reply(text="Limits\n**A function can run for at most 15 minutes.** Memory is <set> per function. [1]",
                  intent="AskCoursePdfs", state="fulfilled", citations=(Citation("lambda.pdf", 1),))
    _, blocks = slack.reply_blocks(reply, "slack:T1:C1:1.2")
    section = blocks[0]["text"]["text"]
    assert section == "Limits\n*A function can run for at most 15 minutes.* Memory is &lt;set&gt; per function. [1]"


def test_failed_reply_blocks_and_no_read_aloud_on_audio():
    text, blocks = slack.reply_blocks(Reply(text="Here", intent="SpeakAnswer",
                                            attachments=(Media("audio", "audio/mpeg", url="http://x/a"),)), "k")
    assert [b["type"] for b in blocks] == ["section"]
    text, blocks = slack.failure_blocks("Photo description is <not> available")
    assert text == "Photo description is &lt;not&gt; available"


def test_sources_blocks_quote_and_link():
    text, blocks = slack.sources_blocks([["a.pdf", 2, "https://x/a.pdf", "line1\nline2"], ["b.pdf", None, None, None]])
    assert "<https://x/a.pdf|[1] a.pdf, p. 2>" in blocks[0]["text"]["text"]
    assert ">line1\n>line2" in blocks[0]["text"]["text"]
    assert blocks[1]["text"]["text"] == "*[2] b.pdf*"


# -- seen-delivery stores --------------------------------------------------------------------------

def _contract(store):
    assert store.claim("event:Ev1") is True
    assert store.claim("event:Ev1") is False  # a retry
    assert store.begin("event:Ev1") is True
    assert store.begin("event:Ev1") is False  # a second worker
    assert store.begin("event:never-claimed") is False
    assert store.claim("event:Ev2") is True


def test_sqlite_dedupe_contract_and_shared_file(tmp_path):
    from bot.channels.slack.dedupe import SqliteDedupe

    _contract(SqliteDedupe(tmp_path / "d.sqlite3"))
    again = SqliteDedupe(tmp_path / "d.sqlite3")  # another process sees the same deliveries
    assert again.claim("event:Ev1") is False
    expired = SqliteDedupe(tmp_path / "d.sqlite3", ttl_seconds=-1)
    assert expired.claim("event:Ev1") is True


def test_memory_dedupe_contract():
    from bot.channels.slack.dedupe import MemoryDedupe

    _contract(MemoryDedupe())


def test_dynamo_dedupe_contract_on_moto(settings):
    from moto import mock_aws

    from bot.aws.clients import make_client
    from bot.aws.state_table import DynamoDedupe
    from bot.channels.slack_dedupe import build

    with mock_aws():
        cfg = settings.model_copy(update={"backend": "aws", "state_table": "cb-state"})
        client = make_client("dynamodb", cfg)
        client.create_table(TableName="cb-state", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        store = DynamoDedupe("cb-state", client)
        _contract(store)
        item = client.get_item(TableName="cb-state", Key={"pk": {"S": "slack-dedupe#event:Ev1"}})["Item"]
        assert item["state"]["S"] == "working" and int(item["expires"]["N"]) > time.time()
        assert isinstance(build(cfg), DynamoDedupe)
        # an item past its TTL that DynamoDB has not deleted yet does not block a new delivery
        client.put_item(TableName="cb-state", Item={"pk": {"S": "slack-dedupe#event:old"}, "state": {"S": "working"},
                                                    "expires": {"N": str(int(time.time()) - 10)}})
        assert store.claim("event:old") is True


def test_dedupe_stores_keep_their_old_import_path():
    from bot.channels import slack_dedupe
    from bot.channels.slack import dedupe

    assert slack_dedupe.DedupeStore is dedupe.DedupeStore and slack_dedupe.build is dedupe.build


# -- Lambda: ack in the first invocation, work in the second ---------------------------------------

class _Context:
    function_name = "coursebot-slack"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:coursebot-slack"


def _api_event(body: str, headers: dict[str, str]) -> dict:
    return {"version": "2.0", "routeKey": "POST /slack/events", "rawPath": "/slack/events", "rawQueryString": "",
            "headers": {k.lower(): v for k, v in {"content-type": "application/json", **headers}.items()},
            "requestContext": {"http": {"method": "POST", "path": "/slack/events"}, "stage": "$default"},
            "body": body, "isBase64Encoded": False}


def test_lambda_acks_then_works_in_an_async_invocation(settings, tmp_path):
    from botocore.stub import ANY, Stubber

    from bot.aws.clients import make_client
    from bot.channels.slack.dedupe import SqliteDedupe
    from bot.testing.slack_web_api import FakeSlack
    from bot.router import Router
    from bot.services import Services

    lam = make_client("lambda", settings)
    invoked: list[dict] = []
    lam.meta.events.register("provide-client-params.lambda.Invoke", lambda params, **kw: invoked.append(params))
    stub = Stubber(lam)
    stub.add_response("invoke", {"StatusCode": 202},
                      {"FunctionName": _Context.invoked_function_arn, "InvocationType": "Event", "Payload": ANY})
    with FakeSlack(TOKEN) as fake, stub:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url})
        handler = slack.make_lambda_handler(cfg, Router(Services(cfg)), lambda_client=lam,
                                            dedupe=SqliteDedupe(tmp_path / "d.sqlite3"))
        body = (FIX / "message_im.json").read_text()
        t = time.perf_counter()
        first = handler(_api_event(body, sign(body, secret=SECRET)), _Context())
        assert first["statusCode"] == 200 and time.perf_counter() - t < 3
        assert fake.called("chat.postMessage") == []  # nothing done before the ack went back
        assert len(invoked) == 1
        async_event = json.loads(invoked[0]["Payload"])
        assert async_event["headers"]["x-slack-bolt-lazy-only"] == "1"
        second = handler(async_event, _Context())  # what Lambda runs next, asynchronously
        assert second["statusCode"] == 200
        posts = fake.wait_for("chat.postMessage")
        assert len(posts) == 1 and posts[0].params["channel"] == "D0STUDENT1"
        # Slack's retry of the first request, and a replay of the async payload, do nothing more
        retry = handler(_api_event(body, {**sign(body, secret=SECRET), "X-Slack-Retry-Num": "1"}), _Context())
        assert retry["statusCode"] == 200
        handler(async_event, _Context())
        time.sleep(0.3)
        assert len(fake.called("chat.postMessage")) == 1
        stub.assert_no_pending_responses()


def test_lambda_rates_in_the_first_invocation_so_thumbs_down_can_open_its_form(settings, tmp_path):
    """👍 / 👎 are not lazy: the rating is stored and the modal opened before the 200 (the trigger_id lasts 3 s);
    no second invocation (the stubbed Lambda client has no response queued, so an Invoke would fail)."""
    import urllib.parse

    from botocore.stub import Stubber

    from bot.aws.clients import make_client
    from bot.channels.slack.dedupe import SqliteDedupe
    from bot.insight import record_turn
    from bot.router import Router
    from bot.services import Services
    from bot.testing.slack_web_api import FakeSlack
    from bot.turn import Turn

    lam = make_client("lambda", settings)
    invoked: list[dict] = []
    lam.meta.events.register("provide-client-params.lambda.Invoke", lambda params, **kw: invoked.append(params))
    with FakeSlack(TOKEN) as fake, Stubber(lam) as stub:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url})
        services = Services(cfg)
        key = "slack:T0000001:C0COURSE01:1763690000.000100"
        answer = Reply(text="Lex builds bots.", intent="AskCoursePdfs", citations=(Citation("lex.pdf", 2),))
        record_turn(Turn(conversation=key, text="what is Lex?", channel="slack"), answer, services)
        handler = slack.make_lambda_handler(cfg, Router(services), lambda_client=lam,
                                            dedupe=SqliteDedupe(tmp_path / "d.sqlite3"))
        payload = json.loads((FIX / "block_actions.json").read_text())
        payload["response_url"] = fake.root + "/response/lambda"
        payload["actions"] = [{"action_id": "coursebot_feedback_down", "block_id": "coursebot_feedback", "type": "button",
                               "value": json.dumps({"a": answer.answer_id, "c": key}), "action_ts": "1763690310.1"}]
        form = {"content-type": "application/x-www-form-urlencoded"}
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        assert handler(_api_event(body, {**sign(body, secret=SECRET), **form}), _Context())["statusCode"] == 200
        assert [(r.answer_id, r.rating) for r in services.insight.ratings()] == [(answer.answer_id, "down")]
        [opened] = fake.called("views.open")
        view = opened.params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        submission = {"type": "view_submission", "team": {"id": "T0000001"}, "user": {"id": "U0STUDENT1"},
                      "trigger_id": "1.2.lambda-submit",
                      "view": {**view, "state": {"values": {"coursebot_feedback_why": {"comment": {
                          "type": "plain_text_input", "value": "wrong page"}}}}}}
        body = urllib.parse.urlencode({"payload": json.dumps(submission)})
        done = handler(_api_event(body, {**sign(body, secret=SECRET), **form}), _Context())
        assert done["statusCode"] == 200 and done["body"] in ("", "{}")
        assert [(r.rating, r.comment) for r in services.insight.ratings()] == [("down", "wrong page")]
        assert invoked == []  # everything happened in the invocation Slack waits on
        stub.assert_no_pending_responses()


def test_lambda_handler_entry_point_is_importable_without_side_effects():
    import importlib

    mod = importlib.import_module("bot.channels.slack")
    assert callable(mod.lambda_handler)


# -- CLI and settings -----------------------------------------------------------------------------

def test_cli_fails_at_start_naming_the_missing_token(capsys, home):
    from bot import settings as settings_mod
    from bot.cli import main

    settings_mod.get.cache_clear()
    try:
        assert main(["slack", "--http"]) == 2
        assert "SLACK_BOT_TOKEN is not set" in capsys.readouterr().err
    finally:
        settings_mod.get.cache_clear()


def test_cli_needs_app_token_for_socket_mode(capsys, home, monkeypatch):
    from bot import settings as settings_mod
    from bot.cli import main

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    settings_mod.get.cache_clear()
    try:
        assert main(["slack", "--socket"]) == 2
        err = capsys.readouterr().err
        assert "SLACK_APP_TOKEN is not set" in err and "xapp-" in err
    finally:
        settings_mod.get.cache_clear()


def test_wrong_token_fails_at_start(settings):
    from bot.testing.slack_web_api import FakeSlack
    from bot.errors import ConfigError
    from bot.router import Router
    from bot.services import Services

    with FakeSlack("xoxb-right") as fake:
        cfg = settings.model_copy(update={"slack_bot_token": "xoxb-wrong", "slack_signing_secret": "s",
                                          "slack_api_url": fake.base_url})
        with pytest.raises(ConfigError, match="Slack rejected SLACK_BOT_TOKEN"):
            slack.build_app(cfg, Router(Services(cfg)))


def test_import_bot_does_not_import_slack_bolt():
    import subprocess
    import sys

    code = "import bot, bot.router, bot.cli, sys; print('slack_bolt' in sys.modules or 'slack_sdk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_slack_web_api_fake_is_not_on_a_request_path():
    import subprocess
    import sys

    code = ("import bot.channels.slack, bot.channels.slack_dedupe, bot.router, bot.cli, sys; "
            "print(sorted(m for m in sys.modules if m.startswith('bot.testing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# Every scope the app asks for, and the events that need it (an event subscription is refused without its scope).
SCOPES = {
    "app_mentions:read": {"app_mention"}, "channels:history": {"message.channels"},
    "groups:history": {"message.groups"}, "im:history": {"message.im"},
    "chat:write": set(), "commands": set(), "files:read": set(), "files:write": set(),
}


def _manifest() -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).parents[1] / "infra" / "slack-manifest.yaml").read_text())


def test_manifest_scopes_and_events_match_the_app():
    from bot.channels.slack.adapter import SHORTCUT_ASK

    manifest = _manifest()
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(SCOPES)
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_home_opened"} | set().union(*SCOPES.values())
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [slack.COMMAND]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # buttons, the feedback modal, the shortcut
    assert manifest["settings"]["interactivity"]["request_url"].endswith(slack.EVENTS_PATH)
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith(slack.EVENTS_PATH)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["name"], shortcut["type"], shortcut["callback_id"]) == (
        "Ask coursebot about this", "message", SHORTCUT_ASK)
    assert len(shortcut["name"]) <= 24 and 0 < len(shortcut["description"]) <= 150


def test_the_app_listens_for_every_subscribed_event_and_interaction():
    """What the manifest subscribes to is what the Bolt app has listeners for (and nothing is left unheard)."""
    from bot.channels.slack import feedback
    from bot.channels.slack.adapter import SHORTCUT_ASK

    source = (Path(slack.__file__).parent / "app.py").read_text()
    for event in ("app_mention", "message", "app_home_opened"):
        assert f'app.event("{event}")' in source, event
    assert "app.shortcut(SHORTCUT_ASK)" in source and "app.command(COMMAND)" in source
    assert "app.view(feedback.VIEW_COMMENT)" in source and "app.action(feedback.ACTION_PATTERN)" in source
    assert SHORTCUT_ASK == _manifest()["features"]["shortcuts"][0]["callback_id"]
    assert feedback.ACTION_PATTERN.match(feedback.ACTION_UP) and feedback.ACTION_PATTERN.match(feedback.ACTION_DOWN)


@pytest.mark.parametrize("channel, channel_type", [("C0COURSE01", "channel"), ("G0PRIVATE1", "group")])
def test_thread_replies_of_each_subscribed_channel_kind_are_follow_ups(channel, channel_type):
    """message.channels and message.groups deliver the same thread replies: both are read as follow-ups."""
    body = json.loads((FIX / "message_channels_thread_reply.json").read_text())
    body["event"].update(channel=channel, channel_type=channel_type)
    got = slack.event_to_turn(body, "UBOT0001")
    assert got is not None and got.follow_up and got.turn.conversation == f"slack:T0000001:{channel}:1763690000.000100"


def test_readme_gives_a_reason_for_every_scope_and_no_other():
    import re

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("\n## Slack"):]
    section = section[:section.index("\n## ", 1)]
    rows = dict(re.findall(r"^\s*\| `([a-z_]+(?::[a-z_]+)?)` \| (.+?) \|$", section, re.M))
    assert set(rows) == set(SCOPES)
    assert all(len(reason.split()) >= 3 for reason in rows.values())


def test_cli_http_mode_serves_signed_events(tmp_path):
    """`coursebot slack --http --port 0` as a user runs it: a real process, a signed event, one reply."""
    import os
    import re
    import subprocess
    import sys
    import urllib.request

    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as fake:
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "COURSEBOT_SLACK_API_URL": fake.base_url, "COURSEBOT_HOME": str(tmp_path / "home")}
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
                                 "slack", "--http", "--port", "0"], env=env,
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            m = re.search(r"(http://\S+/slack/events)", line)
            assert m, line
            body = (FIX / "message_im.json").read_text()
            req = urllib.request.Request(m.group(1), data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json", **sign(body)})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 200
            posts = fake.wait_for("chat.postMessage", timeout=30)
            assert len(posts) == 1 and posts[0].params["channel"] == "D0STUDENT1"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


# -- the thread store: which threads the bot is in, people's recent questions ----------------------

def _threads_contract(store) -> None:
    from bot.channels.slack.threads import RECENT, Question

    key = slack.adapter.thread_key("T1", "C1", "1.000100")
    assert store.joined(key) is False
    store.join(key)
    store.join(key)  # joining twice is harmless
    assert store.joined(key) is True
    assert store.joined(slack.adapter.thread_key("T1", "C1", "1.000200")) is False
    assert store.joined(slack.adapter.thread_key("T2", "C1", "1.000100")) is False  # another workspace
    assert store.recent("T1", "U1") == []
    for i in range(RECENT + 3):
        store.asked("T1", "U1", Question(f"question {i} " + "x" * 400, "C1", f"2.{i:06d}", "1.000100", 1000.0 + i))
    store.asked("T1", "U2", Question("someone else's", "C1", "3.000001", None, 2000.0))
    got = store.recent("T1", "U1", 5)
    assert [q.text.split()[1] for q in got] == ["12", "11", "10", "9", "8"]  # newest first
    assert all(len(q.text) <= 300 for q in got) and got[0].channel == "C1" and got[0].thread_ts == "1.000100"
    assert len(store.recent("T1", "U1", 100)) == RECENT
    assert [q.text for q in store.recent("T1", "U2")] == ["someone else's"]


def test_memory_threads_contract():
    from bot.channels.slack.threads import MemoryThreads

    _threads_contract(MemoryThreads())


def test_sqlite_threads_contract_shared_file_and_expiry(tmp_path):
    from bot.channels.slack.threads import SqliteThreads

    _threads_contract(SqliteThreads(tmp_path / "t.sqlite3"))
    key = slack.adapter.thread_key("T1", "C1", "1.000100")
    assert SqliteThreads(tmp_path / "t.sqlite3").joined(key) is True  # another process sees it
    assert SqliteThreads(tmp_path / "t.sqlite3", ttl_seconds=-1).joined(key) is False  # older than a term


def test_dynamo_threads_contract_on_moto(settings):
    from moto import mock_aws

    from bot.aws.clients import make_client
    from bot.channels.slack.threads import DynamoThreads, build

    with mock_aws():
        cfg = settings.model_copy(update={"backend": "aws", "state_table": "cb-state"})
        client = make_client("dynamodb", cfg)
        client.create_table(TableName="cb-state", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        store = DynamoThreads("cb-state", client)
        _threads_contract(store)
        item = client.get_item(TableName="cb-state", Key={"pk": {"S": "slack-thread#slack:T1:C1:1.000100"}})["Item"]
        assert int(item["expires"]["N"]) > time.time() + 80 * 24 * 3600
        assert isinstance(build(cfg), DynamoThreads)
        # an item past its TTL that DynamoDB has not deleted yet no longer counts
        client.put_item(TableName="cb-state", Item={"pk": {"S": "slack-thread#slack:T1:C9:1.1"},
                                                    "expires": {"N": str(int(time.time()) - 10)}})
        assert store.joined("slack:T1:C9:1.1") is False
        # the items never collide with conversations or deliveries
        keys = {i["pk"]["S"].split("#")[0] for i in client.scan(TableName="cb-state")["Items"]}
        assert keys == {"slack-thread", "slack-asked"}
