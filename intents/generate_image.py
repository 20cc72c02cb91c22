"""GenerateImage: a picture from a prompt, by a Bedrock image model or a SageMaker endpoint."""

from __future__ import annotations

import hashlib
from typing import Any

from bot import keys
from bot.conversation import Conversation
from bot.specs import IntentContext, IntentSpec, SlotSpec
from bot.turn import Media, Reply, Turn

SPEC = IntentSpec(
    name="GenerateImage",
    description="Generates an image from a description.",
    samples=(
        "draw a cat", "draw me a picture of a dog", "generate an image of a sunset over the mountains",
        "create a picture of a robot teacher", "make an illustration of a classroom in space",
        "paint a watercolor of a lighthouse", "can you sketch a dragon", "render a 3d model of a sports car",
        "design a logo for my course", "I want an image of a dog surfing", "show me a picture of a futuristic city",
        "imagine a castle in the clouds", "produce artwork of a forest at night", "generate a photo of a mountain lake",
        "create an image", "make me a poster for the study group", "draw a diagram of a neural network",
        "generate a cartoon of a penguin", "create wallpaper with abstract shapes", "picture a cyberpunk street",
        "make a drawing of my cat wearing a hat", "paint me something beautiful", "illustrate a dragon reading a book",
        "generate art in the style of van gogh", "can you create an image of an astronaut riding a horse",
        "make this photo look like a painting", "draw the aws logo as a cartoon", "dibuja un gato",
        "génère une image d'un chat",
    ),
    slots=(
        SlotSpec("prompt", "AMAZON.FreeFormInput", "What should the picture show?", required=True,
                 description="A description of the image to generate."),
    ),
)


def fill_slots(turn: Turn, slots: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    """Lex sends "draw a cat" with an empty prompt slot: take the prompt from the utterance itself."""
    if slots.get("prompt") or not turn.text.strip():
        return slots
    from bot.nlu import extract_slots, split_payload

    instruction, payload = split_payload(turn.text)
    prompt = extract_slots(SPEC.name, turn.text, instruction, payload).get("prompt")
    return {**slots, "prompt": prompt} if prompt else slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Generate one picture, store it, and answer with its link (never a placeholder picture)."""
    prompt = str(ctx.slots.get("prompt") or "").strip() or (turn.text or "").strip()
    generator = ctx.services.imagegen  # NotAvailable (with the setting to change) on the local backend
    size = ctx.settings.image_size
    image = generator.generate(prompt, negative_prompt=ctx.settings.image_negative_prompt or None,
                               width=size, height=size)
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(image.mime, "img")
    digest = hashlib.sha256(image.data).hexdigest()[:24]
    key = f"{keys.blob_folder(keys.GENERATED, turn.conversation)}{digest}.{ext}"
    stored = ctx.services.blobs.put(key, image.data, image.mime)
    ctx.conversation.last_image = key  # "describe it" works on the new picture
    model = getattr(generator, "model_id", None) or getattr(generator, "endpoint", None)
    return Reply(
        text=f"Here is your picture of \u201c{prompt}\u201d.",
        intent=SPEC.name,
        attachments=(Media(kind="image", mime=image.mime, url=stored.url, path=stored.path, title=prompt[:200],
                           expires_at=stored.expires_at),),
        details={"prompt": prompt, "seed": image.seed, "model": model, "key": key, "bytes": len(image.data),
                 "size": [size, size]},
        suggestions=("describe it",),
    )
