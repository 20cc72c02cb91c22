"""Speech and blob stores: espeak-ng for real (audio decodes, duration fits the text), Polly via Stubber,
S3 via moto (object exists, SSE set, presigned URL)."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from conftest import has_program, needs_engine, require_module
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from bot.errors import InputError

soundfile = require_module("soundfile", "soundfile (the `speech` extra)")
needs_espeak = needs_engine("espeak-ng", lambda: has_program("espeak-ng"))

THREE_HUNDRED = ("Amazon Polly turns text into lifelike speech. Neural voices sound natural, while standard voices "
                 "are cheaper. The audio is stored in Amazon S3 and shared through a presigned link that expires "
                 "after an hour, so a link pasted into a public channel stops working. Students liked it a lot.")


def _decode(data: bytes) -> float:
    samples, rate = soundfile.read(io.BytesIO(data))
    assert rate >= 8000 and len(samples) > 0
    assert abs(samples).max() > 0.01  # not silence
    return len(samples) / rate


# --- local: espeak-ng -------------------------------------------------------------------------------------
@needs_espeak
@pytest.mark.parametrize("fmt,mime", [("ogg", "audio/ogg"), ("mp3", "audio/mpeg")])
def test_espeak_audio_decodes_and_its_duration_fits_the_text(fmt, mime):
    from bot.local.speech import EspeakSpeech

    speech = EspeakSpeech(fmt=fmt)
    long = speech.synthesize(THREE_HUNDRED)
    short = speech.synthesize("Hello students.")
    assert long.mime == mime
    seconds = _decode(long.data)
    assert abs(seconds - long.duration_s) < 0.2
    # ~300 characters at 165 words per minute is about 15-25 seconds of speech
    assert 12 < seconds < 30, seconds
    assert 0.5 < _decode(short.data) < 3


@needs_espeak
def test_markup_is_spoken_literally_not_interpreted():
    from bot.local.speech import EspeakSpeech

    audio = EspeakSpeech().synthesize('</speak><break time="100s"/>')
    assert _decode(audio.data) < 10  # an interpreted break would last 100 s


@needs_espeak
def test_text_starting_with_a_dash_is_not_an_option():
    from bot.local.speech import EspeakSpeech

    audio = EspeakSpeech().synthesize("--help -w /tmp/evil.wav")
    assert _decode(audio.data) > 1


@needs_espeak
def test_rtl_text_is_spoken():
    from bot.local.speech import EspeakSpeech

    audio = EspeakSpeech().synthesize("مرحبا بكم في الدورة", language="ar")
    assert audio.voice == "espeak-ng ar" and _decode(audio.data) > 0.5


@needs_espeak
def test_voice_choice():
    from bot.local.speech import EspeakSpeech

    speech = EspeakSpeech()
    assert speech.voice_for("british", None) == "en-gb"
    assert speech.voice_for("male", "es") == "es+m3"
    assert speech.voice_for(None, "fr") == "fr-fr"
    assert speech.voice_for(None, "en") == "en-us"
    with pytest.raises(InputError, match="no voice called 'Joanna'"):
        speech.voice_for("Joanna", None)
    with pytest.raises(InputError, match="no Klingon|has no"):
        speech.voice_for(None, "tlh")


def test_missing_espeak_is_a_clear_not_available(monkeypatch):
    from bot.errors import NotAvailable
    from bot.local.speech import EspeakSpeech

    with pytest.raises(NotAvailable, match="espeak-ng"):
        EspeakSpeech(binary="coursebot-no-such-tts").synthesize("hello")


# --- AWS: Polly through Stubber ---------------------------------------------------------------------------
VOICES = [
    {"Id": "Joanna", "Name": "Joanna", "Gender": "Female", "LanguageCode": "en-US", "LanguageName": "US English",
     "SupportedEngines": ["neural", "standard"]},
    {"Id": "Brian", "Name": "Brian", "Gender": "Male", "LanguageCode": "en-GB", "LanguageName": "British English",
     "SupportedEngines": ["neural", "standard"]},
    {"Id": "Enrique", "Name": "Enrique", "Gender": "Male", "LanguageCode": "es-ES", "LanguageName": "Castilian Spanish",
     "SupportedEngines": ["standard"]},
    {"Id": "Lucia", "Name": "Lucia", "Gender": "Female", "LanguageCode": "es-ES", "LanguageName": "Castilian Spanish",
     "SupportedEngines": ["neural", "standard"]},
]
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413  # shape only; real Polly bytes are not needed for the request checks


def _polly():
    return boto3.client("polly", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")


def _audio(data=MP3_FRAME):
    return {"AudioStream": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "audio/mpeg",
            "RequestCharacters": 10}


def _voices(stub):
    stub.add_response("describe_voices", {"Voices": VOICES[:2], "NextToken": "page2"}, {})
    stub.add_response("describe_voices", {"Voices": VOICES[2:]}, {"NextToken": "page2"})


def test_polly_escapes_ssml_and_uses_the_neural_engine():
    from bot.aws.polly import PollySpeech

    client = _polly()
    with Stubber(client) as stub:
        _voices(stub)
        stub.add_response("synthesize_speech", _audio(), {
            "Text": '<speak>Hi &lt;/speak&gt;&lt;break time=&quot;100s&quot;/&gt;</speak>', "TextType": "ssml",
            "OutputFormat": "mp3", "VoiceId": "Joanna", "Engine": "neural"})
        audio = PollySpeech(client).synthesize('Hi </speak><break time="100s"/>')
        stub.assert_no_pending_responses()
    assert audio.mime == "audio/mpeg" and audio.data == MP3_FRAME and audio.voice == "Joanna (neural)"


def test_polly_picks_voices_by_language_accent_gender_and_falls_back_to_standard():
    from bot.aws.polly import PollySpeech

    client = _polly()
    with Stubber(client) as stub:
        _voices(stub)
        speech = PollySpeech(client)
        assert speech.choose(None, "es")[0]["Id"] == "Lucia"  # neural preferred
        assert speech.choose("male", "es") == (VOICES[2], "standard")  # Enrique has no neural engine
        assert speech.choose("british", None)[0]["Id"] == "Brian"
        assert speech.choose("enrique", None) == (VOICES[2], "standard")
        with pytest.raises(InputError, match="Joanna"):
            speech.choose("Nobody", None)
        with pytest.raises(InputError, match="no voice for"):
            speech.choose(None, "sw")


def test_polly_splits_long_text_under_its_limits_and_joins_the_audio():
    from bot.aws.polly import PollySpeech

    text = " ".join(["Polly reads <this> & \"that\" aloud."] * 250)  # 8,750 characters, escaping grows it
    client = _polly()
    sent = []
    client.meta.events.register("provide-client-params.polly.SynthesizeSpeech", lambda params, **_: sent.append(params))
    with Stubber(client) as stub:
        _voices(stub)
        for i in range(6):
            stub.add_response("synthesize_speech", _audio(bytes([i]) * 10), {
                "Text": ANY, "TextType": "ssml", "OutputFormat": "mp3", "VoiceId": "Joanna", "Engine": "neural"})
        audio = PollySpeech(client).synthesize(text)
    assert len(sent) >= 3
    assert all(len(p["Text"]) <= 6000 for p in sent)
    assert audio.data == b"".join(bytes([i]) * 10 for i in range(len(sent)))
    import xml.etree.ElementTree as ET

    spoken = " ".join(ET.fromstring(p["Text"]).text for p in sent)
    assert spoken == text
    assert all(len(ET.fromstring(p["Text"]).text) <= 3000 for p in sent)


# --- blob stores ------------------------------------------------------------------------------------------
def test_s3_store_encrypts_prefixes_and_presigns(settings):
    from moto import mock_aws

    from bot.aws.s3 import build

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="coursebot-media")
        store = build(settings.model_copy(update={"backend": "aws", "media_bucket": "coursebot-media"}), None)
        assert store.expiry == 3600 and store.prefix == "media/"
        blob = store.put("audio/abc123/one.mp3", b"ID3audio", "audio/mpeg")
        head = client.head_object(Bucket="coursebot-media", Key="media/audio/abc123/one.mp3")
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentType"] == "audio/mpeg"
        assert store.get("audio/abc123/one.mp3") == b"ID3audio"
        url = urlparse(blob.url)
        query = parse_qs(url.query)
        assert url.path == "/media/audio/abc123/one.mp3" or url.path.endswith("/coursebot-media/media/audio/abc123/one.mp3")
        assert query["X-Amz-Expires"] == ["3600"] and "X-Amz-Signature" in query
        assert blob.path is None and blob.expires_at > time.time() + 3500
        assert parse_qs(urlparse(store.url("audio/abc123/one.mp3", 60)).query)["X-Amz-Expires"] == ["60"]
        with pytest.raises(InputError):
            store.put("../escape.mp3", b"x", "audio/mpeg")
        with pytest.raises(InputError, match="no longer exists"):
            store.get("audio/abc123/missing.mp3")


def test_s3_store_with_kms_key():
    from moto import mock_aws

    from bot.aws.s3 import S3BlobStore

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="coursebot-media")
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        S3BlobStore(client, "coursebot-media", kms_key_id=key_id).put("audio/x/a.mp3", b"data", "audio/mpeg")
        head = client.head_object(Bucket="coursebot-media", Key="media/audio/x/a.mp3")
        assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]


def test_s3_build_needs_a_bucket(settings):
    from bot.errors import NotAvailable
    from bot.services import Services

    with pytest.raises(NotAvailable, match="COURSEBOT_MEDIA_BUCKET") as e:
        Services(settings.model_copy(update={"backend": "aws"})).blobs
    assert e.value.code == "not_configured"


def test_presigned_url_downloads_over_http():
    """The presigned URL really works: moto in server mode serves it over HTTP."""
    import urllib.request

    from moto.server import ThreadedMotoServer

    from bot.aws.s3 import S3BlobStore

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        from botocore.config import Config

        client = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
                              aws_access_key_id="t", aws_secret_access_key="t",
                              config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket="coursebot-media")
        blob = S3BlobStore(client, "coursebot-media").put("audio/c/1.mp3", b"spoken bytes", "audio/mpeg")
        with urllib.request.urlopen(blob.url, timeout=10) as r:
            assert r.read() == b"spoken bytes"
    finally:
        server.stop()
