"""One contract suite per capability Protocol, run against every provider: the local engine for real,
the AWS one through moto (S3) or botocore's Stubber (Polly, Rekognition, Bedrock).

Each provider fixture gives the implementation and a way to make its backing service fail, so the
shared contract is checked the same way everywhere: result types, our error classes, and no AWS
error text reaching the user.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from conftest import has_program, require_engine, require_module

from bot.capabilities import Answer, Audio, PhotoDescription, StoredBlob
from bot.errors import CoursebotError, InputError, ServiceError
from bot.turn import Citation

AWS_TEXT = ("ThrottlingException", "Rate exceeded", "botocore", "An error occurred")


def _client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def assert_ours(error: Exception) -> None:
    assert isinstance(error, CoursebotError), type(error)
    assert error.user_message and not any(t in error.user_message for t in AWS_TEXT), error.user_message


@dataclass
class Case:
    impl: Any
    expect: Callable[[str], None] = lambda scenario: None  # queue the service's answers for a scenario
    fail: Callable[[], Any] | None = None  # make the next call fail in the service; returns what to call it with


# --- blob store -----------------------------------------------------------------------------------
@pytest.fixture(params=["local", "s3"])
def blobs(request, tmp_path, monkeypatch):
    if request.param == "local":
        from bot.local.blobs import LocalBlobStore

        yield LocalBlobStore(tmp_path / "blobs", b"k" * 32, "http://127.0.0.1:8000", default_expiry=60)
        return
    from botocore.config import Config
    from moto import mock_aws

    from bot.aws.s3 import S3BlobStore

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket="media")
        yield S3BlobStore(client, "media", "media/", 60)


def test_blob_round_trip(blobs):
    stored = blobs.put("audio/abc/one.ogg", b"OggS\x00data", "audio/ogg")
    assert isinstance(stored, StoredBlob) and stored.key == "audio/abc/one.ogg"
    assert stored.url.startswith("http") and stored.expires_at is not None
    assert blobs.get("audio/abc/one.ogg") == b"OggS\x00data"
    assert isinstance(blobs.url("audio/abc/one.ogg", 30), str) and blobs.url("audio/abc/one.ogg") != ""


def test_blob_overwrite_keeps_the_last(blobs):
    blobs.put("a/b.txt", b"one", "text/plain")
    blobs.put("a/b.txt", b"two", "text/plain")
    assert blobs.get("a/b.txt") == b"two"


def test_blob_missing_key_is_our_not_found(blobs):
    with pytest.raises(InputError) as e:
        blobs.get("a/never-stored.png")
    assert e.value.code == "not_found"
    assert_ours(e.value)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "a\\b", ""])
def test_blob_keys_from_outside_are_checked(blobs, key):
    with pytest.raises(InputError):
        blobs.put(key, b"x", "text/plain")
    with pytest.raises(InputError):
        blobs.get(key)


# --- speech ---------------------------------------------------------------------------------------
VOICES = {"Voices": [{"Id": "Joanna", "Name": "Joanna", "Gender": "Female", "LanguageCode": "en-US",
                      "LanguageName": "US English", "SupportedEngines": ["neural", "standard"]}]}
MP3 = b"\xff\xfb\x90\x64" + b"\x00" * 413


@pytest.fixture(params=["espeak", "polly"])
def speech(request):
    if request.param == "espeak":
        require_engine("espeak-ng", has_program("espeak-ng"))
        require_module("soundfile", "soundfile (the `speech` extra)")
        from bot.local.speech import EspeakSpeech

        def broken():
            return EspeakSpeech("/nonexistent/espeak-ng")

        yield Case(EspeakSpeech(), fail=broken)
        return
    from bot.aws.polly import PollySpeech

    client = _client("polly")
    with Stubber(client) as stub:
        def expect(scenario: str) -> None:
            stub.add_response("describe_voices", VOICES, {})
            stub.add_response("synthesize_speech", {"AudioStream": StreamingBody(io.BytesIO(MP3), len(MP3)),
                                                    "ContentType": "audio/mpeg", "RequestCharacters": 11}, None)

        def fail():
            stub.add_response("describe_voices", VOICES, {})
            for _ in range(4):  # the client's retries
                stub.add_client_error("synthesize_speech", "ThrottlingException", "Rate exceeded", 400)
            return PollySpeech(client)

        yield Case(PollySpeech(client), expect, fail)


def test_speech_returns_audio(speech):
    speech.expect("hello")
    audio = speech.impl.synthesize("Hello class.")
    assert isinstance(audio, Audio) and len(audio.data) > 100
    assert audio.mime in ("audio/mpeg", "audio/ogg", "audio/wav") and audio.voice
    assert audio.duration_s is None or audio.duration_s > 0


def test_speech_failure_is_ours(speech):
    impl = speech.fail()
    with pytest.raises(CoursebotError) as e:
        impl.synthesize("Hello class.")
    assert_ours(e.value)


# --- vision ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def photo() -> bytes:
    skimage_data = require_module("skimage.data", "scikit-image (the `dev` extra)")
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(params=["local", "rekognition"])
def vision(request, tmp_path):
    from bot.settings import load

    if request.param == "local":
        from bot.local.vision import LocalVision

        yield Case(LocalVision(load(home=tmp_path, backend="local")))
        return
    from bot.aws.rekognition import RekognitionVision

    client = _client("rekognition")
    settings = load(home=tmp_path, backend="aws", aws_max_attempts=1)
    with Stubber(client) as stub:
        def expect(scenario: str) -> None:
            stub.add_response("detect_moderation_labels", {"ModerationLabels": []}, None)
            stub.add_response("detect_labels", {"Labels": [{"Name": "Person", "Confidence": 99.0}]}, None)
            stub.add_response("detect_faces", {"FaceDetails": [{"Confidence": 99.9, "BoundingBox": {
                "Width": 0.2, "Height": 0.27, "Left": 0.34, "Top": 0.12}}]}, None)
            stub.add_response("detect_text", {"TextDetections": []}, None)
            stub.add_response("recognize_celebrities", {"CelebrityFaces": [], "UnrecognizedFaces": []}, None)

        def fail():
            stub.add_client_error("detect_moderation_labels", "ThrottlingException", "Rate exceeded", 400)
            return RekognitionVision(settings, client=client)

        yield Case(RekognitionVision(settings, client=client), expect, fail)


def test_vision_describes_a_photo(vision, photo):
    vision.expect("astronaut")
    d = vision.impl.describe(photo, "image/jpeg")
    assert isinstance(d, PhotoDescription) and d.summary.strip()
    assert isinstance(d.labels, tuple) and isinstance(d.faces, tuple) and isinstance(d.notes, tuple)
    assert d.faces and all(isinstance(f, dict) for f in d.faces)  # the astronaut's face, by either engine


def test_vision_refuses_a_non_image_before_any_call(vision):
    with pytest.raises(InputError) as e:
        vision.impl.describe(b"just some text, not a picture", "image/jpeg")
    assert_ours(e.value)


@pytest.mark.parametrize("vision", ["rekognition"], indirect=True)  # the offline engine calls no service
def test_vision_service_failure_is_ours(vision, photo):
    impl = vision.fail()
    with pytest.raises(ServiceError) as e:
        impl.describe(photo, "image/jpeg")
    assert_ours(e.value)


# --- knowledge base -------------------------------------------------------------------------------
KB_ID, DS_ID, BUCKET = "KB12345678", "DS12345678", "course-bucket"
LAMBDA_TEXT = "A Lambda function can run for at most 15 minutes."


@pytest.fixture(scope="module")
def local_kb(tmp_path_factory):
    from test_kb_local import LAMBDA_MD, render

    from bot.services import Services
    from bot.settings import load
    from kb.local import build

    settings = load(home=tmp_path_factory.mktemp("kbhome"), backend="local")
    kb = build(settings, Services(settings))
    docs = tmp_path_factory.mktemp("pdfs")
    (docs / "lambda.pdf").write_bytes(render(LAMBDA_MD))
    assert [r.status for r in kb.ingest([str(docs)])] == ["added"]
    return kb


@pytest.fixture(params=["local", "bedrock"])
def knowledge(request, monkeypatch):
    if request.param == "local":
        yield Case(request.getfixturevalue("local_kb"))
        return
    from botocore.config import Config
    from moto import mock_aws

    from bot.settings import load
    from kb.bedrock import BedrockKnowledgeBase

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket=BUCKET)
        runtime = _client("bedrock-agent-runtime")
        settings = load(backend="aws", kb_id=KB_ID, kb_data_source_id=DS_ID, pdf_bucket=BUCKET, aws_max_attempts=1)
        kb = BedrockKnowledgeBase(settings, runtime, _client("bedrock-agent"), s3, None, sleep=lambda s: None)
        key = "course-pdfs/lambda.pdf"
        ref = {"content": {"text": LAMBDA_TEXT, "type": "TEXT"},
               "location": {"type": "S3", "s3Location": {"uri": f"s3://{BUCKET}/{key}"}},
               "metadata": {"x-amz-bedrock-kb-source-uri": f"s3://{BUCKET}/{key}",
                            "x-amz-bedrock-kb-document-page-number": 1.0}}
        with Stubber(runtime) as stub:
            def expect(scenario: str) -> None:
                if scenario == "found":
                    text = "A Lambda function can run for up to 15 minutes."
                    stub.add_response("retrieve_and_generate", {
                        "output": {"text": text}, "sessionId": "session-1",
                        "citations": [{"generatedResponsePart": {"textResponsePart": {
                            "text": text, "span": {"start": 0, "end": len(text) - 1}}}, "retrievedReferences": [ref]}]},
                        None)
                elif scenario == "not_found":
                    stub.add_response("retrieve_and_generate", {"output": {"text": "Sorry, I am unable to assist you "
                                                                          "with this request."}, "sessionId": "session-2"}, None)

            def fail():
                stub.add_client_error("retrieve_and_generate", "ThrottlingException", "Rate exceeded", 400,
                                      expected_params={"input": {"text": "How long can a Lambda function run?"},
                                                       "retrieveAndGenerateConfiguration": ANY})
                return kb

            yield Case(kb, expect, fail)


def test_kb_answers_with_citations(knowledge):
    knowledge.expect("found")
    a = knowledge.impl.ask("How long can a Lambda function run?")
    assert isinstance(a, Answer) and a.found and "15 minutes" in a.text
    assert a.citations and all(isinstance(c, Citation) for c in a.citations)
    assert a.citations[0].source == "lambda.pdf" and a.citations[0].page == 1


def test_kb_says_when_the_course_has_no_answer(knowledge):
    knowledge.expect("not_found")
    a = knowledge.impl.ask("Who won the 1954 football world cup?")
    assert isinstance(a, Answer) and not a.found and a.citations == () and a.text


def test_kb_follow_up_query_joins_the_previous_question(knowledge):
    kb = knowledge.impl
    assert kb.retrieval_query("What is Amazon Lex?", ()) == "What is Amazon Lex?"
    joined = kb.retrieval_query("and how much does it cost?", ["What is Amazon Lex?"])
    assert "Amazon Lex" in joined and "cost" in joined


def test_kb_refuses_an_empty_question(knowledge):
    with pytest.raises(InputError) as e:
        knowledge.impl.ask("   ")
    assert_ours(e.value)


@pytest.mark.parametrize("knowledge", ["bedrock"], indirect=True)  # the offline index calls no service
def test_kb_service_failure_is_ours(knowledge):
    kb = knowledge.fail()
    with pytest.raises(ServiceError) as e:
        kb.ask("How long can a Lambda function run?")
    assert_ours(e.value)
