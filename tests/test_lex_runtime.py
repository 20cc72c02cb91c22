"""The web chat's Lex mode against botocore's lexv2-runtime model (Stubber validates every request
and response): RecognizeText, RecognizeUtterance with its gzip+base64 headers and an audio stream,
the code hook's messages rendered as the same Reply as local mode, and errors as plain sentences."""

from __future__ import annotations

import base64
import gzip
import io
import json

import pytest
from conftest import require_module

require_module("boto3")

import boto3  # noqa: E402
from botocore.response import StreamingBody  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from bot.aws import lex_runtime  # noqa: E402
from bot.aws.lex_runtime import LexRuntime, decode_header, encode_header  # noqa: E402
from bot.channels.lex.adapter import to_lex  # noqa: E402
from bot.channels.web.lexmode import LexChat  # noqa: E402
from bot.errors import InputError  # noqa: E402
from bot.turn import Citation, Media, Reply  # noqa: E402

BOT, ALIAS, SESSION = "ABCDE12345", "FGHIJ67890", "web-" + "a" * 32
WHERE = {"botId": BOT, "botAliasId": ALIAS, "localeId": "en_US", "sessionId": SESSION}
MP3 = b"\xff\xfb\x90\x00" + b"\x00" * 400  # an MPEG audio frame header and some bytes


def _client():
    return boto3.client("lexv2-runtime", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


def _chat(client):
    return LexChat(LexRuntime(BOT, ALIAS, client=client))


def _answer(input_mode: str = "Text") -> dict:
    """What our code hook returns for a cited course answer with audio and suggestions."""
    reply = Reply(text="Amazon Lex builds chat and voice bots.\n\nIntents hold sample utterances.",
                  intent="AskCoursePdfs",
                  citations=(Citation("01-amazon-lex.pdf", 2, "https://api.example/l/abc123"),
                             Citation("notes.pdf", None)),
                  attachments=(Media(kind="audio", mime="audio/mpeg", url="https://api.example/l/aud456",
                                     title="Spoken text (40 characters)"),),
                  suggestions=("What is Amazon Polly?",))
    event = {"sessionId": SESSION, "inputMode": input_mode, "requestAttributes": {"coursebot_client": "web"},
             "sessionState": {"intent": {"name": "AskCoursePdfs", "slots": {}, "state": "InProgress"}}}
    return to_lex(reply, event)


INTERPRETATIONS = [{"intent": {"name": "AskCoursePdfs", "state": "Fulfilled"}, "nluConfidence": {"score": 0.91}},
                   {"intent": {"name": "FallbackIntent"}}]


# --- the headers -----------------------------------------------------------------------------------
def test_headers_are_gzip_then_base64_json():
    value = {"messages": [{"contentType": "PlainText", "content": "héllo"}]}
    header = encode_header(value)
    raw = base64.b64decode(header)
    assert raw[:2] == b"\x1f\x8b" and json.loads(gzip.decompress(raw)) == value
    assert decode_header(header) == value
    # inputTranscript: text, compressed the same way; a plain base64 value is read too
    assert decode_header(encode_header("what is lex", as_json=False), as_json=False) == "what is lex"
    assert decode_header(base64.b64encode(b"plain words").decode(), as_json=False) == "plain words"
    for broken in ("not base64!!", base64.b64encode(b"\x1f\x8b broken gzip").decode(), "", None):
        assert decode_header(broken) is None


# --- RecognizeText ------------------------------------------------------------------------------------
def test_recognize_text_renders_the_hook_answer_like_local_mode():
    answer = _answer()
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("recognize_text", {
            "messages": answer["messages"], "sessionState": answer["sessionState"],
            "interpretations": INTERPRETATIONS, "sessionId": SESSION,
        }, {**WHERE, "text": "What is Amazon Lex?", "requestAttributes": {"coursebot_client": "web"}})
        reply = _chat(client).text(SESSION, "  What is Amazon Lex?  ")
        stub.assert_no_pending_responses()
    assert reply.text == "Amazon Lex builds chat and voice bots.\n\nIntents hold sample utterances."
    assert reply.intent == "AskCoursePdfs" and reply.confidence == pytest.approx(0.91)
    assert reply.state == "fulfilled" and reply.error is None and reply.conversation == SESSION
    assert [(c.source, c.page, c.url) for c in reply.citations] == [
        ("01-amazon-lex.pdf", 2, "https://api.example/l/abc123"), ("notes.pdf", None, None)]
    assert [(m.kind, m.mime, m.url) for m in reply.attachments] == [
        ("audio", "audio/mpeg", "https://api.example/l/aud456")]
    assert reply.suggestions[0] == "What is Amazon Polly?" and "helpful" in reply.suggestions
    assert "http" not in reply.text and "Sources:" not in reply.text


def test_lex_prompts_cards_and_elicit_slot():
    client = _client()
    messages = [{"contentType": "PlainText", "content": "Which photo should I describe?"},
                {"contentType": "ImageResponseCard", "imageResponseCard": {
                    "title": "Pick one", "imageUrl": "https://media.example/cat.png",
                    "buttons": [{"text": "The cat", "value": "describe the cat"}]}},
                {"contentType": "ImageResponseCard", "imageResponseCard": {
                    "title": "bad", "imageUrl": "javascript:alert(1)"}}]
    state = {"dialogAction": {"type": "ElicitSlot", "slotToElicit": "image"},
             "intent": {"name": "DescribePhoto", "state": "InProgress", "slots": {}}}
    with Stubber(client) as stub:
        stub.add_response("recognize_text", {"messages": messages, "sessionState": state, "sessionId": SESSION},
                          {**WHERE, "text": "describe a photo", "requestAttributes": {"coursebot_client": "web"}})
        reply = _chat(client).text(SESSION, "describe a photo")
    assert reply.state == "elicit" and reply.elicit_slot == "image" and reply.intent == "DescribePhoto"
    assert reply.text == "Which photo should I describe?" and reply.suggestions == ("describe the cat",)
    assert [(m.kind, m.url) for m in reply.attachments] == [("image", "https://media.example/cat.png")]


def test_unknown_intent_and_failed_state():
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("recognize_text", {
            "messages": [{"contentType": "PlainText", "content": "Sorry, I couldn't do that."}],
            "sessionState": {"dialogAction": {"type": "Close"}, "intent": {"name": "OrderPizza", "state": "Failed"}},
            "interpretations": [{"intent": {"name": "OrderPizza"}, "nluConfidence": {"score": 0.99}}]})
        reply = _chat(client).text(SESSION, "pizza")
    assert reply.intent == "Fallback" and reply.confidence == 0.0 and reply.state == "failed"


@pytest.mark.parametrize("code,status,words,short", [
    ("ThrottlingException", 429, "busy", "throttled"),
    ("DependencyFailedException", 424, "failed while answering", "hook_failed"),
    ("BadGatewayException", 502, "could not be read", "hook_failed"),
    ("InternalServerException", 500, "couldn't answer", "service_error"),
    ("AccessDeniedException", 403, "can't be reached", "not_available"),
])
def test_errors_become_one_plain_sentence(code, status, words, short):
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("recognize_text", code, "Invalid Lambda Response: arn:aws:lambda:us-east-1:123:function:x "
                              '{"errorType": "KeyError"}', http_status_code=status)
        reply = _chat(client).text(SESSION, "hello")
    assert reply.state == "failed" and reply.error == short and words in reply.text
    for leak in ("arn:", "Exception", "{", "Lambda", "KeyError"):
        assert leak not in reply.text


def test_text_limits_and_ids_are_checked_before_any_call():
    client = _client()
    with Stubber(client) as stub:  # no responses queued: any call would fail the test
        chat = _chat(client)
        assert chat.text(SESSION, "x" * 1025).error == "message_too_long"
        assert chat.text(SESSION, "   ").error == "empty_message"
        assert chat.text("../other session", "hi").error == "bad_session"
        stub.assert_no_pending_responses()
    for bad in ("ABCDE12345", "ABCDE12345/", "abc/def", "ABCDE12345/FGHIJ6789!", "../../x/ABCDE12345",
                "ABCDE12345/FGHIJ67890/x"):
        with pytest.raises(InputError):
            lex_runtime.check_bot(bad)
    assert lex_runtime.check_bot(" ABCDE12345/TSTALIASID ") == ("ABCDE12345", "TSTALIASID")
    with pytest.raises(InputError):
        lex_runtime.check_locale("en-US")
    assert lex_runtime.check_locale("es_419") == "es_419"


# --- RecognizeUtterance ------------------------------------------------------------------------------
def _pcm(seconds: float) -> bytes:
    return b"\x01\x00" * int(16000 * seconds)


def test_recognize_utterance_decodes_headers_and_reads_the_audio():
    answer = _answer("Speech")
    pcm = _pcm(1.5)
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("recognize_utterance", {
            "inputMode": "Speech", "contentType": "audio/mpeg", "sessionId": SESSION,
            "messages": encode_header(answer["messages"]),
            "sessionState": encode_header(answer["sessionState"]),
            "interpretations": encode_header(INTERPRETATIONS),
            "requestAttributes": encode_header({"coursebot_client": "web"}),
            "inputTranscript": encode_header("what is amazon lex", as_json=False),
            "audioStream": StreamingBody(io.BytesIO(MP3), len(MP3)),
        }, {**WHERE, "requestContentType": "audio/l16; rate=16000; channels=1", "responseContentType": "audio/mpeg",
            "inputStream": pcm, "requestAttributes": encode_header({"coursebot_client": "web"})})
        voice = _chat(client).voice(SESSION, pcm)
        stub.assert_no_pending_responses()
    assert voice.transcript == "what is amazon lex"
    assert voice.audio == MP3 and voice.audio_mime == "audio/mpeg"
    reply = voice.reply
    assert reply.intent == "AskCoursePdfs" and reply.confidence == pytest.approx(0.91)
    assert reply.text.startswith("Amazon Lex builds chat and voice bots.") and "<speak>" not in reply.text
    assert "&apos;" not in reply.text  # SSML entities are unescaped for the page
    assert [(c.source, c.page) for c in reply.citations] == [("01-amazon-lex.pdf", 2)]
    assert [m.kind for m in reply.attachments] == ["audio"]


def test_nothing_heard_too_long_and_errors_in_voice():
    client = _client()
    with Stubber(client) as stub:
        chat = _chat(client)
        assert chat.voice(SESSION, _pcm(15.01)).reply.error == "speech_too_long"
        assert chat.voice(SESSION, _pcm(0.05)).reply.error == "nothing_heard"
        assert chat.voice(SESSION, b"\x00" * 8001).reply.error == "nothing_heard"  # not whole samples
        stub.add_response("recognize_utterance", {
            "inputMode": "Speech", "sessionId": SESSION, "inputTranscript": encode_header("", as_json=False),
            "messages": encode_header([{"contentType": "PlainText", "content": "Sorry, can you say that again?"}]),
            "audioStream": StreamingBody(io.BytesIO(MP3), len(MP3))})
        silent = chat.voice(SESSION, _pcm(2))
        assert silent.reply.error == "nothing_heard" and "didn't hear" in silent.reply.text
        stub.add_client_error("recognize_utterance", "DependencyFailedException", "Lambda threw", http_status_code=424)
        failed = chat.voice(SESSION, _pcm(2))
        assert failed.reply.error == "hook_failed" and "Lambda" not in failed.reply.text and not failed.audio
        stub.add_client_error("recognize_utterance", "ThrottlingException", "Rate exceeded", http_status_code=429)
        assert chat.voice(SESSION, _pcm(2)).reply.error == "throttled"
        stub.assert_no_pending_responses()
        shorter = LexChat(LexRuntime(BOT, ALIAS, client=client), max_speech_seconds=2)  # the operator's own cap
        assert (shorter.max_speech_seconds, shorter.max_speech_bytes) == (2, 64_000)
        over = shorter.voice(SESSION, _pcm(2.5)).reply
        assert over.error == "speech_too_long" and "2 seconds" in over.text


def test_the_links_payload_goes_only_to_our_own_clients_in_text_mode():
    answer = _answer()  # with the web chat's request attribute
    kinds = [m["contentType"] for m in answer["messages"]]
    assert kinds.count("CustomPayload") == 1 and len(answer["messages"]) <= 10
    payload = json.loads(next(m["content"] for m in answer["messages"] if m["contentType"] == "CustomPayload"))
    assert {link["kind"] for link in payload["links"]} == {"audio", "citation"}
    console = to_lex(Reply(text="x", intent="AskCoursePdfs", citations=(Citation("a.pdf", 1, "https://api.example/l/a"),)),
                     {"sessionId": SESSION, "inputMode": "Text",
                      "sessionState": {"intent": {"name": "AskCoursePdfs", "slots": {}}}})
    assert "CustomPayload" not in [m["contentType"] for m in console["messages"]]  # the Lex console shows no JSON
    # without the payload (another client's answer, Lex's own messages) links still render, as plain links
    from bot.channels.lex.replies import from_runtime

    plain = from_runtime(console["messages"], console["sessionState"])
    assert [(c.source, c.page, c.url) for c in plain.citations] == [("a.pdf", 1, "https://api.example/l/a")]
