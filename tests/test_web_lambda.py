"""The web chat on Lambda (``bot.channels.web.lambda_handler``): HTTP API payload-2.0 events in,
payload-2.0 responses out, in Lex mode against the local fake of the Lex runtime over HTTP."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest
from conftest import require_module

require_module("fastapi", "fastapi (the `web` extra)")
require_module("boto3")

from web_fakes import fake_intents  # noqa: E402

HOST = "abc123defg.execute-api.us-east-1.amazonaws.com"
BOT, ALIAS = "ABCDE12345", "FGHIJ67890"


def event(method: str, path: str, *, body: bytes = b"", headers: dict | None = None, cookies: list | None = None,
          query: str = "") -> dict:
    """An HTTP API payload-2.0 event as API Gateway sends it (binary bodies base64-encoded)."""
    e = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
        "headers": {"host": HOST, "x-forwarded-proto": "https", "x-forwarded-port": "443",
                    "user-agent": "Mozilla/5.0", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
                           "domainName": HOST, "stage": "$default"},
        "isBase64Encoded": bool(body),
    }
    if body:
        e["body"] = base64.b64encode(body).decode()
    if cookies:
        e["cookies"] = cookies
    return e


@pytest.fixture
def lex(home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.testing.lex_runtime import FakeLexRuntime

    services = Services(load(home=home, backend="local"))
    with FakeLexRuntime(Router(services, intents=fake_intents()),
                        speak=lambda text: (b"ID3fake-mp3", "audio/mpeg")) as fake:
        yield fake


@pytest.fixture
def app(lex, monkeypatch, home):
    from bot.channels.web.aws_lambda import build_app
    from bot.settings import load

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings = load(home=home, backend="aws", lex_bot_id=BOT, lex_bot_alias_id=ALIAS, aws_endpoint_url=lex.url,
                    secret_key="one-secret-for-every-instance")
    return build_app(settings)


def test_page_and_static_files(app):
    from bot.channels.web.aws_lambda import run

    page = run(app, event("GET", "/"))
    assert page["statusCode"] == 200 and 'id="talk"' in page["body"] and not page["isBase64Encoded"]
    assert page["cookies"][0].startswith("coursebot_session=") and "HttpOnly" in page["cookies"][0]
    script = run(app, event("GET", "/static/voice.js"))
    assert script["statusCode"] == 200 and "audio/l16" in script["body"]
    config = json.loads(run(app, event("GET", "/api/config"))["body"])
    assert config["mode"] == "lex" and config["speech"] is True


def test_typed_and_spoken_turns_keep_one_lex_session(app, lex):
    from bot.channels.web.aws_lambda import run

    boundary = "----coursebot"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nWhat is Amazon Lex?\r\n"
            f"--{boundary}--\r\n").encode()
    first = run(app, event("POST", "/api/turn", body=form, headers={
        "content-type": f"multipart/form-data; boundary={boundary}", "origin": f"https://{HOST}"}))
    assert first["statusCode"] == 200, first["body"]
    reply = json.loads(first["body"])
    assert reply["intent"] == "AskCoursePdfs" and reply["citations"]
    cookie = first["cookies"][0].split(";")[0]

    lex.heard = "read that aloud"
    pcm = struct.pack("<16000h", *(int(6000 * math.sin(i / 5)) for i in range(16000)))
    spoken = run(app, event("POST", "/api/voice", body=pcm, cookies=[cookie], headers={
        "content-type": "audio/l16; rate=16000; channels=1", "origin": f"https://{HOST}"}))
    assert spoken["statusCode"] == 200, spoken["body"]
    body = json.loads(spoken["body"])
    assert body["transcript"] == "read that aloud" and base64.b64decode(body["audio"]["data"]) == b"ID3fake-mp3"
    assert "cookies" not in spoken  # the same browser session
    text_call, voice_call = lex.requests[-2], lex.requests[-1]
    assert text_call.session == voice_call.session == reply["conversation"]
    assert voice_call.pcm == pcm  # the base64 body was decoded before it reached Lex

    other_site = run(app, event("POST", "/api/voice", body=pcm, headers={
        "content-type": "audio/l16; rate=16000; channels=1", "origin": "https://evil.example"}))
    assert other_site["statusCode"] == 403


def test_the_handler_needs_the_bot_settings(home):
    from bot.channels.web.aws_lambda import build_app
    from bot.errors import ConfigError
    from bot.settings import load

    with pytest.raises(ConfigError, match="COURSEBOT_LEX_BOT_ID"):
        build_app(load(home=home, backend="aws"))
