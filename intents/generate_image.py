"""GenerateImage: a picture from a prompt, by a Bedrock image model or a SageMaker endpoint."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bot.conversation import Conversation, conversation_hash
from bot.nlu import POLITE
from bot.specs import IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Media, Reply, Turn

_TRIGGER = re.compile(
    rf"^{POLITE}(?:draw|drw|generate|create|make|paint|sketch|render|illustrate|imagine|design|produce|picture|show|"
    r"dibuja|dessine|zeichne|desenhe|disegna)\b\s*(?:me\s+)?"
    r"(?:(?:(?:an?|the|some)\s+)?(?:image|picture|pic|photo|drawing|illustration|painting|sketch|artwork|art|poster|logo|"
    r"cartoon|wallpaper|render|diagram)s?\b\s*(?:(?:of|showing|with|for)\b\s*)?)?",
    re.I,
)
_VAGUE = ("something", "it", "this", "one", "an image", "a picture", "pls", "please")


def extract(text: str, instruction: str, payload: str | None) -> Slots:
    """"draw a cat" -> prompt "a cat"; "generate an image: <prompt>" -> the prompt."""
    if payload:
        return Slots({"prompt": payload})
    m = _TRIGGER.match(instruction.strip())
    rest = instruction.strip()[m.end():] if m else instruction.strip()
    rest = re.sub(r"\s*\b(pls|plz|please|thanks|thx)\b[\s!.]*$", "", rest, flags=re.I).strip(" .,!?:;")
    return Slots({"prompt": rest} if rest and rest.lower() not in _VAGUE else {})


def _available(services) -> str | None:
    settings = services.settings
    if settings.backend == "aws":
        return f"Pictures come from the Bedrock image model {settings.image_model_id}."
    if settings.image_endpoint:
        return "Pictures come from a SageMaker image-generation endpoint."
    return ("There is no offline image model, so generating pictures needs the AWS backend (Bedrock) or a "
            "SageMaker endpoint; ask your instructor to enable one.")


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
    keywords=("draw", "drawing", "images", "pictures", "paint", "painting", "sketch", "illustration", "illustrate", "generate an image",
              "create an image", "make an image", "make a picture", "cartoon", "artwork", "wallpaper", "logo",
              "dibuja", "dibujo", "dessine", "dessin", "zeichne", "zeichnung", "desenhe", "desenho", "genera una imagen",
              "génère une image", "gere uma imagem", "erstelle ein bild", "bild von", "mal mir"),
    lead_verbs=("draw", "paint", "sketch", "illustrate", "render", "generate", "design", "imagine", "dibuja",
                "dessine", "zeichne", "desenhe", "disegna", "genera", "génère", "genere", "gere", "erstelle", "mal", "teken"),
    help="\"Draw a robot teaching a class\" generates an image.",
    extract=extract,
    help_status=_available,
    uses_last_image=True,
)


def fill_slots(turn: Turn, slots: Slots, conversation: Conversation) -> Slots:
    """Lex sends "draw a cat" with an empty prompt slot: take the prompt from the utterance itself."""
    slots = Slots.of(slots)
    if slots.get("prompt") or not turn.text.strip():
        return slots
    from bot.nlu import split_payload

    instruction, payload = split_payload(turn.text)
    prompt = extract(turn.text, instruction, payload).get("prompt")
    return slots.with_({"prompt": prompt}) if prompt else slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Generate one picture, store it, and answer with its link (never a placeholder picture)."""
    prompt = str(ctx.slots.get("prompt") or "").strip() or (turn.text or "").strip()
    generator = ctx.services.imagegen  # NotAvailable (with the setting to change) on the local backend
    size = ctx.settings.image_size
    image = generator.generate(prompt, negative_prompt=ctx.settings.image_negative_prompt or None,
                               width=size, height=size)
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(image.mime, "img")
    digest = hashlib.sha256(image.data).hexdigest()[:24]
    key = f"generated/{conversation_hash(turn.conversation)}/{digest}.{ext}"
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
