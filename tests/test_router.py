"""The fulfillment router: routing, slot elicitation, state, and failures turned into polite replies."""

from __future__ import annotations

import json

import pytest

from bot.errors import InputError
from bot.files import attachment_from_bytes
from bot.router import Router
from bot.specs import Intent, IntentSpec, SlotSpec
from bot.turn import Reply, Turn
from intents import registry


def turn(text="", conv="c1", **kw):
    return Turn(conversation=conv, text=text, **kw)


def test_greeting(router):
    reply = router.handle(turn("hi there"))
    assert reply.intent == "Greeting" and reply.state == "fulfilled" and reply.error is None
    assert "coursebot" in reply.text.lower()
    assert reply.conversation == "c1"


def test_help_lists_every_capability(router):
    reply = router.handle(turn("what can you do?"))
    assert reply.intent == "Help"
    for word in ("course PDFs", "summar", "photo", "aloud", "image"):
        assert word in reply.text


def test_empty_message_gets_a_clear_reply(router):
    reply = router.handle(turn("   "))
    assert reply.error == "empty_message" and "empty" in reply.text


def test_huge_message_is_refused_clearly(router):
    reply = router.handle(turn("a" * 200_000))
    assert reply.error == "message_too_long"
    assert "200 KB" in reply.text and "100 KB" in reply.text


@pytest.mark.parametrize("data,needle", [
    (b"", "empty"),
    (b"<html><body>not a photo</body></html>", "web page"),
    (bytes(range(256)) * 10, "file type I don't know"),
])
def test_unusable_attachments_are_explained(router, data, needle):
    reply = router.handle(turn("what is this", attachments=(attachment_from_bytes("photo.jpg", data),)))
    assert reply.error == "unsupported_attachment"
    assert needle in reply.text and "photo.jpg" in reply.text


def test_missing_slot_is_elicited_then_filled_by_next_message(services):
    seen = {}

    def handle(t, ctx):
        seen.update(ctx.slots)
        return Reply(text=f"echo {ctx.slots['thing']}", intent="Echo")

    spec = IntentSpec("Echo", "echo", samples=("echo",), slots=(SlotSpec("thing", "AMAZON.FreeFormInput", "Echo what?", True),))
    intents = {**registry(), "Echo": Intent(spec, handle)}
    router = Router(services, intents)
    first = router.handle(turn("", intent="Echo"))
    assert first.state == "elicit" and first.elicit_slot == "thing" and first.text == "Echo what?"
    second = router.handle(turn("hello"))  # would be a Greeting without the pending slot
    assert second.intent == "Echo" and second.text == "echo hello"
    third = router.handle(turn("hello"))  # the slot is no longer pending
    assert third.intent == "Greeting"


def test_cancel_clears_a_pending_slot(router):
    r = router.handle(turn("summarize this text"))
    assert r.state == "elicit" and r.elicit_slot == "text"
    r = router.handle(turn("never mind"))
    assert r.error == "cancelled"
    assert router.handle(turn("hi")).intent == "Greeting"


def test_handler_crash_becomes_polite_reply_without_internals(services, caplog):
    def boom(t, ctx):
        raise RuntimeError("secret arn:aws:s3:::my-bucket /home/user/.aws")

    spec = IntentSpec("Boom", "boom", samples=("boom",))
    router = Router(services, {**registry(), "Boom": Intent(spec, boom)})
    reply = router.handle(turn("boom", intent="Boom"))
    assert reply.state == "failed" and reply.error == "internal" and reply.intent == "Boom"
    dumped = json.dumps(reply.to_dict())
    assert "arn:" not in dumped and "Traceback" not in dumped and "my-bucket" not in dumped
    assert "secret" in caplog.text  # the detail goes to the log, not to the user


def test_user_errors_carry_their_sentence(services):
    def bad(t, ctx):
        raise InputError("That PDF is encrypted.", code="encrypted_pdf")

    spec = IntentSpec("Bad", "bad", samples=("bad",))
    reply = Router(services, {**registry(), "Bad": Intent(spec, bad)}).handle(turn("x", intent="Bad"))
    assert reply.text == "That PDF is encrypted." and reply.error == "encrypted_pdf" and reply.state == "failed"


def test_intent_given_by_the_channel_skips_nlu(router):
    reply = router.handle(turn("anything at all", intent="Help", confidence=0.42))
    assert reply.intent == "Help" and reply.confidence == pytest.approx(0.42)


def test_unknown_intent_name_falls_back(router):
    assert router.handle(turn("x", intent="NoSuchIntent")).intent == "Fallback"


def test_last_answer_is_remembered_for_follow_ups(services):
    def answer(t, ctx):
        return Reply(text="Lex builds chatbots.", intent="Answer")

    seen = {}

    def speak(t, ctx):
        seen["text"] = ctx.slots.get("text")
        return Reply(text="ok", intent="SpeakAnswer")

    reg = registry()
    intents = {**reg, "Answer": Intent(IntentSpec("Answer", "a", samples=("a",)), answer),
               "SpeakAnswer": Intent(reg["SpeakAnswer"].spec, speak, reg["SpeakAnswer"].fill_slots)}
    router = Router(services, intents)
    router.handle(turn("q", intent="Answer"))
    router.handle(turn("read that aloud"))
    assert seen["text"] == "Lex builds chatbots."


def test_read_aloud_without_previous_answer_asks_what_to_read(router):
    reply = router.handle(turn("read that aloud", conv="fresh"))
    assert reply.state == "elicit" and reply.text == "What should I read aloud?"


def test_photo_intent_asks_for_the_photo(router):
    reply = router.handle(turn("what about her eyes?", conv="nophoto"))
    assert reply.intent == "DescribePhoto" and reply.state == "elicit" and reply.elicit_slot == "image"


def test_state_store_failure_does_not_stop_answers(services):
    class Broken:
        def load(self, key):
            raise OSError("disk gone")

        def save(self, key, c):
            raise OSError("disk gone")

    services._built["conversations"] = Broken()
    assert Router(services).handle(turn("hi")).intent == "Greeting"


def test_reply_json_contract(router):
    d = router.handle(turn("hi")).to_dict()
    assert set(d) >= {"intent", "confidence", "text", "ssml", "citations", "attachments", "suggestions", "slots",
                      "state", "elicit_slot", "error", "details", "conversation"}
    json.dumps(d)
