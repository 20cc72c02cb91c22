"""GenerateImage: request bodies per Bedrock image model family and the SageMaker JumpStart endpoint,
checked through botocore Stubber; content-filter refusals; bytes validated; the intent end to end."""

from __future__ import annotations

import base64
import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from PIL import Image

from bot.aws import imagegen
from bot.errors import InputError, NotAvailable, ServiceError
from bot.turn import Turn


def client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def picture(fmt: str = "PNG") -> bytes:
    im = Image.new("RGB", (256, 256), (30, 90, 160))
    im.paste((250, 200, 40), (96, 96, 160, 160))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stream(payload: dict) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def settings(tmp_path, **kw):
    from bot.settings import load

    return load(home=tmp_path / "home", backend="aws", **kw)


PROMPT = "a lighthouse at sunset, watercolor"
NEG = "blurry, text"

# The bodies each family documents, written out by hand (not built by the code under test).
CASES = [
    ("amazon.titan-image-generator-v2:0",
     {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": PROMPT, "negativeText": NEG},
      "imageGenerationConfig": {"numberOfImages": 1, "width": 1024, "height": 1024, "cfgScale": 8.0, "seed": 42,
                                "quality": "standard"}},
     lambda img: {"images": [b64(img)], "error": None}),
    ("amazon.nova-canvas-v1:0",
     {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": PROMPT, "negativeText": NEG},
      "imageGenerationConfig": {"numberOfImages": 1, "width": 1024, "height": 1024, "cfgScale": 8.0, "seed": 42,
                                "quality": "standard"}},
     lambda img: {"images": [b64(img)]}),
    ("stability.stable-diffusion-xl-v1",
     {"text_prompts": [{"text": PROMPT, "weight": 1.0}, {"text": NEG, "weight": -1.0}], "cfg_scale": 7, "seed": 42,
      "steps": 30, "width": 1024, "height": 1024, "samples": 1},
     lambda img: {"result": "success", "artifacts": [{"seed": 42, "base64": b64(img), "finishReason": "SUCCESS"}]}),
    ("stability.sd3-5-large-v1:0",
     {"prompt": PROMPT, "aspect_ratio": "1:1", "seed": 42, "output_format": "png", "negative_prompt": NEG},
     lambda img: {"seeds": [42], "finish_reasons": [None], "images": [b64(img)]}),
    ("us.stability.stable-image-ultra-v1:1",
     {"prompt": PROMPT, "aspect_ratio": "1:1", "seed": 42, "output_format": "png", "negative_prompt": NEG},
     lambda img: {"seeds": [42], "finish_reasons": [None], "images": [b64(img)]}),
]


@pytest.mark.parametrize("model_id,body,answer", CASES, ids=[c[0] for c in CASES])
def test_bedrock_request_body_per_family(tmp_path, model_id, body, answer):
    br = client("bedrock-runtime")
    img = picture()
    with Stubber(br) as stub:
        stub.add_response("invoke_model", {"body": stream(answer(img)), "contentType": "application/json"},
                          {"modelId": model_id, "body": json.dumps(body), "contentType": "application/json",
                           "accept": "application/json"})
        gen = imagegen.BedrockImageGenerator(settings(tmp_path, image_model_id=model_id), client=br)
        out = gen.generate(PROMPT, negative_prompt=NEG, seed=42)
        stub.assert_no_pending_responses()
    assert out.data == img and out.mime == "image/png" and out.seed == 42


def test_jumpstart_endpoint_request_and_base64_jpeg(tmp_path):
    sm = client("sagemaker-runtime")
    img = picture("JPEG")
    body = {"prompt": PROMPT, "width": 768, "height": 768, "num_images_per_prompt": 1, "seed": 7, "negative_prompt": NEG}
    with Stubber(sm) as stub:
        stub.add_response("invoke_endpoint", {"Body": stream({"generated_images": [b64(img)], "prompt": PROMPT}),
                                              "ContentType": "application/json"},
                          {"EndpointName": "jumpstart-sdxl", "ContentType": "application/json",
                           "Accept": "application/json;jpeg", "Body": json.dumps(body).encode()})
        gen = imagegen.JumpStartImageGenerator(settings(tmp_path, image_endpoint="jumpstart-sdxl"), client=sm)
        out = gen.generate(PROMPT, negative_prompt=NEG, width=768, height=768, seed=7)
    assert out.data == img and out.mime == "image/jpeg"


@pytest.mark.parametrize("model_id,error_or_answer", [
    ("amazon.titan-image-generator-v2:0", ("ValidationException", "This request has been blocked by our content filters.")),
    ("amazon.nova-canvas-v1:0", ("ValidationException", "The generated image has been blocked by our content filters.")),
    ("stability.stable-diffusion-xl-v1", {"result": "success", "artifacts": [
        {"seed": 1, "base64": b64(picture()), "finishReason": "CONTENT_FILTERED"}]}),
    ("stability.sd3-5-large-v1:0", {"seeds": [1], "finish_reasons": ["Filter reason: prompt"], "images": [""]}),
])
def test_content_filter_becomes_a_clear_message(tmp_path, model_id, error_or_answer):
    br = client("bedrock-runtime")
    with Stubber(br) as stub:
        if isinstance(error_or_answer, tuple):
            stub.add_client_error("invoke_model", error_or_answer[0], error_or_answer[1], http_status_code=400)
        else:
            stub.add_response("invoke_model", {"body": stream(error_or_answer), "contentType": "application/json"})
        gen = imagegen.BedrockImageGenerator(settings(tmp_path, image_model_id=model_id), client=br)
        with pytest.raises(InputError) as e:
            gen.generate("something the filter refuses", seed=1)
    assert e.value.code == "content_filtered" and "content filter" in e.value.user_message


@pytest.mark.parametrize("payload", [
    {"images": [b64(b"<html>not an image</html>")]},
    {"images": ["***not base64***"]},
    {"images": [b64(picture()[:200])]},
    {"images": []},
])
def test_non_image_answers_are_rejected(tmp_path, payload):
    br = client("bedrock-runtime")
    with Stubber(br) as stub:
        stub.add_response("invoke_model", {"body": stream(payload), "contentType": "application/json"})
        gen = imagegen.BedrockImageGenerator(settings(tmp_path), client=br)
        with pytest.raises(ServiceError) as e:
            gen.generate("a cat", seed=1)
    assert e.value.code in ("bad_response", "generation_failed")


@pytest.mark.parametrize("prompt,width,seed,code", [
    ("   ", 1024, 1, "empty_prompt"),
    ("x" * 513, 1024, 1, "prompt_too_long"),
    ("a cat", 1000, 1, "bad_size"),
    ("a cat", 1024, -5, "bad_seed"),
])
def test_bad_requests_refused_before_paying(tmp_path, prompt, width, seed, code):
    br = client("bedrock-runtime")
    with Stubber(br):  # no response queued: any call would fail the test
        gen = imagegen.BedrockImageGenerator(settings(tmp_path), client=br)
        with pytest.raises(InputError) as e:
            gen.generate(prompt, width=width, height=1024, seed=seed)
    assert e.value.code == code


def test_unknown_model_family_says_which_setting():
    with pytest.raises(NotAvailable) as e:
        imagegen.family("meta.llama3-8b-instruct-v1:0")
    assert "COURSEBOT_IMAGE_MODEL_ID" in e.value.user_message


def test_random_seed_is_reported(tmp_path):
    br = client("bedrock-runtime")
    with Stubber(br) as stub:
        stub.add_response("invoke_model", {"body": stream({"images": [b64(picture())]}), "contentType": "application/json"})
        out = imagegen.BedrockImageGenerator(settings(tmp_path), client=br).generate("a cat")
    assert 0 <= out.seed <= imagegen.FAMILIES["titan"]["max_seed"]


def test_local_backend_builds_only_with_an_endpoint(tmp_path):
    from bot.settings import load

    from bot.services import Services

    with pytest.raises(NotAvailable) as e:
        Services(load(home=tmp_path, backend="local")).imagegen
    assert "COURSEBOT_BACKEND=aws" in e.value.user_message and "COURSEBOT_IMAGE_ENDPOINT" in e.value.user_message
    gen = Services(load(home=tmp_path, backend="local", image_endpoint="my-endpoint")).imagegen
    assert isinstance(gen, imagegen.JumpStartImageGenerator) and gen.endpoint == "my-endpoint"
    assert isinstance(imagegen.build(settings(tmp_path), None), imagegen.BedrockImageGenerator)


# -- the intent ------------------------------------------------------------------------------------------
@pytest.fixture
def gen_router(tmp_path):
    """The AWS backend: Bedrock through a Stubber, the picture stored in S3 (moto) with a presigned URL."""
    from botocore.config import Config
    from moto import mock_aws

    from bot.aws.s3 import S3BlobStore
    from bot.local.state import SqliteConversationStore
    from bot.router import Router
    from bot.services import Services

    s = settings(tmp_path, image_size=512)
    br = client("bedrock-runtime")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="coursebot-media")
        blobs = S3BlobStore(s3, "coursebot-media", "media/")
        services = Services(s, overrides={"imagegen": imagegen.BedrockImageGenerator(s, client=br), "blobs": blobs,
                                          "conversations": SqliteConversationStore(tmp_path / "conv.sqlite3")})
        with Stubber(br) as stub:
            yield Router(services), stub, blobs


def test_generate_image_stores_and_links_it(gen_router):
    router, stub, blobs = gen_router
    img = picture()
    stub.add_response("invoke_model", {"body": stream({"images": [b64(img)], "error": None}),
                                       "contentType": "application/json"})
    r = router.handle(Turn(conversation="g", text="draw a lighthouse at sunset"))
    assert r.intent == "GenerateImage" and r.error is None, r.text
    (media,) = r.attachments
    assert media.kind == "image" and media.mime == "image/png"
    assert media.url.startswith("https://coursebot-media.s3.amazonaws.com/media/generated/")
    assert "X-Amz-Signature=" in media.url and "X-Amz-Expires=3600" in media.url
    key = r.details["key"]
    assert blobs.get(key) == img
    head = blobs.client.head_object(Bucket="coursebot-media", Key="media/" + key)
    assert head["ContentType"] == "image/png" and head["ServerSideEncryption"] == "AES256"
    assert r.details["size"] == [512, 512] and isinstance(r.details["seed"], int)
    assert "lighthouse" in r.text
    # the new picture becomes the conversation's last image: "describe it" would use it
    conv = router.services.conversations.load("g")
    assert conv.last_image == key


def test_generate_image_filter_reply(gen_router):
    router, stub, blobs = gen_router
    stub.add_client_error("invoke_model", "ValidationException", "This request has been blocked by our content filters.",
                          http_status_code=400)
    r = router.handle(Turn(conversation="g2", text="draw something awful", intent="GenerateImage",
                           slots={"prompt": "something awful"}))
    assert r.error == "content_filtered" and r.attachments == ()
    assert "content filter" in r.text and "ValidationException" not in r.text


def test_prompt_comes_from_the_utterance_when_the_channel_gives_no_slot():
    from bot.conversation import Conversation
    from bot.turn import Turn
    from intents.generate_image import fill_slots

    turn = Turn(conversation="lex", text="draw a lighthouse in a storm", intent="GenerateImage")
    assert fill_slots(turn, {"prompt": None}, Conversation())["prompt"] == "a lighthouse in a storm"
    assert fill_slots(turn, {"prompt": "a cat"}, Conversation())["prompt"] == "a cat"
    assert fill_slots(Turn(conversation="lex", text="create an image"), {}, Conversation()).get("prompt") is None
