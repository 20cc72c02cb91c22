"""AskCoursePdfs on the local backend through the router: answers with citations, follow-ups, PDFs sent in chat."""

from __future__ import annotations

import textwrap

import pytest

from bot.turn import Attachment, Turn
from kb.sample import render

POLLY = textwrap.dedent("""\
    # Polly notes

    ## What Polly does
    Amazon Polly turns written text into lifelike speech. You send text and a voice name and get audio back.

    ## Pricing
    Polly is billed per character converted to speech, and neural voices cost more than standard voices.
    """)


def pdf(name: str, data: bytes, with_path=None) -> Attachment:
    if with_path is not None:
        path = with_path / name
        path.write_bytes(data)
        return Attachment(name=name, mime="application/pdf", path=str(path), size=len(data))
    return Attachment(name=name, mime="application/pdf", data=data, size=len(data))


def test_pdf_sent_in_chat_as_bytes_is_added_then_answered_with_citations(router, services):
    reply = router.handle(Turn(conversation="c1", text="add this pdf to the course", role="instructor",
                               upload_to="course", attachments=(pdf("polly notes.pdf", render(POLLY)),)))
    assert reply.intent == "AskCoursePdfs" and reply.error is None
    assert "I added 'polly notes.pdf' to the course (1 page)" in reply.text
    assert reply.details["ingested"][0]["status"] == "added"

    answer = router.handle(Turn(conversation="c1", text="What does Amazon Polly do?"))
    assert answer.intent == "AskCoursePdfs" and answer.details["found"] is True
    assert "lifelike speech" in answer.text
    c = answer.citations[0]
    assert (c.source, c.page) == ("polly notes.pdf", 1) and c.url.endswith("#page=1")


def test_follow_up_uses_the_previous_question(router):
    router.handle(Turn(conversation="c2", text="", attachments=(pdf("polly.pdf", render(POLLY)),)))
    first = router.handle(Turn(conversation="c2", text="what is amazon polly used for", intent="AskCoursePdfs"))
    assert first.details["found"]
    follow = router.handle(Turn(conversation="c2", text="and how much does it cost?", intent="AskCoursePdfs"))
    assert follow.details["found"] is True
    assert "billed per character" in follow.text


def test_pdf_from_a_path_with_a_question_is_added_and_the_question_answered(router, tmp_path):
    reply = router.handle(Turn(conversation="c3", text="how is polly billed?",
                               attachments=(pdf("notes.pdf", render(POLLY), with_path=tmp_path),)))
    assert reply.text.startswith("I added 'notes.pdf'")
    assert "billed per character" in reply.text and reply.citations


def test_broken_pdf_gets_a_clear_reason_and_nothing_is_indexed(router, services):
    reply = router.handle(Turn(conversation="c4", text="please add this to the course",
                               attachments=(pdf("slides.pdf", b"%PDF-1.5 this is not really a pdf"),)))
    assert reply.state == "failed" and reply.error == "pdf_not_added"
    assert "couldn't add 'slides.pdf'" in reply.text and "damaged" in reply.text
    assert services.kb.list() == []


def test_too_large_attachment_is_refused_before_reading(tmp_path):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    router = Router(Services(load(home=tmp_path / "home", backend="local", max_attachment_bytes=1000)))
    reply = router.handle(Turn(conversation="c5", text="", attachments=(pdf("big.pdf", render(POLLY)),)))
    assert reply.state == "failed" and "the most I accept is" in reply.text


def test_question_with_an_empty_kb_says_not_found(router):
    reply = router.handle(Turn(conversation="c6", text="what is amazon rekognition", intent="AskCoursePdfs"))
    assert reply.intent == "AskCoursePdfs" and reply.details["found"] is False
    assert reply.text.startswith("That's not in the course PDFs.") and "has no PDFs yet" in reply.text
    assert reply.citations == ()


@pytest.mark.parametrize("text", ["add this pdf to the course", "upload these lecture notes to the knowledge base"])
def test_add_requests_with_a_pdf_do_not_become_questions(text):
    from bot.conversation import Conversation
    from intents.ask_course_pdfs import fill_slots

    turn = Turn(conversation="x", text=text, attachments=(pdf("a.pdf", b"%PDF-1.4"),))
    slots = fill_slots(turn, {"question": text}, Conversation())
    assert slots.ingest_only is True and slots["question"] is None
    assert fill_slots(Turn(conversation="x", text="what is lex"), {}, Conversation())["question"] == "what is lex"
