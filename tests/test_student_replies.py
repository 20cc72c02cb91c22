"""Students read one plain sentence when a capability is not available here; the operator's hint (what to
install, which setting to change) goes to the log, once per capability, and to `coursebot doctor`."""

from __future__ import annotations

import io
import logging
import re

import pytest

from bot import errors
from bot.errors import missing_extra
from bot.turn import Attachment, Turn

# install commands, coursebot settings and environment variable names a student must never read
JARGON = re.compile(r"pip install|make install|apt-get|COURSEBOT_|\bAWS_[A-Z_]+|\bSLACK_[A-Z_]+")


def _photo() -> Attachment:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (200, 150), (200, 120, 40)).save(buf, format="PNG")
    return Attachment(name="photo.png", mime="image/png", data=buf.getvalue())


def _turns() -> list[Turn]:
    return [
        Turn(conversation="s1", text="draw a lighthouse at sunset"),
        Turn(conversation="s2", text="", intent="GenerateImage", slots={"prompt": "a red bicycle"}),
        Turn(conversation="s3", text="", intent="SpeakAnswer", slots={"text": "Good morning students", "language": "es"}),
        Turn(conversation="s4", text="say it in Spanish: the exam is on Monday"),
        Turn(conversation="s5", text="describe this photo", attachments=(_photo(),)),
    ]


def _run_corpus(router) -> list:
    replies = [router.handle(t) for t in _turns()]
    for r in replies:
        bad = JARGON.findall(r.text or "") + [m for n in (r.notes if hasattr(r, "notes") else ()) for m in JARGON.findall(n)]
        assert not bad, (r.intent, r.text)
    return replies


@pytest.fixture
def fresh_log(monkeypatch, caplog):
    monkeypatch.setattr(errors, "_logged", set())
    caplog.set_level(logging.INFO, logger="coursebot.setup")
    return caplog


def test_unavailable_capabilities_reply_plainly_and_log_the_hint_once(router, fresh_log):
    replies = _run_corpus(router)
    by_conv = {t.conversation: r for t, r in zip(_turns(), replies)}
    assert by_conv["s1"].intent == "GenerateImage" and by_conv["s1"].text == "I can't draw pictures on this server."
    assert by_conv["s3"].state == "failed" and "Spanish" in by_conv["s3"].text
    logged = [r.getMessage() for r in fresh_log.records]
    assert sum("Image generation" in m for m in logged) == 1, logged  # two GenerateImage turns, one warning
    assert any("COURSEBOT_BACKEND=aws" in m for m in logged)  # the operator still learns what enables it


def test_vision_with_its_extra_missing_replies_plainly(router, fresh_log, monkeypatch):
    from bot.local import vision

    def build(settings, services):
        raise missing_extra("vision", "PIL", "Photo description (the offline vision models)", capability="vision")

    monkeypatch.setattr(vision, "build", build)
    r = router.handle(Turn(conversation="v1", text="describe this photo", attachments=(_photo(),)))
    assert r.intent == "DescribePhoto" and r.state == "failed", r.text
    assert r.text == "I can't look at photos on this server."
    assert any("pip install 'coursebot[vision]'" in m.getMessage() for m in fresh_log.records)


def test_vision_engines_missing_inside_a_description_give_plain_notes(router, fresh_log, monkeypatch):
    from bot.local import vision

    def no_faces(im):
        raise missing_extra("vision", "ai-edge-litert", "Finding faces offline")

    def no_text(im):
        raise missing_extra("vision", "pytesseract", "Reading text in photos offline")

    monkeypatch.setattr(vision, "find_faces", no_faces)
    monkeypatch.setattr(vision, "read_text", no_text)
    monkeypatch.setattr(vision._Classifier, "get", classmethod(lambda cls: None))
    r = router.handle(Turn(conversation="v2", text="describe this photo", attachments=(_photo(),)))
    assert r.intent == "DescribePhoto", r.text
    assert not JARGON.search(r.text), r.text
    assert "isn't set up on this server" in r.text, r.text
    assert any("pytesseract" in m.getMessage() for m in fresh_log.records)


def test_student_sentence_keeps_plain_messages_and_replaces_operator_ones():
    plain = errors.InputError("That file is empty.")
    assert errors.student_sentence(plain, "SummarizeText") == "That file is empty."
    hint = errors.NotAvailable("Speech needs soundfile: pip install 'coursebot[speech]'", capability="speech")
    assert errors.student_sentence(hint, "Fallback") == "Reading answers aloud isn't set up on this server."
    env = errors.ServiceError("No AWS credentials are configured, or use COURSEBOT_BACKEND=local.")
    assert not JARGON.search(errors.student_sentence(env, "AskCoursePdfs"))
