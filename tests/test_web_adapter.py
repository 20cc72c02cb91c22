"""The web channel's pure adapter (form fields -> Turn, upload checks, Reply -> JSON) and the one
mime -> description table: BMP and TIFF are accepted in the web chat, as in Slack, and converted."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from bot.channels.web import adapter  # noqa: E402
from bot.files import ACCEPTED, describe, unsupported  # noqa: E402
from bot.turn import Attachment, Citation, Media, Reply, Turn  # noqa: E402
from web_fakes import fake_intents  # noqa: E402

BASE = "http://127.0.0.1:8000"


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 90), (200, 40, 40)).save(buf, fmt)
    return buf.getvalue()


def test_form_fields_become_a_web_turn():
    photo = Attachment(name="a.png", mime="image/png", data=b"\x89PNG", size=4)
    turn = adapter.to_turn("s" * 24, "what is this?", (photo,))
    assert turn == Turn(conversation="web-" + "s" * 24, text="what is this?", user="web:ssssssss", channel="web",
                        attachments=(photo,))
    assert adapter.upload_name("C:/Users/me/../photo.png") == "photo.png"
    assert adapter.upload_name("") == "upload" and len(adapter.upload_name("x" * 500)) == 200


@pytest.mark.parametrize("fmt,mime", [("BMP", "image/bmp"), ("TIFF", "image/tiff"), ("PNG", "image/png")])
def test_bmp_and_tiff_uploads_are_accepted(fmt, mime):
    assert adapter.check_upload("scan.dat", image_bytes(fmt), 1_000_000) == (mime, None)


def test_refused_uploads_use_the_shared_table():
    mime, refused = adapter.check_upload("notes.pdf", b"PK\x03\x04" + b"\0" * 40, 1_000_000, "web-x")
    status, reply = refused
    assert (mime, status, reply.error, reply.conversation) == ("application/zip", 415, "unsupported_attachment", "web-x")
    assert reply.text == unsupported("notes.pdf", "application/zip")
    assert describe("application/zip") in reply.text and ACCEPTED in reply.text and "BMP" in reply.text
    _, (status, reply) = adapter.check_upload("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 200, 100)
    assert status == 413 and reply.error == "attachment_too_large"


def test_reply_json_has_relative_links_and_no_server_paths():
    reply = Reply(text="hi", citations=(Citation(source="n.pdf", page=2, url=f"{BASE}/files/pdfs/n.pdf?sig=1#page=2"),),
                  attachments=(Media(kind="image", mime="image/png", url=f"{BASE}/files/x.png?sig=2", path="/srv/x.png"),),
                  details={"audio": {"path": "/home/u/.coursebot/a.wav", "seconds": 2}})
    data = adapter.to_web(reply, services=None, base_url=BASE)
    assert data["citations"][0]["url"] == "/files/pdfs/n.pdf?sig=1#page=2"
    assert data["attachments"][0] == {"kind": "image", "mime": "image/png", "url": "/files/x.png?sig=2"}
    assert data["details"] == {"audio": {"seconds": 2}}


@pytest.mark.parametrize("fmt,ext", [("BMP", ".bmp"), ("TIFF", ".tif")])
def test_bmp_and_tiff_reach_the_photo_intent_and_are_converted(home, fmt, ext):
    from bot import images
    from bot.channels.web import create_app
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    services = Services(load(home=home, backend="local", public_url=BASE))
    raw = image_bytes(fmt)
    with TestClient(create_app(services, Router(services, intents=fake_intents())), base_url=BASE) as client:
        response = client.post("/api/turn", data={"text": ""}, files={"file": (f"scan{ext}", raw, "image/x-any")})
    assert response.status_code == 200, response.text
    assert response.json()["intent"] == "DescribePhoto" and response.json()["error"] is None
    stored = list((services.blobs.root / "uploads").rglob(f"*{ext}"))
    assert len(stored) == 1 and stored[0].read_bytes() == raw
    prepared = images.prepare(stored[0].read_bytes())  # what the photo intents do before any engine
    assert prepared.mime == "image/jpeg" and prepared.original_mime == f"image/{fmt.lower()}"


def test_the_router_accepts_bmp_and_refuses_an_archive_with_the_same_sentence(home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    services = Services(load(home=home, backend="local"))
    router = Router(services, intents=fake_intents())
    bmp = Attachment(name="scan.bmp", mime="image/bmp", data=image_bytes("BMP"))
    assert router.handle(Turn(conversation="t-1", text="", attachments=(bmp,))).intent == "DescribePhoto"
    archive = Attachment(name="a.zip", mime="application/zip", data=b"PK\x03\x04")
    reply = router.handle(Turn(conversation="t-2", text="", attachments=(archive,)))
    assert reply.error == "unsupported_attachment" and reply.text == unsupported("a.zip", "application/zip")
