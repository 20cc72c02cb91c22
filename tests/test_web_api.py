"""The web chat's HTTP API: turns, conversations per browser, uploads, signed file links, same-origin."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import require_module

require_module("fastapi", "fastapi (the `web` extra)")
from fastapi.testclient import TestClient  # noqa: E402

from web_fakes import FIXTURES, HOSTILE, PDF_KEY, fake_intents  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def web_settings(home):
    from bot.settings import load

    return load(home=home, backend="local", public_url=BASE, web_max_upload_bytes=100_000)


@pytest.fixture
def web_services(web_settings):
    from bot.services import Services

    return Services(web_settings)


@pytest.fixture
def app(web_services):
    from bot.channels.web import create_app
    from bot.router import Router

    return create_app(web_services, Router(web_services, intents=fake_intents()))


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE) as c:
        yield c


def turn(client, text="", file=None, **kw):
    files = {"file": file} if file else None
    return client.post("/api/turn", data={"text": text}, files=files, **kw)


def test_healthz_page_and_openapi(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["backend"] == "local"
    assert {"Greeting", "Help", "Fallback", "AskCoursePdfs"} <= set(health.json()["intents"])
    assert health.json()["max_upload_bytes"] == 100_000

    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert 'id="messages"' in page.text and 'id="working"' in page.text and 'type="file"' in page.text
    script = client.get("/static/app.js")
    code = re.sub(r"^\s*//.*$", "", script.text, flags=re.M)  # no HTML parsing of any string
    assert script.status_code == 200 and not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", code)

    schema = client.get("/openapi.json").json()
    assert {"/api/turn", "/api/new", "/healthz", "/files/{key}"} <= set(schema["paths"])
    body = schema["paths"]["/api/turn"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    reply_fields = schema["components"]["schemas"]["ReplyOut"]["properties"]
    from bot.turn import Reply

    assert set(reply_fields) == set(Reply(text="x").to_dict())  # the documented schema is the contract


def test_greeting_help_fallback_and_empty(client):
    hello = turn(client, "hello")
    assert hello.status_code == 200
    data = hello.json()
    assert data["intent"] == "Greeting" and data["text"] and data["error"] is None
    assert data["conversation"].startswith("web-")
    cookie = hello.cookies.get("coursebot_session")
    assert cookie and data["conversation"] == f"web-{cookie}"
    assert "httponly" in hello.headers["set-cookie"].lower() and "samesite=strict" in hello.headers["set-cookie"].lower()

    assert turn(client, "what can you do?").json()["intent"] == "Help"
    assert turn(client, "book me a flight to Paris tomorrow").json()["intent"] == "Fallback"
    empty = turn(client, "   ").json()
    assert empty["error"] == "empty_message" and empty["text"]
    # the same browser keeps one conversation
    assert turn(client, "hi").json()["conversation"] == data["conversation"]


def test_conversation_is_kept_per_browser(app, web_services):
    with TestClient(app, base_url=BASE) as alice, TestClient(app, base_url=BASE) as bob:
        answer = turn(alice, "What is Amazon Lex?").json()
        assert answer["intent"] == "AskCoursePdfs" and answer["citations"]
        spoken = turn(alice, "read that aloud").json()
        assert spoken["intent"] == "SpeakAnswer" and spoken["attachments"][0]["kind"] == "audio"
        # bob has no previous answer, so the bot asks what to read
        asked = turn(bob, "read that aloud").json()
        assert asked["state"] == "elicit" and asked["elicit_slot"] == "text"
        assert asked["conversation"] != answer["conversation"]
        # a new conversation forgets alice's answer
        assert alice.post("/api/new").status_code == 204
        again = turn(alice, "read that aloud").json()
        assert again["state"] == "elicit" and again["conversation"] != answer["conversation"]


def test_citations_and_media_are_signed_relative_links_that_serve_the_files(client):
    data = turn(client, "What is Amazon Lex?").json()
    assert HOSTILE in data["text"]  # the API returns the text as is; the page renders it as text
    first = data["citations"][0]
    assert first["source"] == "course-notes.pdf" and first["page"] == 2
    assert first["url"].startswith("/files/course/course-notes.pdf?") and first["url"].endswith("#page=2")
    pdf = client.get(first["url"].split("#")[0])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (FIXTURES / "course-notes.pdf").read_bytes()

    audio = turn(client, "read that aloud").json()["attachments"][0]
    assert audio["url"].startswith("/files/speech/") and "path" not in audio
    wav = client.get(audio["url"])
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav" and wav.content[:4] == b"RIFF"
    ranged = client.get(audio["url"], headers={"Range": "bytes=0-99"})  # audio players seek with ranges
    assert ranged.status_code == 206 and len(ranged.content) == 100


def test_photo_upload_is_sniffed_stored_and_described(client, web_services):
    photo = (FIXTURES / "photo.png").read_bytes()
    data = turn(client, "", ("holiday.jpg", photo, "image/jpeg")).json()  # name and browser type are wrong
    assert data["intent"] == "DescribePhoto" and data["error"] is None
    assert "96×64 PNG" in data["text"]
    image = data["attachments"][0]
    assert image["kind"] == "image" and image["mime"] == "image/png"
    served = client.get(image["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png" and served.content == photo
    stored = list((web_services.blobs.root / "uploads").rglob("*.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == photo


def test_upload_limits_checked_from_the_bytes(client):
    too_big = turn(client, "look", ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100_001, "image/png"))
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "attachment_too_large" and "0.1 MB" in too_big.json()["text"]

    huge = turn(client, "look", ("huge.png", b"\0" * 400_000, "image/png"))  # refused before parsing
    assert huge.status_code == 413 and huge.json()["error"] == "attachment_too_large"

    html = turn(client, "", ("page.png", (FIXTURES / "page.png").read_bytes(), "image/png"))
    assert html.status_code == 415
    assert html.json()["error"] == "unsupported_attachment" and "web page" in html.json()["text"]

    zipped = turn(client, "", ("notes.pdf", b"PK\x03\x04" + b"\0" * 40, "application/pdf"))
    assert zipped.status_code == 415 and "ZIP" in zipped.json()["text"]

    empty = turn(client, "", ("empty.pdf", b"", "application/pdf"))
    assert empty.status_code == 415 and "empty" in empty.json()["text"]

    long_text = turn(client, "x" * 150_000)  # the router's limit on a message
    assert long_text.status_code == 200 and long_text.json()["error"] == "message_too_long"

    pdf = turn(client, "", ("notes", (FIXTURES / "course-notes.pdf").read_bytes(), "application/octet-stream"))
    assert pdf.status_code == 200 and pdf.json()["intent"] == "AskCoursePdfs"


def test_malformed_requests_get_a_reply_not_a_traceback(home):
    from bot.channels.web import create_app
    from bot.services import Services
    from bot.settings import load

    services = Services(load(home=home, backend="local", public_url=BASE))  # default 20 MB upload limit
    with TestClient(create_app(services), base_url=BASE) as client:
        huge_field = client.post("/api/turn", data={"text": "x" * 1_100_000})  # the form parser's 1 MB per field
        assert huge_field.status_code == 400 and huge_field.json()["error"] == "bad_request"
        assert huge_field.json()["text"].startswith("I couldn't read that request")
        as_json = client.post("/api/turn", json={"text": "hello"})
        assert as_json.status_code in (200, 422) and as_json.json()["text"] and "Traceback" not in as_json.text
        assert client.get("/api/turn").status_code == 405


def _signed(web_services, key, data=b"hello", mime="text/plain"):
    stored = web_services.blobs.put(key, data, mime)
    return urlsplit(stored.url)


def test_files_refuse_changed_expired_and_traversal(client, web_services, web_settings):
    url = _signed(web_services, "speech/a.wav")
    q = parse_qs(url.query)
    ok = client.get(f"{url.path}?{url.query}")
    assert ok.status_code == 200 and ok.content == b"hello"
    assert ok.headers["content-type"].startswith("text/plain")

    other = _signed(web_services, "speech/b.wav", b"other")
    assert client.get(f"{other.path}?{url.query}").status_code == 403  # signature of another key
    assert client.get(f"{url.path}?expires={int(q['expires'][0]) + 60}&sig={q['sig'][0]}").status_code == 403
    assert client.get(f"{url.path}?expires={q['expires'][0]}&sig={'0' * 64}").status_code == 403
    assert client.get(url.path).status_code == 403  # unsigned

    past = int(time.time()) - 5
    expired_sig = web_services.blobs.sign("speech/a.wav", past)
    expired = client.get(f"{url.path}?expires={past}&sig={expired_sig}")
    assert expired.status_code == 403 and "expired" in expired.json()["text"]

    secret = web_settings.signing_key()
    for key in ("../secret.key", "..%2Fsecret.key", "%2e%2e/secret.key", "speech/../../secret.key", "/etc/passwd"):
        exp = int(time.time()) + 60
        sig = web_services.blobs.sign(key, exp)  # even a correctly signed traversal is refused
        r = client.get(f"/files/{key}?expires={exp}&sig={sig}")
        assert r.status_code in (403, 404) and secret not in r.content


def test_stored_html_is_never_served_as_a_page(client, web_services):
    url = _signed(web_services, "media/x.png", (FIXTURES / "page.png").read_bytes(), "image/png")
    r = client.get(f"{url.path}?{url.query}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"


def test_same_origin_only(client):
    evil = turn(client, "hello", headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "cross_origin"
    assert turn(client, "hello", headers={"Origin": "null"}).status_code == 403
    assert turn(client, "hello", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert turn(client, "hello", headers={"Origin": BASE}).status_code == 200
    # DNS rebinding: a page on another name pointed at 127.0.0.1 sends its own Host header
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert "access-control-allow-origin" not in client.options(
        "/api/turn", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}).headers


def test_reply_media_with_only_a_path_is_published(web_services, tmp_path):
    from bot.channels.web import to_web
    from bot.turn import Media, Reply

    wav = tmp_path / "speech.wav"
    wav.write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    out = to_web(Reply(text="hi", attachments=(Media(kind="audio", mime="audio/wav", path=str(wav)),)),
                 web_services, BASE)
    media = out["attachments"][0]
    assert "path" not in media and re.match(r"^/files/media/[0-9a-f]{32}\.wav\?expires=\d+&sig=[0-9a-f]{64}$", media["url"])


def test_real_intents_answer_with_a_reply_structure(web_services):
    """With the registered intents (whatever is built in this version) every turn is a Reply JSON."""
    from bot.channels.web import create_app

    with TestClient(create_app(web_services), base_url=BASE) as client:
        for text in ("What is Amazon Lex?", "read that aloud", "summarize: Lex builds bots. Polly speaks."):
            r = turn(client, text)
            assert r.status_code == 200
            data = r.json()
            assert data["text"] and data["state"] in ("fulfilled", "elicit", "failed")
            assert data["error"] != "internal", data
        photo = turn(client, "", ("photo.png", (FIXTURES / "photo.png").read_bytes(), "image/png")).json()
        assert photo["intent"] == "DescribePhoto" and photo["text"] and photo["error"] != "internal"
