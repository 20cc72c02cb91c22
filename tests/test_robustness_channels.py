"""The bad-input corpus through the Lex and Slack channels, with the real intents (no fakes):
a valid channel response, a clear reply, no traceback and no internals; Slack answers each once."""

from __future__ import annotations

import copy
import json
import time

import pytest

import badinputs
from test_lex_channel import assert_valid, load
from test_robustness import FILES, LEAKS, SECRET_ENV, TEXTS, corpus  # noqa: F401  (corpus is a fixture)
from test_slack import SECRET, TOKEN, fixture, send_event, settle

LEX_TEXTS = {k: v for k, v in TEXTS.items() if k != "huge"} | {"huge": badinputs.HUGE_MESSAGE[:5000]}


@pytest.fixture
def lex_router(router, monkeypatch):
    from bot.channels import lex

    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(lex.handler, "_router", router)
    return router


def lex_event(intent: str, text: str, slot: str | None, speech: bool = False) -> dict:
    event = load("summarize_text_text_fulfillment")
    event["inputTranscript"] = text
    event["inputMode"] = "Speech" if speech else "Text"
    slots = {}
    if slot:
        slots[slot] = {"shape": "Scalar", "value": {"originalValue": text, "interpretedValue": text, "resolvedValues": []}}
    event["sessionState"]["intent"] = {"name": intent, "slots": slots, "state": "ReadyForFulfillment",
                                       "confirmationState": "None"}
    event["interpretations"] = [{"intent": copy.deepcopy(event["sessionState"]["intent"]), "nluConfidence": 0.8}]
    return event


@pytest.mark.parametrize("name", list(LEX_TEXTS))
@pytest.mark.parametrize("intent,slot", [("SummarizeText", "text"), ("SpeakAnswer", "text"),
                                         ("AskCoursePdfs", "question"), ("FallbackIntent", None)])
def test_bad_text_through_lex(name, intent, slot, lex_router):
    from bot.channels.lex import lambda_handler

    for speech in (False, True):
        event = lex_event(intent, LEX_TEXTS[name], slot, speech)
        response = lambda_handler(event, None)
        assert_valid(response, event)
        dumped = json.dumps(response, ensure_ascii=False)
        assert not LEAKS.search(dumped), dumped[:500]
        assert response.get("messages"), response
        if speech:
            # voice answers are SSML where the user's markup is escaped, never interpreted
            for m in response["messages"]:
                if m["contentType"] == "SSML":
                    assert "<break" not in m["content"] and "<audio" not in m["content"]


@pytest.fixture
def real_slack(tmp_path, settings, monkeypatch):
    """The Slack app over real HTTP with the real intents, against the local fake Slack Web API."""
    from bot.channels import slack
    from bot.channels.slack.dedupe import SqliteDedupe
    from bot.testing.slack_web_api import FakeSlack
    from bot.router import Router
    from bot.services import Services

    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url})
        app = slack.build_app(cfg, Router(Services(cfg)), dedupe=SqliteDedupe(tmp_path / "d.sqlite3"), workers=2)
        server = slack.serve_http(app, "127.0.0.1", 0)
        server.start_background()
        try:
            yield fake, server.url
        finally:
            server.shutdown()
            server.server_close()


def _posted(fake, before: int, timeout: float = 60.0) -> list:
    deadline = time.time() + timeout
    while time.time() < deadline:
        calls = fake.called("chat.postMessage") + fake.called("chat.postEphemeral")
        if len(calls) > before:
            return calls
        time.sleep(0.05)
    raise AssertionError("the bot never answered")


def test_bad_text_through_slack(real_slack):
    fake, url = real_slack
    for i, (name, text) in enumerate(TEXTS.items()):
        event = fixture("app_mention.json")
        event["event_id"] = f"EvBAD{i:04d}"
        event["event"]["text"] = "<@UBOT0001> " + text.replace("\udcff", "")
        event["event"]["ts"] = event["event"]["event_ts"] = f"1763690{i:03d}.000100"
        before = len(fake.called("chat.postMessage")) + len(fake.called("chat.postEphemeral"))
        status, _, elapsed = send_event(url, event)
        assert status == 200 and elapsed < 3.0, name
        calls = _posted(fake, before)
        new = calls[before:]
        dumped = json.dumps([c.params for c in new], ensure_ascii=False)
        assert not LEAKS.search(dumped), (name, dumped[:500])
        assert "<script>" not in dumped and "<!channel>" not in dumped.replace("&lt;!channel&gt;", "")


def test_bad_files_through_slack(real_slack, corpus):  # noqa: F811
    fake, url = real_slack
    for i, name in enumerate(FILES):
        data = corpus[name].read_bytes()
        event = fixture("message_im_file_share.json")
        event["event_id"] = f"EvFILE{i:04d}"
        event["event"]["ts"] = event["event"]["event_ts"] = f"1763691{i:03d}.000100"
        f = event["event"]["files"][0]
        f["name"] = f["title"] = name
        f["size"] = len(data)
        f["url_private_download"] = f["url_private"] = fake.add_file(f"F0BAD{i:05d}", data, "image/jpeg")
        before = len(fake.called("chat.postMessage")) + len(fake.called("chat.postEphemeral"))
        status, _, _ = send_event(url, event)
        assert status == 200
        new = _posted(fake, before)[before:]
        dumped = json.dumps([c.params for c in new], ensure_ascii=False)
        assert not LEAKS.search(dumped), (name, dumped[:500])
    settle(fake)
