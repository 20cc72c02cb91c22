"""SummarizeText: a summary plus key phrases, entities, sentiment and language of a text."""

from __future__ import annotations

from typing import Any

from bot.conversation import Conversation
from bot.errors import NotAvailable
from bot.specs import IntentContext, IntentSpec, SlotSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="SummarizeText",
    description="Summarizes a text and reports its key phrases, entities, sentiment and language.",
    samples=(
        "summarize this text", "summarize this", "summarize the following paragraph", "give me a summary of this",
        "can you summarise this article", "tl;dr", "tldr please", "sum up this passage", "condense this text",
        "make this shorter", "give me the gist of this", "what is the main point of this text",
        "what are the key takeaways from this paragraph", "draw conclusions from this paragraph",
        "what are the key phrases in this text", "extract the key phrases", "find the entities in this text",
        "which people and places are mentioned here", "analyze the sentiment of this review",
        "is this review positive or negative", "what is the tone of this message", "what language is this written in",
        "detect the language of this text", "analyze this text", "run text analysis on this",
        "give me insights about this paragraph", "summarize the attached document", "summarize this pdf",
        "summarize that", "summarize your last answer", "give me a short version of that",
        "boil this down to three sentences", "break down this paragraph for me", "recap this email",
        "shorten this for me", "what's this text about", "resume este texto", "résume ce texte",
        "fasse diesen text zusammen",
    ),
    slots=(
        SlotSpec("text", "AMAZON.FreeFormInput", "What text should I summarize? Paste it, or attach a .txt or .pdf file.",
                 required=True, description="The text to analyze."),
    ),
)

_REFERS_TO_ANSWER = ("that", "it", "this answer", "that answer", "the answer", "your answer", "your last answer",
                     "the last answer", "the previous answer", "what you said", "your reply")


def fill_slots(turn: Turn, slots: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    if slots.get("text"):
        return slots
    if any(a.kind in ("text", "pdf") for a in turn.attachments):
        return {**slots, "text": None, "_from_attachment": True}
    if slots.get("_refers_to_previous") and conversation.last_answer:
        return {**slots, "text": conversation.last_answer}
    return slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    raise NotAvailable("Summarizing text is not built yet in this version of coursebot.", code="not_built")
