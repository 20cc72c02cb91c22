"""Settings (env, .env, clear errors) and file-type sniffing from bytes."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.files import attachment_from_bytes, sniff
from bot.settings import load


def test_defaults(home):
    s = load()
    assert s.backend == "local" and s.url_expiry_seconds == 3600


def test_env_overrides_default(monkeypatch, home):
    monkeypatch.setenv("COURSEBOT_BACKEND", "aws")
    monkeypatch.setenv("COURSEBOT_AWS_REGION", "eu-west-1")
    s = load()
    assert s.backend == "aws" and s.aws_region == "eu-west-1"


def test_explicit_argument_beats_env(monkeypatch, home):
    monkeypatch.setenv("COURSEBOT_BACKEND", "aws")
    assert load(backend="local").backend == "local"


def test_dotenv_file(monkeypatch, tmp_path, home):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("COURSEBOT_KB_ID=KB12345\n")
    assert load().kb_id == "KB12345"


def test_invalid_value_names_variable_and_allowed_values(monkeypatch, home):
    monkeypatch.setenv("COURSEBOT_BACKEND", "azure")
    with pytest.raises(ConfigError) as e:
        load()
    assert "COURSEBOT_BACKEND" in e.value.user_message and "local" in e.value.user_message and "aws" in e.value.user_message


def test_invalid_number(monkeypatch, home):
    monkeypatch.setenv("COURSEBOT_NLU_THRESHOLD", "2")
    with pytest.raises(ConfigError, match="COURSEBOT_NLU_THRESHOLD"):
        load()


def test_signing_key_is_generated_once(home):
    s = load()
    assert s.signing_key() == s.signing_key() and len(s.signing_key()) == 64


@pytest.mark.parametrize("head,mime", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"Hello, plain text\n", "text/plain"),
    ("Grüße, ünïcödé".encode(), "text/plain"),
    (b"<!DOCTYPE html><html>", "text/html"),
    (b"", "application/x-empty"),
    (b"\x00\x01\x02\x03garbage", "application/octet-stream"),
    (b"\xff\xfeh\x00i\x00", "text/plain"),
    (b"caf\xe9 latin-1 text with more words after it", "text/x-not-utf8"),  # refused with its own sentence
])
def test_sniff(head, mime):
    assert sniff(head) == mime


def test_attachment_kind_comes_from_bytes_not_name():
    assert attachment_from_bytes("photo.jpg", b"%PDF-1.4\n...").kind == "pdf"
    assert attachment_from_bytes("notes.pdf", b"\x89PNG\r\n\x1a\n....").kind == "image"
    assert attachment_from_bytes("x.jpg", b"<html></html>").kind == "other"


def test_attachment_read_limit():
    from bot.errors import InputError

    a = attachment_from_bytes("big.txt", b"x" * 1000)
    assert a.read(limit=2000) == b"x" * 1000
    with pytest.raises(InputError, match="MB"):
        a.read(limit=10)
