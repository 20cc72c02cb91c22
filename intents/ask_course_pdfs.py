"""AskCoursePdfs: questions over the course PDFs, answered with citations (PDF + page)."""

from __future__ import annotations

from typing import Any

from bot.conversation import Conversation
from bot.errors import NotAvailable
from bot.specs import IntentContext, IntentSpec, SlotSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="AskCoursePdfs",
    description="Answers questions from the course PDFs with citations; an attached PDF is added to the course.",
    samples=(
        "what is amazon rekognition", "what is amazon polly used for", "explain amazon lex to me",
        "how does a bedrock knowledge base work", "what does the course say about comprehend",
        "summarize what the course says about polly", "what are the prerequisites for this course",
        "which topics does the syllabus cover", "how do I deploy a lambda function",
        "what is the difference between sagemaker and bedrock", "how much does bedrock cost",
        "what is retrieval augmented generation", "define foundation model", "what is an intent in lex",
        "how do I create an S3 bucket", "what is API gateway used for", "explain sagemaker jumpstart",
        "how are slots filled in a lex bot", "what does the lecture say about cloudwatch alarms",
        "according to the notes, what is a vector database", "where in the pdf is chunking explained",
        "can you look up eye direction in the course material", "what is the chunking strategy for a knowledge base",
        "how do presigned urls work", "tell me more about that", "and how much does it cost",
        "what about pricing", "why is that", "can you explain that again in simpler terms",
        "what page talks about model lineage", "find the section on docker containers",
        "how do I create a vector in R", "what is a data frame", "how do I read a csv file in R",
        "what does the manual say about linear models", "which embedding model should I pick",
        "what is the maximum size for an image sent to rekognition", "how does celebrity recognition work",
        "how do I index faces in a collection", "what is tensorflow lite", "explain fine tuning",
        "I have a question about the course", "search the course pdfs for guardrails",
        "add this pdf to the course", "upload these lecture notes to the knowledge base",
        "what's new in the course material", "give me an overview of the course",
    ),
    slots=(
        SlotSpec("question", "AMAZON.FreeFormInput", "What would you like to know about the course?", required=True,
                 description="The question to answer from the course PDFs."),
    ),
)


def fill_slots(turn: Turn, slots: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    if not slots.get("question"):
        has_pdf = any(a.kind == "pdf" for a in turn.attachments)
        if turn.text.strip() and not has_pdf:
            slots["question"] = turn.text.strip()
        elif has_pdf:
            slots["question"] = None  # the PDF itself is the request: add it to the course
            return {**slots, "_ingest_only": True}
    return slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    raise NotAvailable("Answering from the course PDFs is not built yet in this version of coursebot.", code="not_built")
