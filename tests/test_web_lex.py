"""The web chat's Lex mode over real HTTP: the page's API in front of a local fake of the Lex V2
runtime (bot/testing/lex_runtime.py, reached by boto3 through ``endpoint_url``, signed and parsed
for real), which answers with our own code hook. Sessions, voice uploads and errors."""

from __future__ import annotations

import base64
import math
import struct

import pytest
from conftest import require_engine, require_module

require_module("fastapi", "fastapi (the `web` extra)")
require_module("boto3")
from fastapi.testclient import TestClient  # noqa: E402

from web_fakes import fake_intents  # noqa: E402

BASE = "http://127.0.0.1:8000"
BOT, ALIAS = "ABCDE12345", "FGHIJ67890"
PCM = "audio/l16; rate=16000; channels=1"


def tone_pcm(seconds: float, hz: float = 220.0) -> bytes:
    n = int(16000 * seconds)
    return struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * hz * i / 16000)) for i in range(n)))


@pytest.fixture
def services(home):
    from bot.services import Services
    from bot.settings import load

    return Services(load(home=home, backend="local", public_url=BASE, web_max_upload_bytes=100_000))


@pytest.fixture
def lex(services):
    from bot.router import Router
    from bot.testing.lex_runtime import FakeLexRuntime

    with FakeLexRuntime(Router(services, intents=fake_intents()),
                        speak=lambda text: (b"ID3" + text.encode()[:50], "audio/mpeg")) as fake:
        yield fake


def _runtime_client(url: str):
    import boto3

    return boto3.client("lexv2-runtime", region_name="us-east-1", endpoint_url=url,
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def client(services, lex):
    from bot.aws.lex_runtime import LexRuntime
    from bot.channels.web import create_app
    from bot.channels.web.lexmode import LexChat
    from bot.router import Router

    chat = LexChat(LexRuntime(BOT, ALIAS, client=_runtime_client(lex.url)))
    app = create_app(services, Router(services, intents=fake_intents()), lex=chat)
    with TestClient(app, base_url=BASE) as c:
        yield c


def test_config_says_what_the_page_may_offer(client, services):
    from bot.channels.web import create_app

    lex_mode = client.get("/api/config").json()
    assert lex_mode["mode"] == "lex" and lex_mode["speech"] is True and lex_mode["uploads"] is False
    assert lex_mode["speech_sample_rate"] == 16000 and lex_mode["max_speech_bytes"] == 15 * 32000
    with TestClient(create_app(services), base_url=BASE) as local:
        config = local.get("/api/config").json()
        assert config["mode"] == "local" and config["speech"] is False and config["uploads"] is True
        refused = local.post("/api/voice", content=tone_pcm(1), headers={"Content-Type": PCM})
        assert refused.status_code == 404 and refused.json()["error"] == "not_available"


def test_typed_turn_goes_to_lex_with_the_signed_session(client, lex):
    r = client.post("/api/turn", data={"text": "What is Amazon Lex?"})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["intent"] == "AskCoursePdfs" and reply["state"] == "fulfilled"
    assert "Amazon Lex" in reply["text"] and "Sources:" not in reply["text"]
    assert [c["page"] for c in reply["citations"]] == [2, 1]
    link = reply["citations"][0]["url"]  # Lex carries a short link (never a signed URL as its text)
    assert link.startswith("/l/"), link
    opened = client.get(link, follow_redirects=False)
    assert opened.status_code == 302 and "/files/" in opened.headers["location"], opened.headers
    assert reply["answer_id"] == ""  # answers are rated with Lex's helpful buttons, not a local id
    call = lex.requests[-1]
    assert (call.op, call.bot, call.alias, call.locale) == ("text", BOT, ALIAS, "en_US")
    assert call.text == "What is Amazon Lex?" and call.request_attributes == {"coursebot_client": "web"}
    assert call.session == reply["conversation"] and call.session.startswith("web-")

    # the same browser keeps its Lex session; a forged cookie or a client-chosen id gets a new one
    client.post("/api/turn", data={"text": "hello", "session": "attacker-session"})
    assert lex.requests[-1].session == call.session
    client.cookies.clear()
    client.cookies.set("coursebot_session", "web-" + "0" * 32)
    client.post("/api/turn", data={"text": "hello", "sessionId": "victim"})
    assert lex.requests[-1].session not in (call.session, "victim", "web-" + "0" * 32)


def test_files_are_refused_in_lex_mode(client, lex):
    r = client.post("/api/turn", data={"text": "describe"}, files={"file": ("a.txt", b"hello", "text/plain")})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_attachment"
    assert lex.requests == []


def test_voice_turn_returns_transcript_reply_and_audio(client, lex):
    lex.heard = "what is amazon lex"
    pcm = tone_pcm(1.2)
    r = client.post("/api/voice", content=pcm, headers={"Content-Type": PCM})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript"] == "what is amazon lex" and body["intent"] == "AskCoursePdfs"
    assert "Amazon Lex" in body["text"] and "<speak>" not in body["text"]
    assert body["audio"]["mime"] == "audio/mpeg" and base64.b64decode(body["audio"]["data"]).startswith(b"ID3")
    call = lex.requests[-1]
    assert call.op == "utterance" and call.pcm == pcm and call.headers["content-type"] == PCM
    assert call.headers["response-content-type"] == "audio/mpeg"
    assert call.request_attributes == {"coursebot_client": "web"} and call.session == body["conversation"]
    assert lex.errors == []


def test_voice_uploads_are_checked_before_lex_is_called(client, lex):
    wrong = client.post("/api/voice", content=tone_pcm(1), headers={"Content-Type": "audio/wav"})
    assert wrong.status_code == 415 and wrong.json()["error"] == "unsupported_audio"
    rate = client.post("/api/voice", content=tone_pcm(1), headers={"Content-Type": "audio/l16; rate=44100"})
    assert rate.status_code == 415
    long = client.post("/api/voice", content=tone_pcm(15.5), headers={"Content-Type": PCM})
    assert long.status_code == 413 and long.json()["error"] == "speech_too_long" and "15 seconds" in long.json()["text"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"\x01\x00" * 16000

    streamed = client.post("/api/voice", content=chunks(), headers={"Content-Type": PCM})
    assert streamed.status_code == 413
    short = client.post("/api/voice", content=b"\x00\x00" * 100, headers={"Content-Type": PCM})
    assert short.status_code == 200 and short.json()["error"] == "nothing_heard"
    other = client.post("/api/voice", content=tone_pcm(1), headers={"Content-Type": PCM, "Origin": "https://evil.example"})
    assert other.status_code == 403
    assert lex.requests == []


def test_silence_and_lex_errors_are_plain_sentences(client, lex):
    lex.heard = ""
    silent = client.post("/api/voice", content=b"\x00\x00" * 32000, headers={"Content-Type": PCM})
    assert silent.status_code == 200 and silent.json()["error"] == "nothing_heard"
    assert silent.json()["transcript"] == "" and silent.json()["audio"] is None
    for status, code, short in ((429, "ThrottlingException", "throttled"),
                                (424, "DependencyFailedException", "hook_failed")):
        lex.fail_next[:] = [(status, code)] * 5  # more than boto3's retries of a throttled call
        r = client.post("/api/turn", data={"text": "What is Amazon Lex?"})
        lex.fail_next.clear()
        body = r.json()
        assert body["state"] == "failed" and body["error"] == short, body
        assert "injected" not in body["text"] and "Exception" not in body["text"]


def test_serve_checks_the_lex_ids(home, capsys):
    from bot.cli import build_parser
    from bot.cli import serve as web_cli

    for bad in ("nope", "ABCDE12345/short", "ABCDE12345/FGHIJ67890/../x"):
        assert web_cli.run(build_parser().parse_args(["serve", "--port", "0", "--lex", bad])) == 2
        assert "BOT_ID/ALIAS_ID" in capsys.readouterr().err
    assert web_cli.run(build_parser().parse_args(["serve", "--port", "0", "--lex", f"{BOT}/{ALIAS}",
                                                  "--locale", "english"])) == 2
    assert "en_US" in capsys.readouterr().err


def test_serve_lex_mode_answers_through_the_runtime(home, lex, monkeypatch, capsys):
    import uvicorn

    from bot.cli import build_parser
    from bot.cli import serve as web_cli

    seen = {}

    def fake_run(self, sockets=None):
        seen["app"] = self.config.app
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    monkeypatch.setenv("COURSEBOT_AWS_ENDPOINT_URL", lex.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    assert web_cli.run(build_parser().parse_args(["serve", "--port", "0", "--lex", f"{BOT}/{ALIAS}",
                                                  "--locale", "en_GB"])) == 0
    out = capsys.readouterr().out
    assert out.split()[3].startswith("http://127.0.0.1:") and f"Lex bot {BOT}" in out
    with TestClient(seen["app"], base_url=out.split()[3]) as c:
        assert c.get("/api/config").json()["mode"] == "lex"
        assert c.post("/api/turn", data={"text": "hello"}).status_code == 200
    assert lex.requests[-1].locale == "en_GB" and lex.requests[-1].alias == ALIAS
