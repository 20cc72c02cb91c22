"""Help answers the capability asked about (how to use it, what is installed), or lists everything."""

from __future__ import annotations

import pytest

from bot.turn import Turn


def ask(router, text):
    return router.handle(Turn(conversation="h", text=text, intent="Help"))


@pytest.mark.parametrize("text,topic,absent", [
    ("can u talk?", "SpeakAnswer", "DescribePhoto"),
    ("how do I send you a photo?", "DescribePhoto", "SpeakAnswer"),
    ("what documents do you have?", "AskCoursePdfs", "GenerateImage"),
    ("can you do stuff with images?", "DescribePhoto", "SummarizeText"),
])
def test_help_answers_the_specific_question(router, text, topic, absent):
    r = ask(router, text)
    assert topic in r.details["topics"] and absent not in r.details["topics"]
    assert "Type \"help\" for everything" in r.text
    assert r.text[0].isupper() and r.text.startswith("Yes — " if text.startswith("can") else "Here is how")


def test_documents_question_lists_the_course(router, services, tmp_path):
    r = ask(router, "what documents do you have?")
    assert "no PDFs yet" in r.text  # a fresh course
    from kb.sample import build as build_sample

    services.kb.ingest([str(p) for p in build_sample(tmp_path / "sample")])
    r = ask(router, "which pdfs do you know about?")
    assert "The course has" in r.text and ".pdf" in r.text


def test_image_generation_says_what_is_installed(router):
    r = ask(router, "can you make pictures?")
    assert "GenerateImage" in r.details["topics"]
    assert "no offline image model" in r.text and "COURSEBOT_" not in r.text


def test_plain_help_lists_every_capability(router):
    r = ask(router, "help")
    assert r.details["topics"] == []
    for word in ("course PDFs", "ummar", "photo", "aloud", "image"):
        assert word in r.text


@pytest.mark.parametrize("text", ["can u talk?", "how do I send you a photo?", "what documents do you have?",
                                  "can you do stuff with images?"])
def test_capability_questions_are_help(router, text):
    assert router.handle(Turn(conversation="h2", text=text)).intent == "Help"
