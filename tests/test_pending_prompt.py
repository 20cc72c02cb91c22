"""A pending prompt never swallows a different request; plausible values still fill it."""

from __future__ import annotations

import pytest

from bot.files import attachment_from_bytes
from bot.turn import Turn


def turn(text="", conv="p1", **kw):
    return Turn(conversation=conv, text=text, channel="web", **kw)


@pytest.mark.parametrize("first", ["summarize", "describe my photo please"])
def test_a_course_question_after_a_prompt_is_answered_as_one(router, first):
    r = router.handle(turn(first))
    assert r.state == "elicit"
    r = router.handle(turn("what is a p-value?"))
    assert r.intent == "AskCoursePdfs"
    assert r.text.splitlines()[0].startswith("(I set aside my earlier question")
    assert len(r.text.splitlines()[0]) < 120
    assert router.handle(turn("hi")).intent == "Greeting"  # the prompt is gone


def test_pasted_text_fills_the_summarize_prompt(router):
    router.handle(turn("summarize", conv="p2"))
    text = ("The Krebs cycle is a series of reactions in the mitochondria. It releases stored energy. "
            "It produces NADH, FADH2 and carbon dioxide.")
    r = router.handle(turn(text, conv="p2"))
    assert r.intent == "SummarizeText" and r.state == "fulfilled" and "Summary:" in r.text
    assert "set aside" not in r.text



def test_an_s3_link_is_a_plausible_photo(router, services):
    router.handle(turn("describe my photo please", conv="p3"))
    pending = services.conversations.load("p3").pending
    assert pending and pending["slot"] == "image"
    from intents import registry

    accepts = registry()[pending["intent"]].spec.slot("image").accepts
    assert accepts(turn("s3://bucket/photo.jpg")) and not accepts(turn("what is a p-value?"))
    assert accepts(turn("", attachments=(attachment_from_bytes("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64),)))


def test_read_aloud_prompt_takes_any_text_that_is_no_request(router):
    r = router.handle(turn("read that aloud", conv="p4"))
    assert r.state == "elicit"
    r = router.handle(turn("hello world", conv="p4"))  # a greeting-like value, not a new request
    assert r.intent == "SpeakAnswer"
