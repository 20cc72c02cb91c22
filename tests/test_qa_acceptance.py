"""Regression tests for defects found in the acceptance pass (a new user driving the README)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import require_engine, require_module


def test_describing_a_photo_prints_nothing_on_stderr(tmp_path):
    """LiteRT's C++ 'Created TensorFlow Lite XNNPACK delegate' line must not reach the terminal."""
    skimage_data = require_module("skimage.data", "scikit-image (the `dev` extra)")
    from PIL import Image

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skimage_data.astronaut()).save(photo)
    env = {**os.environ, "COURSEBOT_HOME": str(tmp_path / "home")}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "turn", "what is in this photo?", "--attach", str(photo)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "one face" in run.stdout
    assert run.stderr == ""


def test_stderr_written_while_loading_the_face_models_is_kept(capfd):
    from bot.local import vision

    with vision._without_litert_banner():
        os.write(2, vision.LITERT_BANNER + b"\n")
        os.write(2, b"a real warning\n")
    err = capfd.readouterr().err
    assert "XNNPACK" not in err
    assert err == "a real warning\n"


def test_web_replies_do_not_show_server_file_paths(home):
    """/api/turn drops attachments' `path`; the same path in `details.audio.path` must go too."""
    require_module("fastapi", "fastapi (the `web` extra)")
    from fastapi.testclient import TestClient

    from bot.channels.web import create_app
    from bot.services import Services
    from bot.settings import load

    base = "http://127.0.0.1:8000"
    services = Services(load(home=home, backend="local", public_url=base))
    with TestClient(create_app(services), base_url=base) as client:
        r = client.post("/api/turn", data={"text": "read this aloud: hello world"})
    assert r.status_code == 200
    data = r.json()
    assert data["intent"] == "SpeakAnswer" and data["state"] == "fulfilled"
    assert data["details"]["audio"]["url"] and "path" not in data["details"]["audio"]
    assert str(home) not in r.text
    audio = data["attachments"][0]["url"]
    with TestClient(create_app(services), base_url=base) as client:
        assert client.get(audio).content[:4] == b"OggS"


PARAGRAPH = ("Amazon Polly converts written text into lifelike speech using deep learning. You send a string and "
             "the name of a voice, and Polly returns an audio stream. Neural voices sound more natural than "
             "standard voices. Speech marks give the timing of each word, which lets an application highlight "
             "words as they are spoken. SSML tags control pauses, emphasis and pronunciation.")


def test_summarize_that_after_a_summary_summarizes_the_summary_not_the_whole_reply(router):
    from bot.turn import Turn

    first = router.handle(Turn(text="summarize: " + PARAGRAPH, conversation="qa-sum"))
    assert first.intent == "SummarizeText" and first.text.startswith("Summary: ")
    summary = first.details["summary"]
    again = router.handle(Turn(text="summarize that", conversation="qa-sum"))
    assert again.intent == "SummarizeText" and again.state == "fulfilled"
    assert "Summary: Summary:" not in again.text
    assert again.text.count("Key phrases:") == 1 and "Note: Named entities" not in again.text.split("\n")[0]
    assert again.text.split("\n")[0] == "Summary: " + summary
    # after another kind of answer (here: the empty course has none), "that" is that answer
    kb = router.handle(Turn(text="What is Amazon Lex?", conversation="qa-sum"))
    assert kb.intent == "AskCoursePdfs"
    other = router.handle(Turn(text="summarize that", conversation="qa-sum"))
    assert other.text.split("\n")[0] == "Summary: " + kb.text and "Polly" not in other.text


def test_repeating_the_command_at_a_slot_prompt_is_not_taken_as_the_value(router):
    from bot.turn import Turn

    first = router.handle(Turn(text="read that aloud", conversation="qa-pending"))
    assert first.state == "elicit" and first.elicit_slot == "text"
    again = router.handle(Turn(text="read that aloud", conversation="qa-pending"))
    assert again.state == "elicit" and again.elicit_slot == "text"  # asked again, not spoken literally
    restated = router.handle(Turn(text="read this aloud: Lambda runs code", conversation="qa-pending"))
    assert restated.intent == "SpeakAnswer" and restated.state == "fulfilled"
    assert restated.slots["text"] == "Lambda runs code"


def test_an_answer_to_a_slot_prompt_that_looks_like_the_command_is_still_the_value(router):
    from bot.turn import Turn

    assert router.handle(Turn(text="summarize", conversation="qa-pending2")).state == "elicit"
    text = "Summaries help readers. A summary is short. Summarize often. Readers like short notes."
    reply = router.handle(Turn(text=text, conversation="qa-pending2"))
    assert reply.intent == "SummarizeText" and reply.state == "fulfilled"
    summary = reply.details["summary"]
    assert summary and all(part in text for part in summary.split(". "))  # sentences of the answer itself


def test_cost_follow_up_answers_with_the_pay_sentence(router, services):
    """'and how much does it cost?' after a Lambda question: the sample course's answer is
    "You pay for the number of requests and for the compute time" ('pay' is a cost answer)."""
    from bot.turn import Attachment, Turn
    from kb.sample import render

    md = Path(__file__).parents[1] / "kb" / "sample_course" / "08-aws-lambda.md"
    data = render(md.read_text())
    added = router.handle(Turn(conversation="qa-cost", text="add this", role="instructor", upload_to="course", attachments=(
        Attachment(name="08-aws-lambda.pdf", mime="application/pdf", data=data, size=len(data)),)))
    assert added.details["ingested"][0]["status"] == "added"
    first = router.handle(Turn(conversation="qa-cost", text="How long can a Lambda function run?"))
    assert "15 minutes" in first.text
    cost = router.handle(Turn(conversation="qa-cost", text="and how much does it cost?"))
    assert cost.details["found"] is True and "You pay for the number of requests" in cost.text
    assert cost.citations and cost.citations[0].source == "08-aws-lambda.pdf"


def test_tell_me_more_continues_the_passage_and_follow_ups_keep_working(router):
    from bot.turn import Attachment, Turn
    from kb.sample import render

    md = Path(__file__).parents[1] / "kb" / "sample_course" / "02-amazon-polly.md"
    data = render(md.read_text())
    added = router.handle(Turn(conversation="qa-more", text="", attachments=(
        Attachment(name="02-amazon-polly.pdf", mime="application/pdf", data=data, size=len(data)),)))
    assert added.details["ingested"][0]["status"] == "added"
    about = router.handle(Turn(conversation="qa-more", text="what is this PDF about?", intent="AskCoursePdfs"))
    assert about.text.startswith("**02-amazon-polly.pdf**") and "- Output formats (p. 1)" in about.text
    first = router.handle(Turn(conversation="qa-more", text="What is Amazon Polly?", intent="AskCoursePdfs"))
    assert "**Amazon Polly converts written text into lifelike speech" in first.text
    assert "Tell me more" in first.suggestions
    more = router.handle(Turn(conversation="qa-more", text="tell me more", intent="AskCoursePdfs"))
    assert more.details["found"] and "Polly offers dozens of voices" in more.text
    assert more.citations[0].source == "02-amazon-polly.pdf (your file)" and first.citations[0].passage not in more.text
    further = router.handle(Turn(conversation="qa-more", text="tell me more", intent="AskCoursePdfs"))
    assert further.text != more.text
    cost = router.handle(Turn(conversation="qa-more", text="and how much does it cost?", intent="AskCoursePdfs"))
    # the billing sentence is marked (with the next one when it answers too: "Neural voices cost more")
    assert cost.details["found"] and "**Polly is billed per character converted to speech." in cost.text


def test_payload_is_not_a_price():
    from kb.extractive import answer_type_bonus

    assert answer_type_bonus("how much does it cost?", "You pay for the compute time.") > 0
    assert answer_type_bonus("how much does it cost?", "The payload is limited to 6 MB.") == 0


def test_one_page_is_singular_in_chat_and_cli(router, home, tmp_path):
    import subprocess
    import sys

    from bot.turn import Attachment, Turn
    from kb.sample import render

    data = render("# One page\n\n## Notes\nA single page of notes about Amazon Lex slots and intents.\n")
    reply = router.handle(Turn(conversation="qa-1p", text="add this", role="instructor", upload_to="course", attachments=(
        Attachment(name="one.pdf", mime="application/pdf", data=data, size=len(data)),)))
    assert "to the course (1 page)." in reply.text
    (tmp_path / "two.pdf").write_bytes(render("# Two\n\n## Notes\nOther notes about Amazon Polly voices and speech.\n"))
    run = subprocess.run([sys.executable, "-m", "bot.cli", "kb", "ingest", str(tmp_path / "two.pdf")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "(1 page, 1 chunk)" in run.stdout


def test_summary_of_a_pdf_is_reflowed_without_headers_or_headings_glued_to_sentences(router):
    from bot.turn import Attachment, Turn
    from kb.sample import render

    md = (Path(__file__).parents[1] / "kb" / "sample_course" / "04-amazon-comprehend.md").read_text()
    data = render(md)
    reply = router.handle(Turn(conversation="qa-pdfsum", text="summarize the attached document", attachments=(
        Attachment(name="comprehend.pdf", mime="application/pdf", data=data, size=len(data)),)))
    assert reply.intent == "SummarizeText" and reply.state == "fulfilled", reply.text
    first = reply.text.split("\n")[0]
    assert first.startswith("Summary: Amazon Comprehend is a natural language processing service")
    assert "sample course" not in first  # the running header of every page
    assert "What Comprehend finds" not in first  # a heading is not part of a sentence
    assert reply.text.split("\n")[1].startswith("Key phrases:")  # the summary is one line


def test_wrapped_pasted_text_gives_a_one_line_summary(router):
    from bot.turn import Turn

    wrapped = PARAGRAPH.replace(" using ", "\nusing ").replace(" the name", "\nthe name")
    reply = router.handle(Turn(conversation="qa-wrap", text="summarize: " + wrapped))
    first, *_ = reply.text.split("\n")
    assert first.startswith("Summary: ") and "Key phrases:" in reply.text.split("\n")[1]
    assert "lifelike speech using deep learning" in first


def _sign_png() -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("RGB", (900, 300), "white")
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 60)
    except OSError:
        font = ImageFont.load_default(size=60)
    ImageDraw.Draw(im).text((40, 100), "OPEN 24 HOURS", font=font, fill="black")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_the_photo_reply_s_own_text_suggestion_is_answered_about_the_photo(router):
    """After a photo with text the bot suggests "what does the text say?"; that must not become
    "What text should I summarize?"."""
    import shutil

    from bot.turn import Attachment, Turn

    require_engine("tesseract-ocr", shutil.which("tesseract") is not None)

    data = _sign_png()
    first = router.handle(Turn(conversation="qa-sign", text="what's this?", attachments=(
        Attachment(name="sign.png", mime="image/png", data=data, size=len(data)),)))
    assert first.intent == "DescribePhoto" and "OPEN 24 HOURS" in first.text
    assert "what does the text say?" in first.suggestions
    for question in ("what does the text say?", "is there any text in it?", "what is written on it?"):
        reply = router.handle(Turn(conversation="qa-sign", text=question))
        assert reply.intent == "DescribePhoto", (question, reply.text)
        assert reply.text == 'The text reads: "OPEN 24 HOURS".'
    # what is not about the photo still goes where the NLU sends it
    assert router.handle(Turn(conversation="qa-sign", text="summarize: " + PARAGRAPH)).intent == "SummarizeText"
    assert router.handle(Turn(conversation="qa-sign", text="what does the text say?")).intent != "DescribePhoto"


def test_text_questions_without_a_photo_are_not_photo_questions(router):
    from bot.turn import Turn

    assert router.handle(Turn(conversation="qa-nophoto", text="what does the text say?")).intent != "DescribePhoto"


def test_a_photo_follow_up_does_not_suggest_the_question_just_asked(router):
    from bot.turn import Attachment, Turn

    skimage_data = require_module("skimage.data", "scikit-image (the `dev` extra)")
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(buf, "JPEG")
    data = buf.getvalue()
    first = router.handle(Turn(conversation="qa-eyes", text="what's in this photo?", attachments=(
        Attachment(name="astronaut.jpg", mime="image/jpeg", data=data, size=len(data)),)))
    assert "where are they looking?" in first.suggestions
    eyes = router.handle(Turn(conversation="qa-eyes", text="what about her eyes?"))
    assert eyes.intent == "DescribePhoto" and "looking at the camera" in eyes.text
    assert "where are they looking?" not in eyes.suggestions


def test_a_pdf_that_could_not_be_added_is_named_once(router):
    from bot.turn import Attachment, Turn

    data = b"%PDF-1.4\n garbage garbage\n%%EOF"
    reply = router.handle(Turn(conversation="qa-bad-pdf", text="", role="instructor", upload_to="course", attachments=(
        Attachment(name="corrupt.pdf", mime="application/pdf", data=data, size=len(data)),)))
    assert reply.state == "failed" and reply.error == "pdf_not_added"
    assert reply.text == ("I couldn't add 'corrupt.pdf' to the course. "
                          "It looks damaged (it is not a readable PDF file), so I skipped it.")


def test_text_that_is_not_utf8_gets_a_reply_that_says_so(router, tmp_path):
    from bot.files import attachment_from_path, sniff
    from bot.turn import Turn

    latin1 = tmp_path / "notes.txt"
    latin1.write_bytes("Caf\u00e9 au lait and cr\u00e8me br\u00fbl\u00e9e are French. ".encode("latin-1") * 3)
    att = attachment_from_path(latin1)
    reply = router.handle(Turn(conversation="qa-latin1", text="summarize this", attachments=(att,)))
    assert reply.error == "unsupported_attachment"
    assert reply.text.startswith("'notes.txt' is text, but not in UTF-8") and "Save it as UTF-8" in reply.text
    # binary junk is still "a file type I don't know"
    assert sniff(bytes(range(256)) * 4) == "application/octet-stream"
    assert sniff("caf\u00e9".encode("utf-8") * 10) == "text/plain"


def test_web_upload_of_non_utf8_text_says_so(home):
    require_module("fastapi", "fastapi (the `web` extra)")
    from fastapi.testclient import TestClient

    from bot.channels.web import create_app
    from bot.services import Services
    from bot.settings import load

    base = "http://127.0.0.1:8000"
    with TestClient(create_app(Services(load(home=home, backend="local", public_url=base))), base_url=base) as c:
        r = c.post("/api/turn", data={"text": "summarize this"},
                   files={"file": ("notes.txt", "Caf\u00e9 cr\u00e8me. ".encode("cp1252") * 5, "text/plain")})
    assert r.status_code == 415 and "not in UTF-8" in r.json()["text"]


def test_text_without_sentence_ends_gets_a_bounded_summary_not_the_text_itself(router, tmp_path):
    from bot.files import attachment_from_path
    from bot.turn import Turn

    junk = tmp_path / "huge.txt"
    junk.write_text("a" * 3_000_000)
    reply = router.handle(Turn(conversation="qa-huge", text="summarize this", attachments=(attachment_from_path(junk),)))
    assert reply.intent == "SummarizeText" and reply.state == "fulfilled"
    assert len(reply.text) < 2500
    assert "already short" not in reply.text
    assert "the summary is cut to 1,500 characters" in reply.text
    assert reply.text.split("\n")[0].endswith(" …")
