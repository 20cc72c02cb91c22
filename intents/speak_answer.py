"""SpeakAnswer: speaks a text or the previous answer and returns an expiring link to the audio."""

from __future__ import annotations

from typing import Any

from bot.conversation import Conversation
from bot.errors import NotAvailable
from bot.specs import IntentContext, IntentSpec, SlotSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="SpeakAnswer",
    description="Reads a text or the previous answer aloud and returns a link to the audio.",
    samples=(
        "read that aloud", "read it aloud", "read this aloud", "read the answer out loud", "say it out loud",
        "say that again out loud", "can you read this to me", "read this to me", "speak the answer",
        "speak this text", "convert this text to speech", "text to speech please", "turn this into audio",
        "I want to hear that", "let me hear it", "play that as audio", "give me an audio version of the answer",
        "read the last answer aloud", "pronounce this", "how do you pronounce this", "narrate this paragraph",
        "say it in spanish", "read it in french", "read that with a british voice", "use a male voice to read this",
        "read it again", "can I listen to that", "make an mp3 of this", "record this as speech",
        "voice this for me", "say hello world", "lee esto en voz alta", "lis ceci à voix haute",
    ),
    slots=(
        SlotSpec("text", "AMAZON.FreeFormInput", "What should I read aloud?", required=True,
                 description="The text to speak; the previous answer when the user says 'that'."),
        SlotSpec("voice", "AMAZON.AlphaNumeric", "Which voice would you like?", description="A voice name, e.g. Joanna."),
        SlotSpec("language", "AMAZON.Language", "Which language should I speak?", description="Target language."),
    ),
)


def fill_slots(turn: Turn, slots: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    if slots.get("text"):
        return slots
    if any(a.kind == "text" for a in turn.attachments):
        return {**slots, "_from_attachment": True}
    if conversation.last_answer and (slots.get("_refers_to_previous") or not slots.get("_explicit_payload")):
        return {**slots, "text": conversation.last_answer}
    return slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    raise NotAvailable("Reading answers aloud is not built yet in this version of coursebot.", code="not_built")
