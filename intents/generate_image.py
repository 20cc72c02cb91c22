"""GenerateImage: a picture from a prompt, by a Bedrock image model or a SageMaker endpoint."""

from __future__ import annotations

from bot.errors import NotAvailable
from bot.specs import IntentContext, IntentSpec, SlotSpec
from bot.turn import Reply, Turn

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


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    raise NotAvailable("Generating images is not built yet in this version of coursebot.", code="not_built")
