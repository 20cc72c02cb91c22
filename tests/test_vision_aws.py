"""DescribePhoto on AWS through botocore Stubber: every request and canned response is validated
against the real Rekognition, SageMaker Runtime and Bedrock Runtime service models."""

from __future__ import annotations

import io
import json

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from PIL import Image

from bot import images
from bot.aws.rekognition import RekognitionVision, parse_classification
from bot.files import attachment_from_bytes
from bot.turn import Turn


def client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def jpeg(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo() -> bytes:
    from skimage import data

    return jpeg(Image.fromarray(data.astronaut()), quality=90)


# Realistic responses, shaped like Rekognition's documented examples for a portrait.
FACE = {
    "BoundingBox": {"Width": 0.2053, "Height": 0.2714, "Left": 0.3412, "Top": 0.1205},
    "AgeRange": {"Low": 29, "High": 37},
    "Smile": {"Value": True, "Confidence": 97.6},
    "Eyeglasses": {"Value": False, "Confidence": 99.1},
    "Sunglasses": {"Value": False, "Confidence": 99.9},
    "Gender": {"Value": "Female", "Confidence": 99.8},
    "Beard": {"Value": False, "Confidence": 98.7},
    "Mustache": {"Value": False, "Confidence": 99.5},
    "EyesOpen": {"Value": True, "Confidence": 98.9},
    "MouthOpen": {"Value": False, "Confidence": 90.2},
    "Emotions": [{"Type": "HAPPY", "Confidence": 96.1}, {"Type": "CALM", "Confidence": 2.3},
                 {"Type": "SURPRISED", "Confidence": 0.8}],
    "Landmarks": [{"Type": "eyeLeft", "X": 0.4012, "Y": 0.2201}, {"Type": "eyeRight", "X": 0.4788, "Y": 0.2197}],
    "Pose": {"Roll": 1.2, "Yaw": -3.4, "Pitch": 5.1},
    "Quality": {"Brightness": 81.2, "Sharpness": 92.0},
    "Confidence": 99.99,
    "FaceOccluded": {"Value": False, "Confidence": 99.0},
    "EyeDirection": {"Yaw": -14.2, "Pitch": -2.1, "Confidence": 99.1},
}
LABELS = {"Labels": [
    {"Name": "Person", "Confidence": 99.2, "Instances": [{"BoundingBox": {"Width": 0.6, "Height": 0.9, "Left": 0.2, "Top": 0.1},
                                                         "Confidence": 99.2}], "Parents": [], "Categories": [{"Name": "Person Description"}]},
    {"Name": "Astronaut", "Confidence": 95.4, "Instances": [], "Parents": [{"Name": "Person"}]},
    {"Name": "Flag", "Confidence": 81.0, "Instances": [], "Parents": []},
], "LabelModelVersion": "3.0"}
TEXT = {"TextDetections": [
    {"DetectedText": "NASA", "Type": "LINE", "Id": 0, "Confidence": 98.5,
     "Geometry": {"BoundingBox": {"Width": 0.05, "Height": 0.02, "Left": 0.7, "Top": 0.6}}},
    {"DetectedText": "NASA", "Type": "WORD", "Id": 1, "ParentId": 0, "Confidence": 98.5,
     "Geometry": {"BoundingBox": {"Width": 0.05, "Height": 0.02, "Left": 0.7, "Top": 0.6}}},
    {"DetectedText": "xq", "Type": "LINE", "Id": 2, "Confidence": 31.0,
     "Geometry": {"BoundingBox": {"Width": 0.01, "Height": 0.01, "Left": 0.1, "Top": 0.9}}},
], "TextModelVersion": "3.0"}
CELEBS = {"CelebrityFaces": [{
    "Urls": ["www.wikidata.org/wiki/Q233709"], "Name": "Eileen Collins", "Id": "3Ir0du6",
    "Face": {"BoundingBox": {"Width": 0.2053, "Height": 0.2714, "Left": 0.3412, "Top": 0.1205}, "Confidence": 99.9,
             "Pose": {"Roll": 1.2, "Yaw": -3.4, "Pitch": 5.1}, "Quality": {"Brightness": 81.2, "Sharpness": 92.0},
             "Emotions": [{"Type": "HAPPY", "Confidence": 96.1}], "Smile": {"Value": True, "Confidence": 97.6}},
    "MatchConfidence": 98.0, "KnownGender": {"Type": "Female"}}], "UnrecognizedFaces": []}
MODERATION_SAFE = {"ModerationLabels": [], "ModerationModelVersion": "7.0"}


@pytest.fixture
def rek():
    c = client("rekognition")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def calls_of(c) -> list[str]:
    """Record the operations a client is asked to make (before the stub answers)."""
    seen: list[str] = []
    c.meta.events.register("provide-client-params.*.*", lambda params, model, **kw: seen.append(model.name))
    return seen


def queue_full(stub, *, text=TEXT, celebs=CELEBS, moderation=MODERATION_SAFE):
    img = {"Bytes": ANY}
    stub.add_response("detect_moderation_labels", moderation, {"Image": img, "MinConfidence": 60.0})
    stub.add_response("detect_labels", LABELS, {"Image": img, "MaxLabels": 10, "MinConfidence": 70.0})
    stub.add_response("detect_faces", {"FaceDetails": [FACE]}, {"Image": img, "Attributes": ["ALL"]})
    stub.add_response("detect_text", text, {"Image": img})
    stub.add_response("recognize_celebrities", celebs, {"Image": img})


def aws_settings(tmp_path, **kw):
    from bot.settings import load

    return load(home=tmp_path / "home", backend="aws", **kw)


def test_full_description_with_eye_direction_and_celebrity(tmp_path, rek, photo):
    c, stub = rek
    queue_full(stub)
    d = RekognitionVision(aws_settings(tmp_path), client=c).describe(photo)
    face = d.faces[0]
    assert face["eye_direction"] == {"yaw": -14.2, "pitch": -2.1, "confidence": 99.1,
                                     "words": "looking slightly to the left"}
    assert face["age_range"] == {"low": 29, "high": 37} and face["smile"] is True and face["emotion"] == "happy"
    assert d.celebrities == ({"name": "Eileen Collins", "confidence": 98.0, "urls": ["www.wikidata.org/wiki/Q233709"]},)
    assert d.text == ("NASA",)  # WORD duplicates and low-confidence lines dropped
    assert [lb["name"] for lb in d.labels] == ["Person", "Astronaut", "Flag"]
    assert "It shows person, astronaut and flag." in d.summary
    assert "a person at the top, aged about 29–37, happy, smiling and looking slightly to the left." in d.summary
    assert "This looks like Eileen Collins (98% match)." in d.summary
    assert 'reads: "NASA"' in d.summary


def test_no_face_skips_celebrity_and_collection_calls(tmp_path, rek):
    c, stub = rek
    seen = calls_of(c)
    img = {"Bytes": ANY}
    stub.add_response("detect_moderation_labels", MODERATION_SAFE, {"Image": img, "MinConfidence": 60.0})
    stub.add_response("detect_labels", {"Labels": [{"Name": "Coffee Cup", "Confidence": 97.0}]}, None)
    stub.add_response("detect_faces", {"FaceDetails": []}, None)
    stub.add_response("detect_text", {"TextDetections": []}, None)
    from skimage import data

    d = RekognitionVision(aws_settings(tmp_path, face_collection="course-faces"), client=c).describe(
        jpeg(Image.fromarray(data.coffee())))
    assert seen == ["DetectModerationLabels", "DetectLabels", "DetectFaces", "DetectText"]
    assert d.faces == () and "don't see any faces" in d.summary


def test_unsafe_photo_is_declined_after_one_call(tmp_path, rek, photo):
    c, stub = rek
    seen = calls_of(c)
    stub.add_response("detect_moderation_labels", {"ModerationLabels": [
        {"Confidence": 97.1, "Name": "Graphic Violence", "ParentName": "Violence", "TaxonomyLevel": 2},
        {"Confidence": 97.1, "Name": "Violence", "ParentName": "", "TaxonomyLevel": 1}],
        "ModerationModelVersion": "7.0"}, {"Image": {"Bytes": ANY}, "MinConfidence": 60.0})
    d = RekognitionVision(aws_settings(tmp_path), client=c).describe(photo)
    assert seen == ["DetectModerationLabels"]
    assert d.summary.startswith("I'd rather not describe this image") and "violence" in d.summary
    assert "declined" in d.notes


def test_mild_moderation_is_a_note(tmp_path, rek, photo):
    c, stub = rek
    queue_full(stub, moderation={"ModerationLabels": [
        {"Confidence": 88.0, "Name": "Alcoholic Beverages", "ParentName": "Alcohol", "TaxonomyLevel": 2}]})
    d = RekognitionVision(aws_settings(tmp_path), client=c).describe(photo)
    assert any("alcohol" in n for n in d.notes) and d.faces


def test_known_face_from_collection(tmp_path, rek, photo):
    c, stub = rek
    queue_full(stub, celebs={"CelebrityFaces": [], "UnrecognizedFaces": [{"BoundingBox": FACE["BoundingBox"]}]})
    stub.add_response("search_faces_by_image", {
        "SearchedFaceBoundingBox": FACE["BoundingBox"], "SearchedFaceConfidence": 99.9,
        "FaceMatches": [
            {"Similarity": 99.2, "Face": {"FaceId": "11111111-2222-3333-4444-555555555555", "ExternalImageId": "ada_lovelace",
                                          "Confidence": 99.9, "ImageId": "11111111-2222-3333-4444-666666666666"}},
            {"Similarity": 93.0, "Face": {"FaceId": "11111111-2222-3333-4444-777777777777", "ExternalImageId": "ada_lovelace",
                                          "Confidence": 99.9}}],
        "FaceModelVersion": "7.0"},
        {"CollectionId": "course-faces", "Image": {"Bytes": ANY}, "MaxFaces": 5, "FaceMatchThreshold": 90.0})
    d = RekognitionVision(aws_settings(tmp_path, face_collection="course-faces"), client=c).describe(photo)
    assert d.known_faces == ({"name": "ada lovelace", "similarity": 99.2},)
    assert "This looks like ada lovelace from your collection (99% similar)." in d.summary


def test_classifier_endpoint_and_bedrock_caption(tmp_path, rek, photo):
    c, stub = rek
    queue_full(stub)
    sm = client("sagemaker-runtime")
    br = client("bedrock-runtime")
    body = json.dumps({"probabilities": [0.05, 0.9, 0.05]}).encode()
    with Stubber(sm) as sm_stub, Stubber(br) as br_stub:
        sm_stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body)),
                                                 "ContentType": "application/json"},
                             {"EndpointName": "arrows", "ContentType": "application/x-image", "Accept": "application/json",
                              "Body": photo})
        br_stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [
                {"text": "A smiling astronaut in an orange suit poses in front of a flag."}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 900, "outputTokens": 16, "totalTokens": 916},
            "metrics": {"latencyMs": 850}},
            {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "messages": ANY, "inferenceConfig": ANY})
        s = aws_settings(tmp_path, classifier_endpoint="arrows", vision_model_id="anthropic.claude-3-haiku-20240307-v1:0")
        d = RekognitionVision(s, client=c, sagemaker=sm, bedrock=br).describe(photo)
        sm_stub.assert_no_pending_responses()
        br_stub.assert_no_pending_responses()
    assert d.summary.startswith("A smiling astronaut in an orange suit")
    assert "The custom classifier says: up (90%)." in d.summary
    assert d.labels[-1] == {"name": "up", "confidence": 90.0, "source": "classifier"}


@pytest.mark.parametrize("raw,label", [
    (b'{"predicted_label": "down", "probabilities": [0.1, 0.2, 0.7]}', ("down", 70.0)),
    (b'{"labels": ["cat", "dog"], "probabilities": [0.8, 0.2]}', ("cat", 80.0)),
    (b"[0.7, 0.2, 0.1]", ("unclassified", 70.0)),
    (b"up", ("up", None)),
])
def test_classifier_answer_shapes(raw, label):
    r = parse_classification(raw, ["unclassified", "up", "down"])
    assert (r["label"], r.get("confidence")) == label


def test_throttling_becomes_a_polite_error(tmp_path, rek, photo):
    c, stub = rek
    stub.add_client_error("detect_moderation_labels", "ThrottlingException", "Rate exceeded", http_status_code=400)
    from bot.errors import ServiceError

    v = RekognitionVision(aws_settings(tmp_path, aws_max_attempts=1), client=c)
    with pytest.raises(ServiceError) as e:
        v.describe(photo)
    assert e.value.code == "throttled" and "busy" in e.value.user_message


def test_big_photo_sent_under_5_mb(tmp_path, rek):
    """A ~20 MB photo is shrunk before the call: Stubber sees the bytes actually sent."""
    c, stub = rek
    sent: list[int] = []
    c.meta.events.register("provide-client-params.rekognition.*",
                           lambda params, **kw: sent.append(len(params["Image"]["Bytes"])))
    rng = np.random.default_rng(5)
    noisy = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    raw = jpeg(Image.fromarray(noisy), quality=97)
    assert len(raw) > 10_000_000
    img = {"Bytes": ANY}
    stub.add_response("detect_moderation_labels", MODERATION_SAFE, {"Image": img, "MinConfidence": 60.0})
    stub.add_response("detect_labels", {"Labels": []}, None)
    stub.add_response("detect_faces", {"FaceDetails": []}, None)
    stub.add_response("detect_text", {"TextDetections": []}, None)
    v = RekognitionVision(aws_settings(tmp_path), client=c)
    d = v.describe(raw)
    assert sent and all(n <= images.REKOGNITION_MAX_BYTES for n in sent) and len(set(sent)) == 1
    assert v.last_request_bytes == sent[0]
    assert any("scaled it from 4000×3000" in n for n in d.notes)


# -- the intent on the AWS backend: bad input never reaches Rekognition ------------------------------
@pytest.fixture
def aws_router(tmp_path, rek):
    """The AWS backend: Rekognition through a Stubber, photos and descriptions stored in S3 (moto)."""
    from moto import mock_aws

    from bot.aws.s3 import S3BlobStore
    from bot.conversation import SqliteConversationStore
    from bot.router import Router
    from bot.services import Services

    c, stub = rek
    s = aws_settings(tmp_path)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="coursebot-media")
        services = Services(s, overrides={
            "vision": RekognitionVision(s, client=c),
            "blobs": S3BlobStore(s3, "coursebot-media", "media/"),
            "conversations": SqliteConversationStore(tmp_path / "conv.sqlite3"),
        })
        yield Router(services), c, stub


@pytest.mark.parametrize("name,payload", [
    ("empty.jpg", b""),
    ("page.jpg", b"<html><head><title>x</title></head><body>not a photo</body></html>"),
    ("random.jpg", bytes(np.random.default_rng(9).integers(0, 256, 50_000, dtype=np.uint8))),
    ("photo.jpg", b"%PDF-1.5\n1 0 obj <<>> endobj\n%%EOF\n"),
    ("tiny.png", jpeg(Image.new("RGB", (40, 40)))),
])
def test_bad_input_makes_no_paid_call(aws_router, name, payload):
    router, c, stub = aws_router
    seen = calls_of(c)
    r = router.handle(Turn(conversation="aws-bad", text="describe this photo", intent="DescribePhoto",
                           attachments=(attachment_from_bytes(name, payload),)))
    assert r.state == "failed" and r.error not in (None, "internal"), (r.error, r.text)
    assert seen == []


def test_huge_png_makes_no_paid_call(aws_router):
    router, c, stub = aws_router
    seen = calls_of(c)
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(buf, "PNG")
    r = router.handle(Turn(conversation="aws-huge", text="describe this photo",
                           attachments=(attachment_from_bytes("wall.png", buf.getvalue()),)))
    assert r.error == "image_too_large" and "10000×10000" in r.text
    assert seen == []


def test_describe_then_follow_up_pays_once(aws_router, photo):
    router, c, stub = aws_router
    seen = calls_of(c)
    queue_full(stub)
    r1 = router.handle(Turn(conversation="aws-ok", text="what's in this photo?",
                            attachments=(attachment_from_bytes("astronaut.jpg", photo),)))
    assert r1.intent == "DescribePhoto" and r1.error is None, r1.text
    assert r1.details["celebrities"][0]["name"] == "Eileen Collins"
    assert json.loads(json.dumps(r1.to_dict()))["details"]["faces"][0]["eye_direction"]["yaw"] == -14.2
    r2 = router.handle(Turn(conversation="aws-ok", text="where is she looking?"))
    assert r2.text.startswith("Their eyes are open and they are looking slightly to the left."), r2.text
    r3 = router.handle(Turn(conversation="aws-ok", text="how old does she look?"))
    assert r3.text.startswith("They look about 29–37 years old.")
    assert len(seen) == 5  # the follow-ups used the stored description
    s3 = router.services.blobs.client
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="coursebot-media")["Contents"])
    photo_key = "media/" + r1.details["image"]["key"]
    assert keys == sorted([photo_key, photo_key.rsplit(".", 1)[0] + ".aws.json"])
    assert s3.get_object(Bucket="coursebot-media", Key=photo_key)["Body"].read() == photo
    assert r1.details["image"]["url"].startswith("https://coursebot-media.s3.amazonaws.com/media/photos/")


def test_unsafe_reply_is_polite(aws_router, photo):
    router, c, stub = aws_router
    stub.add_response("detect_moderation_labels", {"ModerationLabels": [
        {"Confidence": 95.0, "Name": "Explicit Nudity", "ParentName": "", "TaxonomyLevel": 1}]}, None)
    r = router.handle(Turn(conversation="aws-unsafe", text="describe this",
                           attachments=(attachment_from_bytes("x.jpg", photo),)))
    assert r.error == "unsafe_image" and r.text.startswith("I'd rather not describe this image")
    assert r.suggestions == ()


# -- face collections: `coursebot faces index FOLDER` -------------------------------------------------
def test_index_folder(tmp_path, rek, photo):
    from bot.cli.faces import index_folder

    c, stub = rek
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "ada_lovelace.jpg").write_bytes(photo)
    (folder / "grace hopper.png").write_bytes(photo)  # a JPEG named .png: the bytes decide
    (folder / "notes.txt").write_text("not a photo")
    (folder / "empty.jpg").write_bytes(b"")
    stub.add_response("create_collection", {"StatusCode": 200, "CollectionArn": "aws:rekognition:us-east-1:123456789012:collection/course-faces",
                                            "FaceModelVersion": "7.0"}, {"CollectionId": "course-faces"})
    record = {"Face": {"FaceId": "f0b5f2b8-8c1d-4f5e-9a7e-1a2b3c4d5e6f", "BoundingBox": FACE["BoundingBox"],
                       "ImageId": "9d1c0d5e-1b2c-4d3e-8f9a-0b1c2d3e4f5a", "ExternalImageId": "ada_lovelace",
                       "Confidence": 99.9}, "FaceDetail": {"BoundingBox": FACE["BoundingBox"], "Confidence": 99.9}}
    stub.add_response("index_faces", {"FaceRecords": [record], "FaceModelVersion": "7.0", "UnindexedFaces": []},
                      {"CollectionId": "course-faces", "Image": {"Bytes": photo}, "ExternalImageId": "ada_lovelace",
                       "MaxFaces": 1, "QualityFilter": "AUTO", "DetectionAttributes": []})
    stub.add_response("index_faces", {"FaceRecords": [], "FaceModelVersion": "7.0", "UnindexedFaces": [
        {"Reasons": ["LOW_SHARPNESS"], "FaceDetail": {"BoundingBox": FACE["BoundingBox"], "Confidence": 80.0}}]},
        {"CollectionId": "course-faces", "Image": {"Bytes": photo}, "ExternalImageId": "grace_hopper",
         "MaxFaces": 1, "QualityFilter": "AUTO", "DetectionAttributes": []})
    rows = index_folder(folder, RekognitionVision(aws_settings(tmp_path, face_collection="course-faces"), client=c))
    by_file = {r["file"]: r for r in rows}
    assert by_file["ada_lovelace.jpg"]["status"] == "indexed"
    assert by_file["ada_lovelace.jpg"]["face_id"] == "f0b5f2b8-8c1d-4f5e-9a7e-1a2b3c4d5e6f"
    assert by_file["grace hopper.png"]["status"] == "no_face"
    assert by_file["notes.txt"]["status"] == "skipped"
    assert by_file["empty.jpg"]["status"] == "skipped"


def test_index_existing_collection_is_reused(tmp_path, rek):
    c, stub = rek
    stub.add_client_error("create_collection", "ResourceAlreadyExistsException", "exists", http_status_code=400)
    assert RekognitionVision(aws_settings(tmp_path, face_collection="course-faces"), client=c).ensure_collection() is False


def test_faces_cli_needs_a_collection(tmp_path, capsys):
    from bot.cli import main

    assert main(["faces", "index", str(tmp_path)]) == 2
    assert "COURSEBOT_FACE_COLLECTION" in capsys.readouterr().err
    assert main(["faces", "index", str(tmp_path / "missing"), "--collection", "x"]) == 2


def test_lex_photo_from_s3_link(tmp_path, photo):
    """Lex hands over an s3:// link; its size is checked (HeadObject) before it is downloaded."""
    from moto import mock_aws

    from bot.conversation import SqliteConversationStore
    from bot.local.blobs import LocalBlobStore
    from bot.local.vision import LocalVision
    from bot.router import Router
    from bot.services import Services
    from bot.turn import Attachment

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lex-uploads")
        s3.put_object(Bucket="lex-uploads", Key="sessions/abc/photo.jpg", Body=photo)
        s3.put_object(Bucket="lex-uploads", Key="sessions/abc/big.jpg", Body=b"\xff\xd8\xff" + b"\0" * 2_000_000)
        s = aws_settings(tmp_path, max_attachment_bytes=1_000_000, media_bucket="lex-uploads")
        services = Services(s, overrides={
            "vision": LocalVision(s),
            "blobs": LocalBlobStore(tmp_path / "blobs", b"k" * 32, "http://127.0.0.1:8000"),
            "conversations": SqliteConversationStore(tmp_path / "conv.sqlite3"),
        })
        router = Router(services)
        # Lex carries no files: the image slot holds the S3 link of the uploaded photo
        r = router.handle(Turn(conversation="lex-1", channel="lex", text="describe this photo", intent="DescribePhoto",
                               slots={"image": "s3://lex-uploads/sessions/abc/photo.jpg"}))
        assert r.error is None and len(r.details["faces"]) == 1, r.text
        follow = router.handle(Turn(conversation="lex-1", channel="lex", text="where is she looking?"))
        assert follow.text.startswith("Their eyes are open and they are looking at the camera."), follow.text
        big = Attachment(name="big.jpg", mime="image/jpeg", url="s3://lex-uploads/sessions/abc/big.jpg")
        r = router.handle(Turn(conversation="lex-2", channel="lex", text="describe this photo", intent="DescribePhoto",
                               attachments=(big,)))
        assert r.error == "attachment_too_large" and "2.0 MB" in r.text
        r = router.handle(Turn(conversation="lex-3", channel="lex", text="describe", intent="DescribePhoto",
                               slots={"image": "holiday.jpg"}))
        assert r.error == "no_image" and "I can't find a photo called 'holiday.jpg'" in r.text
