"""SummarizeText and SpeakAnswer end to end through the Router: local engines for real, the AWS backend with
stubbed/moto clients, and the bad inputs from the issue (empty, 200 KB, markup, RTL/zero-width, non-UTF-8)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from conftest import has_program, needs_engine

from bot import textutil
from bot.turn import Attachment, Turn

SAMPLE = (Path(__file__).parents[1] / "bot" / "bench" / "data" / "summarize_sample.md").read_text(encoding="utf-8")
needs_espeak = needs_engine("espeak-ng", lambda: has_program("espeak-ng"))


def make_pdf(text_lines: list[str]) -> bytes:
    """A minimal valid one-page PDF with the given lines of text (Helvetica), offsets computed."""
    content = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for line in text_lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content.encode("latin-1") + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def ask(router, text="", conversation="c1", **kw):
    return router.handle(Turn(conversation=conversation, text=text, **kw))


# --- SummarizeText (local) ----------------------------------------------------------------------------
def test_summarize_a_pasted_text(router):
    reply = ask(router, "summarize this: " + SAMPLE)
    assert reply.intent == "SummarizeText" and reply.error is None, reply.text
    d = reply.details
    source = textutil.sentences(textutil.clean(SAMPLE))
    assert all(s in source for s in textutil.sentences(d["summary"]))
    assert d["language"] == "en" and d["sentiment"] in {"POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"}
    assert any("amazon lex" in p.lower() for p in d["key_phrases"])
    assert d["truncated"] is False and d["chars_total"] == len(textutil.clean(SAMPLE))
    for label in ("Summary:", "Key phrases:", "Sentiment:", "Language: English (en"):
        assert label in reply.text
    # entities: listed when the `ner` extra is installed (`make test` installs it), else the reply says why not
    assert "Entities: " in reply.text or "NER model" in reply.text


def test_summarize_that_uses_the_previous_answer(router, services):
    store = services.conversations
    conv = store.load("prev")
    conv.last_answer = SAMPLE
    conv.last_intent = "AskCoursePdfs"
    store.save("prev", conv)
    reply = ask(router, "summarize that", conversation="prev")
    assert reply.intent == "SummarizeText" and reply.details["source"] == "previous answer", reply.text
    assert reply.details["chars_analyzed"] == len(textutil.clean(SAMPLE))


def test_summarize_an_attached_pdf(router, tmp_path):
    lines = ["Amazon Comprehend detects the language of a document.",
             "It extracts key phrases and named entities from course notes.",
             "Students used it to analyse forum posts about the labs.",
             "The sentiment of each post was positive, negative, neutral or mixed."]
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(make_pdf(lines))
    from bot.files import attachment_from_path

    reply = ask(router, "summarize this pdf", attachments=(attachment_from_path(pdf),))
    assert reply.intent == "SummarizeText" and reply.error is None, reply.text
    assert reply.details["source"] == "attachment 'notes.pdf'"
    assert "Comprehend" in reply.details["summary"]


def test_damaged_pdf_gets_a_clear_reply(router):
    att = Attachment(name="broken.pdf", mime="application/pdf", data=b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%EOF")
    reply = ask(router, "summarize this pdf", attachments=(att,))
    assert reply.error in ("pdf_corrupt", "pdf_no_text") and "broken.pdf" in reply.text


def test_200kb_attachment_is_cut_to_the_stated_limit(router, settings):
    big = (SAMPLE + "\n\n") * 60  # ~220 KB
    assert len(big.encode()) > 200_000
    t = time.perf_counter()
    reply = ask(router, "summarize the attached document",
                attachments=(Attachment(name="big.txt", mime="text/plain", data=big.encode()),))
    assert time.perf_counter() - t < 60
    assert reply.error is None, reply.text
    assert reply.details["truncated"] is True
    assert reply.details["chars_analyzed"] <= settings.summary_max_chars < reply.details["chars_total"]
    assert f"I analyzed only the first {reply.details['chars_analyzed']:,}" in reply.text
    assert f"{settings.summary_max_chars:,}" in reply.text


def test_200kb_message_gets_a_clear_reply(router):
    reply = ask(router, "summarize this: " + "word " * 40_000)
    assert reply.state == "failed" and reply.error == "message_too_long"
    assert "attach it as a .txt or .pdf" in reply.text


def test_empty_and_invisible_only_text(router):
    assert ask(router, "").error == "empty_message"
    reply = ask(router, "", intent="SummarizeText", slots={"text": "\u200b\u200d\ufeff \u202e"})
    assert reply.error == "empty_text" and "no readable characters" in reply.text


def test_non_utf8_attachment_gets_a_clear_reply(router):
    data = b"Plain ASCII start. " * 300 + "caf\u00e9 cr\u00e8me".encode("latin-1")  # bad byte after the sniffed head
    reply = ask(router, "summarize this", attachments=(Attachment(name="notes.txt", mime="text/plain", data=data),))
    assert reply.error == "bad_encoding"
    assert "'notes.txt' is not UTF-8 text" in reply.text and "Traceback" not in reply.text


def test_utf16_attachment_with_bom_is_read(router):
    text = "Amazon Lex builds chatbots. Polly speaks. Comprehend reads. Rekognition sees. Bedrock writes."
    att = Attachment(name="u16.txt", mime="text/plain", data=text.encode("utf-16"))
    reply = ask(router, "summarize this", attachments=(att,))
    assert reply.error is None and reply.details["chars_total"] == len(text)


def test_rtl_and_zero_width_text(router):
    text = ("\u202bمرحبا\u200b بكم في الدورة. هذا نص\u200c باللغة العربية عن الخدمات السحابية. "
            "نتعلم كيف نبني مساعدا ذكيا. ثم نضيف الصوت والصور.\u202c")
    reply = ask(router, "", intent="SummarizeText", slots={"text": text})
    assert reply.error is None, reply.text
    assert reply.details["language"] == "ar"
    assert "\u200b" not in reply.text and "\u202b" not in reply.text
    assert all(s in textutil.clean(text) for s in textutil.sentences(reply.details["summary"]))


def test_summary_failure_still_returns_the_analysis(router, services):
    from bot.errors import ServiceError

    class Down:
        def summarize(self, text, *, max_sentences=3):
            raise ServiceError("Amazon Bedrock is busy right now. Please try again in a moment.", code="throttled")

    services._built["summarizer"] = Down()
    reply = ask(router, "summarize this: " + SAMPLE)
    assert reply.error is None and reply.details["summary"] is None
    assert "No summary: Amazon Bedrock is busy" in reply.text and reply.details["key_phrases"]


# --- SpeakAnswer (local) ------------------------------------------------------------------------------
@needs_espeak
def test_speak_text_returns_a_signed_link_and_the_file(router, services):
    import soundfile

    reply = ask(router, "read this aloud: Amazon Polly turns text into lifelike speech.")
    assert reply.intent == "SpeakAnswer" and reply.error is None, reply.text
    (media,) = reply.attachments
    assert media.kind == "audio" and media.mime == "audio/ogg"
    assert Path(media.path).is_file()
    samples, rate = soundfile.read(media.path)
    assert 1.5 < len(samples) / rate < 8
    url = urlparse(media.url)
    q = parse_qs(url.query)
    key = url.path.removeprefix("/files/")
    blobs = services.blobs
    assert blobs.verify(key, q["expires"][0], q["sig"][0])
    assert not blobs.verify(key, q["expires"][0], "0" * 64)  # changed signature refused
    assert not blobs.verify(key, q["expires"][0], q["sig"][0], now=time.time() + 7200)  # expired refused
    from bot import keys

    # a per-conversation prefix: the conversation's hash, never the conversation id itself
    assert key.startswith(f"audio/{keys.conversation_hash('c1')}/") and not key.startswith("audio/c1/")
    assert media.to_dict()["path"] == media.path  # `coursebot turn --json` shows the path
    assert reply.ssml == "<speak>Amazon Polly turns text into lifelike speech.</speak>"
    assert "expires in 1 hour" in reply.text


@needs_espeak
def test_markup_is_spoken_literally(router):
    import soundfile

    reply = ask(router, 'read this aloud: </speak><break time="100s"/>')
    assert reply.error is None, reply.text
    assert reply.ssml == "<speak>&lt;/speak&gt;&lt;break time=&quot;100s&quot;/&gt;</speak>"
    samples, rate = soundfile.read(reply.attachments[0].path)
    assert len(samples) / rate < 10


@needs_espeak
def test_read_that_aloud_speaks_the_previous_answer_and_again_repeats_it(router):
    ask(router, "summarize this: " + SAMPLE, conversation="p")
    first = ask(router, "read that aloud", conversation="p")
    assert first.intent == "SpeakAnswer" and first.error is None, first.text
    assert first.details["chars_spoken"] > 100 and first.details["truncated"] is False
    again = ask(router, "read it again", conversation="p")
    assert again.intent == "SpeakAnswer" and again.details["chars_spoken"] == first.details["chars_spoken"]


@needs_espeak
def test_long_text_is_cut_for_speech_and_the_reply_says_so(router, settings):
    att = Attachment(name="long.txt", mime="text/plain", data=(SAMPLE * 3).encode())
    reply = ask(router, "read this aloud", attachments=(att,))
    assert reply.error is None, reply.text
    assert reply.details["truncated"] and reply.details["chars_spoken"] <= settings.speech_max_chars
    assert f"the limit is {settings.speech_max_chars:,}" in reply.text
    assert len(reply.ssml) <= 1024  # fits one Lex message


def test_say_it_in_spanish_is_not_available_offline(router):
    reply = ask(router, "", intent="SpeakAnswer", slots={"text": "Good morning students", "language": "es"})
    assert reply.state == "failed" and reply.error == "translation_not_available"
    assert "Spanish" in reply.text and "on this server" in reply.text
    assert "COURSEBOT_" not in reply.text and "pip install" not in reply.text


def test_language_slot_accepts_names_and_rejects_nonsense(router):
    by_name = ask(router, "", intent="SpeakAnswer", slots={"text": "Good morning students", "language": "Spanish"})
    assert by_name.error == "translation_not_available"
    bad = ask(router, "", intent="SpeakAnswer", slots={"text": "Good morning", "language": "Klingon!!"})
    assert bad.error == "bad_language" and "Klingon" in bad.text


def test_speak_nothing_asks_what_to_read(router):
    reply = ask(router, "read this aloud", conversation="fresh")
    assert reply.state == "elicit" and reply.elicit_slot == "text"


# --- the AWS backend end to end: Translate + Polly (Stubber) + S3 (moto) --------------------------------
def test_say_it_in_spanish_on_aws(home, monkeypatch):
    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber
    from moto import mock_aws

    from bot.aws.polly import PollySpeech
    from bot.aws.translate import AwsTranslator
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    with mock_aws():
        settings = load(home=home, backend="aws", media_bucket="media-bucket")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="media-bucket")
        translate = boto3.client("translate", region_name="us-east-1")
        polly = boto3.client("polly", region_name="us-east-1")
        from bot.local.state import build_conversations as conversations
        from bot.nlu import build as nlu

        services = Services(settings, overrides={"translator": AwsTranslator(translate), "speech": PollySpeech(polly),
                                                 "conversations": conversations(load(home=home), None)})
        services._built["nlu"] = nlu(settings, services)
        with Stubber(translate) as ts, Stubber(polly) as ps:
            ts.add_response("translate_text", {"TranslatedText": "Buenos días <estudiantes>", "SourceLanguageCode": "en",
                                               "TargetLanguageCode": "es"},
                            {"Text": "Good morning students", "SourceLanguageCode": "auto", "TargetLanguageCode": "es"})
            ps.add_response("describe_voices", {"Voices": [
                {"Id": "Lucia", "Name": "Lucia", "Gender": "Female", "LanguageCode": "es-ES",
                 "SupportedEngines": ["neural", "standard"]},
                {"Id": "Joanna", "Name": "Joanna", "Gender": "Female", "LanguageCode": "en-US",
                 "SupportedEngines": ["neural", "standard"]}]}, {})
            ps.add_response("synthesize_speech", {"AudioStream": StreamingBody(io.BytesIO(b"mp3"), 3),
                                                  "ContentType": "audio/mpeg"},
                            {"Text": "<speak>Buenos días &lt;estudiantes&gt;</speak>", "TextType": "ssml",
                             "OutputFormat": "mp3", "VoiceId": "Lucia", "Engine": "neural"})
            reply = Router(services).handle(Turn(conversation="T1:C1", text="", intent="SpeakAnswer",
                                                 slots={"text": "Good morning students", "language": "es"}))
        assert reply.error is None, reply.text
        (media,) = reply.attachments
        assert media.mime == "audio/mpeg" and media.path is None
        key = urlparse(media.url).path.split("/media-bucket/")[-1].lstrip("/")
        assert key.startswith("media/audio/") and key.endswith(".mp3")
        head = boto3.client("s3", region_name="us-east-1").head_object(Bucket="media-bucket", Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert "X-Amz-Expires=3600" in media.url
        assert reply.details["translated_to"] == "es" and "In Spanish: Buenos días <estudiantes>" in reply.text
        assert reply.ssml == "<speak>Buenos días &lt;estudiantes&gt;</speak>"


# --- bench rows ---------------------------------------------------------------------------------------
@needs_espeak
def test_bench_rows(services, monkeypatch):
    from bot.bench import core as benchmarks
    from bot import services as services_mod

    monkeypatch.setattr(services_mod, "default", lambda: services)
    rows = benchmarks.bench_speech() + benchmarks.bench_summarize()
    by_metric = {r.metric: r for r in rows}
    assert by_metric["speech per 300 characters p50"].unit == "ms"
    assert 0 < by_metric["real-time factor p50"].value < 1  # faster than real time
    assert "296 characters" in by_metric["speech per 300 characters p50"].measured_on
    assert by_metric["summary + analysis per 5 KB p50"].value > 0
    assert {"summarize", "speech"} <= set(benchmarks.BENCHES)


def test_citation_markers_are_not_read_aloud():
    from intents.speak_answer import speakable

    assert speakable("Polly is billed per character. [1] Lex builds **bots** [2, 3].") == \
        "Polly is billed per character. Lex builds bots."
