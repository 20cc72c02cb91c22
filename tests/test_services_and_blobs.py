"""Services wiring (lazy, per backend, clear messages) and the local signed-URL blob store."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest

from bot.errors import InputError, NotAvailable
from bot.local.blobs import LocalBlobStore
from bot.services import Services


def test_image_generation_offline_names_the_setting(settings):
    with pytest.raises(NotAvailable) as e:
        Services(settings).imagegen
    assert "COURSEBOT_BACKEND=aws" in e.value.user_message


def test_overrides_are_used(settings):
    fake = object()
    assert Services(settings, overrides={"speech": fake}).speech is fake


def test_capabilities_are_built_once(settings):
    s = Services(settings)
    assert s.conversations is s.conversations


def test_aws_conversation_store_is_dynamodb(settings):
    from bot.aws.state_table import DynamoConversationStore

    s = Services(settings.model_copy(update={"backend": "aws"}))
    assert isinstance(s.conversations, DynamoConversationStore)


@pytest.fixture
def blobs(tmp_path):
    return LocalBlobStore(tmp_path / "blobs", b"k" * 32, "http://127.0.0.1:8000", default_expiry=60)


def _parts(url):
    u = urlparse(url)
    q = parse_qs(u.query)
    return u.path.removeprefix("/files/"), q["expires"][0], q["sig"][0]


def test_put_get_and_signed_url(blobs):
    stored = blobs.put("conv1/audio.ogg", b"OggS....", "audio/ogg")
    assert blobs.get("conv1/audio.ogg") == b"OggS...."
    key, exp, sig = _parts(stored.url)
    assert key == "conv1/audio.ogg" and blobs.verify(key, exp, sig)


def test_tampered_or_expired_links_are_refused(blobs):
    blobs.put("a/b.png", b"x", "image/png")
    key, exp, sig = _parts(blobs.url("a/b.png"))
    assert not blobs.verify("a/c.png", exp, sig)
    assert not blobs.verify(key, str(int(exp) + 10), sig)
    assert not blobs.verify(key, exp, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not blobs.verify(key, exp, sig, now=time.time() + 3600)
    assert not blobs.verify(key, "soon", sig)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "a\\b", "", "a//b", ".hidden/../x"])
def test_no_path_traversal(blobs, key):
    with pytest.raises(InputError):
        blobs.put(key, b"x", "text/plain")
    assert not blobs.verify(key, str(int(time.time()) + 60), "0" * 64)
