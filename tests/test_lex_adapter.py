"""The Lex package's pure parts without I/O: event -> Turn and Reply -> response on the real-shaped
events in tests/fixtures/lex, the reusable post-steps with a recording link store, and the one
error -> reply table the router and the Lambda share."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.channels.lex import adapter, poststeps
from bot.errors import INTERNAL_ERROR, CoursebotError, InputError, NotAvailable, error_reply, reply_for_error
from bot.turn import Citation, Media, Reply

FIXTURES = Path(__file__).parent / "fixtures" / "lex"
PRESIGNED = "https://media.s3.amazonaws.com/generated/pic.png?X-Amz-Signature=" + "a" * 1200


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_fulfillment_event_becomes_a_turn_with_lex_intent_slots_and_confidence():
    turn = adapter.to_turn(load("describe_photo_text_fulfillment"))
    assert (turn.channel, turn.intent, turn.input_mode) == ("lex", "DescribePhoto", "text")
    assert turn.slots == {"image": "photo-123.jpg"} and turn.confidence == 0.9
    assert turn.conversation == "lex-us-east-1:4b1c2d3e-5f60-4718-89ab-cdef01234567"
    assert turn.user == "lex:us-east-1:4b1c2d3e-5f60-4718-89ab-cdef01234567"


def test_speech_and_unknown_intents_and_a_spoofed_link_key():
    assert adapter.to_turn(load("greeting_speech_fulfillment")).input_mode == "speech"
    unknown = adapter.to_turn(load("unknown_intent_text_fulfillment"))
    assert unknown.intent == "Fallback" and unknown.confidence == 0.0
    event = load("session_key_greeting_text_fulfillment")
    event["sessionState"]["sessionAttributes"][adapter.SESSION_KEY] = "link#AAAAAAAAAAAAAAAAAAAAAA"
    assert adapter.to_turn(event).conversation.startswith("lex-")  # never a short link's item


def test_reply_renders_as_close_or_elicit_and_delegate_keeps_the_slots():
    event = load("summarize_text_text_dialog_missing_slot")
    elicit = adapter.to_lex(Reply(text="What text?", intent="SummarizeText", state="elicit", elicit_slot="text"), event)
    assert elicit["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "text"}
    assert elicit["sessionState"]["intent"]["state"] == "InProgress"
    failed = adapter.to_lex(Reply(text="No.", state="failed", error="x"), load("greeting_text_fulfillment"))
    assert failed["sessionState"]["dialogAction"]["type"] == "Close"
    assert failed["sessionState"]["intent"]["state"] == "Failed"
    filled = load("generate_image_text_dialog_filled")
    delegated = adapter.delegate(filled)
    assert delegated["sessionState"]["dialogAction"] == {"type": "Delegate"}
    assert set(delegated["sessionState"]["intent"]["slots"]) <= set(filled["sessionState"]["intent"]["slots"])


class RecordingLinks:
    """A link store fake: records what it was asked to shorten, optionally fails."""

    def __init__(self, fail: bool = False):
        self.calls: list[str] = []
        self.fail = fail

    def shorten(self, url: str) -> str:
        self.calls.append(url)
        if self.fail:
            raise CoursebotError("down", code="service_error")
        return f"https://api.example/l/{len(self.calls):022d}"


def test_short_links_step_replaces_long_media_and_citation_urls_only():
    store = RecordingLinks()
    services = SimpleNamespace(links=store)
    typed = "https://example.org/" + "x" * 300  # a URL in the text that the reply does not carry
    reply = Reply(text=f"See {PRESIGNED} and {typed}",
                  attachments=(Media(kind="image", mime="image/png", url=PRESIGNED),
                               Media(kind="file", mime="text/plain", url="https://short.example/a")),
                  citations=(Citation(source="notes.pdf", page=3, url=PRESIGNED + "#page=3"),))
    out = poststeps.apply(reply, [poststeps.short_links(services, max_url_chars=adapter.CARD_TEXT_CHARS)])
    assert store.calls == [PRESIGNED, PRESIGNED + "#page=3"]
    assert out.attachments[0].url.startswith("https://api.example/l/")
    assert out.attachments[1].url == "https://short.example/a"  # short enough: untouched
    assert out.citations[0].url != out.attachments[0].url
    assert PRESIGNED not in out.text and typed in out.text


def test_post_steps_leave_the_reply_alone_when_their_store_fails():
    reply = Reply(text="x", attachments=(Media(kind="image", mime="image/png", url=PRESIGNED),))
    failing = SimpleNamespace(links=RecordingLinks(fail=True))
    assert poststeps.with_short_links(reply, failing, 250) == reply

    class NoBlobs:
        @property
        def blobs(self):
            raise NotAvailable("no blob store", code="not_available")

    step = poststeps.full_text_link(NoBlobs(), fits=lambda r: False, prefix="t/")
    assert step(reply) == reply


def test_full_text_link_step_only_for_answers_that_do_not_fit():
    class Blobs:
        def __init__(self):
            self.puts: list[tuple[str, bytes]] = []

        def put(self, key, data, mime):
            self.puts.append((key, data))
            return SimpleNamespace(url=f"https://files.example/{key}", path=key, expires_at=None)

    services = SimpleNamespace(blobs=Blobs())
    step = poststeps.full_text_link(services, fits=adapter.text_fits, prefix="lex/answers/")
    short = Reply(text="A short answer.")
    assert step(short) == short and services.blobs.puts == []
    long = Reply(text=("A sentence that goes on. " * 40 + "\n\n") * 12)
    out = step(long)
    assert [m.title for m in out.attachments] == ["Full answer"]
    key, data = services.blobs.puts[0]
    assert key.startswith("lex/answers/") and data.decode() == long.text
    rendered = adapter.text_messages(out)
    assert len(rendered) <= adapter.MAX_MESSAGES
    assert any(m["content"].startswith("Full answer: https://files.example/") for m in rendered)


class QuotaError(InputError):
    pass


@pytest.mark.parametrize("exc,code,text", [
    (InputError("That file is empty.", code="empty_file"), "empty_file", "That file is empty."),
    (QuotaError("Too many photos today."), "bad_input", "Too many photos today."),  # via the hierarchy
    (NotAvailable("Speech needs espeak-ng."), "not_available", "Speech needs espeak-ng."),
    (RuntimeError("boom at arn:aws:dynamodb:us-east-1:1:table/x"), "internal", INTERNAL_ERROR),
    (KeyError("secret"), "internal", INTERNAL_ERROR),
])
def test_errors_map_to_replies_by_class(exc, code, text):
    reply = reply_for_error(exc, "DescribePhoto")
    assert (reply.state, reply.error, reply.text, reply.intent) == ("failed", code, text, "DescribePhoto")


def test_a_registered_subclass_wins_over_its_base():
    class Busy(CoursebotError):
        pass

    from bot import errors

    error_reply(Busy)(lambda exc, intent: Reply(text="Busy, try later.", intent=intent, state="failed", error="busy"))
    try:
        assert reply_for_error(Busy("x")).error == "busy"
        assert reply_for_error(CoursebotError("y", code="c")).error == "c"
    finally:
        errors._RENDERERS.pop(Busy)
