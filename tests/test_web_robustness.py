"""The shared bad-input corpus through the web API: a Reply JSON with a clear text, the proper HTTP
status, no traceback and no internals, for every bad message and file."""

from __future__ import annotations

import pytest
from conftest import require_module

require_module("fastapi", "fastapi (the `web` extra)")
from fastapi.testclient import TestClient  # noqa: E402

import badinputs  # noqa: E402
from test_robustness import FILES, SECRET_ENV, TEXTS, assert_clean  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return badinputs.corpus_files(tmp_path_factory.mktemp("bad"))


@pytest.fixture
def client(home, monkeypatch):
    from bot.channels.web import create_app
    from bot.services import Services
    from bot.settings import load

    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    services = Services(load(home=home, backend="local", public_url=BASE))
    with TestClient(create_app(services), base_url=BASE) as c:
        yield c


@pytest.mark.parametrize("name", [n for n in TEXTS if n != "lone-surrogate-ish"])
def test_bad_text_through_web(name, client):
    r = client.post("/api/turn", data={"text": TEXTS[name]})
    assert r.status_code == 200
    assert_clean(r.json())


def test_invalid_utf8_in_the_form(client):
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n'.encode()
            + b"what is lex \xed\xb3\xbf \xff?\r\n" + f"--{boundary}--\r\n".encode())
    r = client.post("/api/turn", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code in (200, 400)
    assert_clean(r.json())


@pytest.mark.parametrize("name", FILES)
def test_bad_file_through_web(name, corpus, client):
    data = corpus[name].read_bytes()
    r = client.post("/api/turn", data={"text": ""}, files={"file": (name, data, "image/jpeg")})
    assert r.status_code in (200, 413, 415), r.text
    reply = r.json()
    assert_clean(reply)
    if r.status_code != 200:
        assert reply["error"] in ("attachment_too_large", "unsupported_attachment") and reply["state"] == "failed"
