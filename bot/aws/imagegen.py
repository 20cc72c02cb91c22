"""Image generation: Bedrock ``invoke_model`` for Titan Image Generator, Amazon Nova Canvas and
Stability models (each family has its own request body), or a SageMaker JumpStart endpoint.

Every answer is checked to be a real, decodable image; a content-filter refusal becomes an
InputError with a sentence the user can act on. There is no offline image model: without AWS or an
endpoint, :mod:`bot.providers` says which setting enables it, and nothing fakes a picture.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from typing import Any

from bot.aws.clients import call, make_client
from bot.capabilities import GeneratedImage
from bot.errors import InputError, NotAvailable, ServiceError
from bot.images import verify_image

log = logging.getLogger(__name__)

WHAT = "the image generation model"
FILTERED = ("I can't create that picture: the image model's content filter blocked the request. "
            "Please describe something else.")
_FILTER_HINTS = ("content filter", "blocked by our content", "content_filtered", "filter reason", "responsible ai",
                 "moderat")

# Family limits (Bedrock model parameter docs): prompt length, seed range, size rule.
FAMILIES: dict[str, dict[str, Any]] = {
    "titan": {"max_prompt": 512, "max_seed": 2_147_483_646, "multiple": 64, "min_side": 320, "max_side": 1408},
    "nova": {"max_prompt": 1024, "max_seed": 858_993_459, "multiple": 16, "min_side": 320, "max_side": 4096},
    "sdxl": {"max_prompt": 2000, "max_seed": 4_294_967_295, "multiple": 64, "min_side": 640, "max_side": 1536},
    "stability": {"max_prompt": 10_000, "max_seed": 4_294_967_294, "multiple": 1, "min_side": 1, "max_side": 99_999},
    "jumpstart": {"max_prompt": 2000, "max_seed": 4_294_967_295, "multiple": 8, "min_side": 256, "max_side": 1024},
}
_RATIOS = {"1:1": 1.0, "16:9": 16 / 9, "21:9": 21 / 9, "2:3": 2 / 3, "3:2": 3 / 2, "4:5": 4 / 5, "5:4": 5 / 4,
           "9:16": 9 / 16, "9:21": 9 / 21}


def family(model_id: str) -> str:
    """The request-body family of a Bedrock image model id (or inference profile id)."""
    m = model_id.lower()
    if "titan-image-generator" in m:
        return "titan"
    if "nova-canvas" in m:
        return "nova"
    if "stable-diffusion-xl" in m:
        return "sdxl"
    if "stability." in m:  # sd3, sd3.5, stable-image-core/ultra
        return "stability"
    raise NotAvailable(f"I don't know how to call the image model '{model_id}'. Set COURSEBOT_IMAGE_MODEL_ID to a "
                       "Titan Image Generator, Amazon Nova Canvas or Stability model id.", code="config_error")


def check_request(fam: str, prompt: str, negative_prompt: str | None, width: int, height: int,
                  seed: int | None) -> tuple[str, str | None, int]:
    """Validate a request for a family before paying for it; returns (prompt, negative, seed)."""
    lim = FAMILIES[fam]
    prompt = " ".join((prompt or "").split())
    if not prompt:
        raise InputError("Tell me what the picture should show, e.g. \"draw a lighthouse at sunset\".",
                         code="empty_prompt")
    if len(prompt) > lim["max_prompt"]:
        raise InputError(f"That description is {len(prompt)} characters; this image model takes at most "
                         f"{lim['max_prompt']}. Please shorten it.", code="prompt_too_long")
    negative = " ".join((negative_prompt or "").split())[: lim["max_prompt"]] or None
    for side in (width, height):
        if side % lim["multiple"] or not lim["min_side"] <= side <= lim["max_side"]:
            raise InputError(f"{width}×{height} is not a size this image model makes (sides of "
                             f"{lim['min_side']}–{lim['max_side']} px in steps of {lim['multiple']}).", code="bad_size")
    if seed is None:
        seed = secrets.randbelow(lim["max_seed"] + 1)
    elif not 0 <= seed <= lim["max_seed"]:
        raise InputError(f"The seed must be between 0 and {lim['max_seed']}.", code="bad_seed")
    return prompt, negative, seed


def request_body(fam: str, prompt: str, negative: str | None, width: int, height: int, seed: int) -> dict[str, Any]:
    """The invoke_model JSON body for one image of a model family."""
    if fam in ("titan", "nova"):
        params: dict[str, Any] = {"text": prompt}
        if negative:
            params["negativeText"] = negative
        return {"taskType": "TEXT_IMAGE", "textToImageParams": params,
                "imageGenerationConfig": {"numberOfImages": 1, "width": width, "height": height, "cfgScale": 8.0,
                                          "seed": seed, "quality": "standard"}}
    if fam == "sdxl":
        prompts = [{"text": prompt, "weight": 1.0}]
        if negative:
            prompts.append({"text": negative, "weight": -1.0})
        return {"text_prompts": prompts, "cfg_scale": 7, "seed": seed, "steps": 30, "width": width, "height": height,
                "samples": 1}
    if fam == "stability":
        body: dict[str, Any] = {"prompt": prompt, "aspect_ratio": aspect_ratio(width, height), "seed": seed,
                                "output_format": "png"}
        if negative:
            body["negative_prompt"] = negative
        return body
    if fam == "jumpstart":
        body = {"prompt": prompt, "width": width, "height": height, "num_images_per_prompt": 1, "seed": seed}
        if negative:
            body["negative_prompt"] = negative
        return body
    raise ValueError(fam)


def aspect_ratio(width: int, height: int) -> str:
    target = width / height
    return min(_RATIOS, key=lambda k: abs(_RATIOS[k] - target))


def images_from_response(fam: str, payload: dict[str, Any]) -> list[str]:
    """The base64 images in a model's JSON answer; a content-filter answer raises InputError."""
    if fam in ("titan", "nova"):
        error = payload.get("error")
        if error:
            if _filtered(str(error)):
                raise InputError(FILTERED, code="content_filtered")
            raise ServiceError("The image model could not create that picture.", code="generation_failed")
        return list(payload.get("images") or [])
    if fam == "sdxl":
        out = []
        for art in payload.get("artifacts") or []:
            reason = str(art.get("finishReason") or "SUCCESS").upper()
            if reason == "CONTENT_FILTERED":
                raise InputError(FILTERED, code="content_filtered")
            if reason == "SUCCESS" and art.get("base64"):
                out.append(art["base64"])
        return out
    if fam == "stability":
        reasons = [r for r in payload.get("finish_reasons") or [] if r]
        if any(_filtered(str(r)) for r in reasons):
            raise InputError(FILTERED, code="content_filtered")
        return list(payload.get("images") or [])
    if fam == "jumpstart":
        found = payload.get("generated_images") or payload.get("images") or []
        return [found] if isinstance(found, str) else list(found)
    raise ValueError(fam)


def _filtered(message: str) -> bool:
    low = message.lower()
    return any(h in low for h in _FILTER_HINTS)


def _decode(b64: str) -> GeneratedImage:
    try:
        data = base64.b64decode(b64, validate=True)
        mime = verify_image(data)
    except (binascii.Error, ValueError, OSError, SyntaxError) as e:
        raise ServiceError("The image model answered with something that is not a picture.",
                           code="bad_response") from e
    return GeneratedImage(data=data, mime=mime)


def _raise_filtered_or(e: ServiceError) -> None:
    """A Bedrock ValidationException about content filters becomes the user's InputError."""
    from botocore.exceptions import ClientError

    cause = e.__cause__
    if isinstance(cause, ClientError) and _filtered(cause.response.get("Error", {}).get("Message", "")):
        raise InputError(FILTERED, code="content_filtered") from cause
    raise e


class BedrockImageGenerator:
    """ImageGenerator on Bedrock ``invoke_model``. ``client`` is a bedrock-runtime client (injectable)."""

    def __init__(self, settings: Any, client: Any = None, model_id: str | None = None):
        self.settings = settings
        self.model_id = model_id or settings.image_model_id
        self.family = family(self.model_id)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("bedrock-runtime", self.settings)
        return self._client

    def generate(self, prompt: str, *, negative_prompt: str | None = None, width: int = 1024, height: int = 1024,
                 seed: int | None = None) -> GeneratedImage:
        prompt, negative, seed = check_request(self.family, prompt, negative_prompt, width, height, seed)
        body = request_body(self.family, prompt, negative, width, height, seed)
        try:
            r = call(self.client.invoke_model, modelId=self.model_id, body=json.dumps(body),
                     contentType="application/json", accept="application/json", what=WHAT)
        except ServiceError as e:
            _raise_filtered_or(e)
        payload = _json(r["body"].read())
        found = images_from_response(self.family, payload)
        if not found:
            raise ServiceError("The image model returned no picture.", code="generation_failed")
        image = _decode(found[0])
        return GeneratedImage(data=image.data, mime=image.mime, seed=seed)


class JumpStartImageGenerator:
    """ImageGenerator on a SageMaker JumpStart text-to-image endpoint (base64 JPEG back)."""

    def __init__(self, settings: Any, client: Any = None, endpoint: str | None = None):
        self.settings = settings
        self.endpoint = endpoint or settings.image_endpoint
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("sagemaker-runtime", self.settings)
        return self._client

    def generate(self, prompt: str, *, negative_prompt: str | None = None, width: int = 1024, height: int = 1024,
                 seed: int | None = None) -> GeneratedImage:
        width, height = min(width, 1024), min(height, 1024)
        prompt, negative, seed = check_request("jumpstart", prompt, negative_prompt, width, height, seed)
        body = request_body("jumpstart", prompt, negative, width, height, seed)
        try:
            r = call(self.client.invoke_endpoint, EndpointName=self.endpoint, ContentType="application/json",
                     Accept="application/json;jpeg", Body=json.dumps(body).encode(), what="the image generation endpoint")
        except ServiceError as e:
            _raise_filtered_or(e)
        payload = _json(r["Body"].read())
        found = images_from_response("jumpstart", payload)
        if not found:
            raise ServiceError("The image generation endpoint returned no picture.", code="generation_failed")
        image = _decode(found[0])
        return GeneratedImage(data=image.data, mime=image.mime, seed=seed)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ServiceError("The image model answered in a form I don't understand.", code="bad_response") from e
    if not isinstance(data, dict):
        raise ServiceError("The image model answered in a form I don't understand.", code="bad_response")
    return data


def build(settings: Any, services: Any) -> BedrockImageGenerator | JumpStartImageGenerator:
    """AWS backend: the SageMaker endpoint when COURSEBOT_IMAGE_ENDPOINT is set, else Bedrock."""
    if settings.image_endpoint:
        return JumpStartImageGenerator(settings)
    return BedrockImageGenerator(settings)


def build_jumpstart(settings: Any, services: Any) -> JumpStartImageGenerator:
    """The SageMaker endpoint COURSEBOT_IMAGE_ENDPOINT names (the registry checks that it is set)."""
    return JumpStartImageGenerator(settings)
