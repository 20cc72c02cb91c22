"""AskCoursePdfs: questions over the course PDFs, answered with citations (PDF + page)."""

from __future__ import annotations

import inspect
import re
import tempfile
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from bot.capabilities import IngestResult
from bot.conversation import Conversation
from bot.courses import DEFAULT_COURSE, course_of
from bot.errors import CoursebotError, InputError
from bot.roles import INSTRUCTOR, owner_of
from bot.specs import IntentContext, IntentSpec, SlotSpec
from bot.turn import Attachment, Reply, Turn
from kb.extractive import condense

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
        "what about ssml", "what about the limits", "and what are its limits", "how does it work",
        "what does the course say about presigned urls", "which page explains hybrid search",
    ),
    slots=(
        SlotSpec("question", "AMAZON.FreeFormInput", "What would you like to know about the course?", required=True,
                 description="The question to answer from the course PDFs."),
        SlotSpec("upload_scope", "AMAZON.FreeFormInput", "Should I add this PDF to the course for everyone, or just "
                 "for you in this conversation?",
                 description="An instructor's answer: add the attached PDF to the course, or keep it private."),
    ),
)

SCOPE_PROMPT = "Should I add this PDF to the course for everyone, or just for you in this conversation?"
SCOPE_CHOICES = ("Add to the course", "Just for me")
_TO_COURSE = re.compile(r"\b(course|everyone|everybody|all|class|students|public|shared?)\b", re.I)
_JUST_ME = re.compile(r"\b(me|mine|myself|just|only|private|personal|conversation)\b", re.I)


# "add this pdf to the course": the text only asks to add the attached PDF, it is not a question
_ADD_REQUEST = re.compile(
    r"^\W*(please\W+)?(can you\W+|could you\W+)?(add|upload|ingest|index|include|save|put|store|learn)\b"
    r"|\b(add|upload|ingest|index)\b.*\b(pdf|file|notes|document|slides|course|knowledge base)\b", re.I)


def fill_slots(turn: Turn, slots: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    has_pdf = any(a.kind == "pdf" for a in turn.attachments)
    question = slots.get("question")
    if has_pdf and isinstance(question, str) and _ADD_REQUEST.search(question):
        return {**slots, "question": None, "_ingest_only": True}
    if not question:
        text = turn.text.strip()
        if text and not (has_pdf and _ADD_REQUEST.search(text)):
            slots["question"] = text
        elif has_pdf:
            slots["question"] = None  # the PDF itself is the request: add it to the course
            return {**slots, "_ingest_only": True}
    return slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Add attached PDFs (a student's stay private to the conversation; an instructor chooses), then
    answer the question (if any) from the conversation's course, with citations."""
    kb = ctx.services.kb
    conversation = ctx.conversation
    owner = owner_of(turn.conversation)
    lines: list[str] = []
    details: dict[str, Any] = {}
    pdfs = [(a.name, a) for a in turn.attachments if a.kind == "pdf"] or _pending_pdfs(ctx)
    course = _course(turn, ctx)
    if course is None:
        return _ask_course(turn, ctx, pdfs)
    conversation.extra["course"] = course
    details["course"] = course
    if pdfs:
        to_course = False
        if turn.role == INSTRUCTOR:
            scope = turn.upload_to or _scope_choice(ctx.slots.get("upload_scope"))
            if scope is None:
                return _elicit(turn, ctx, pdfs, "upload_scope", SCOPE_PROMPT, SCOPE_CHOICES)
            to_course = scope == "course"
        conversation.extra.pop("pending_pdfs", None)
        results = [_ingest(name, a, ctx, course, None if to_course else owner, turn.user) for name, a in pdfs]
        details["ingested"] = [r.to_dict() for r in results]
        details["private"] = not to_course
        lines.extend(_describe(r, private=not to_course) for r in results)
    question = ctx.slots.get("question")
    if ctx.slots.get("_ingest_only") or not (isinstance(question, str) and question.strip()) or (
            pdfs and turn.role == INSTRUCTOR and ctx.slots.get("upload_scope") == question):
        if not lines:
            raise InputError("What would you like to know about the course?", code="empty_question")
        failed = all(r["status"] == "failed" for r in details["ingested"])
        return Reply(text=" ".join(lines), intent=SPEC.name, state="failed" if failed else "fulfilled",
                     error="pdf_not_added" if failed else None, details=details,
                     suggestions=() if failed else ("What topics does this PDF cover?",))

    question = question.strip()
    previous = conversation.extra.get("kb_query") or conversation.last_question
    history = [previous] if previous else []
    answer = kb.ask(question, session_id=conversation.kb_session, history=history,
                    **_scoped(kb.ask, course=course, owner=owner))
    if answer.session_id:
        conversation.kb_session = answer.session_id
    conversation.extra["kb_query"] = condense(question, history)[:1000]
    details["found"] = answer.found
    text = answer.text if not lines else " ".join(lines) + "\n\n" + answer.text
    return Reply(text=text, intent=SPEC.name, citations=answer.citations, details=details,
                 suggestions=("Read that aloud",) if answer.found else ("What does the course cover?",))


def _scoped(fn: Any, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments ``fn`` accepts (a knowledge base written before courses takes none)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _course_names(kb: Any) -> list[str]:
    courses = getattr(kb, "courses", None)
    if courses is None:
        return [DEFAULT_COURSE]
    try:
        return [c["course"] for c in courses()] or [DEFAULT_COURSE]
    except CoursebotError:
        return [DEFAULT_COURSE]


def _course(turn: Turn, ctx: IntentContext) -> str | None:
    """The conversation's course: the channel's, the remembered one, the answer to "which course?",
    or the only one there is; ``None`` when the conversation must be asked (a DM, several courses)."""
    chosen = course_of(turn, ctx.conversation)
    if chosen == DEFAULT_COURSE:
        return chosen
    names = _course_names(ctx.services.kb)
    if chosen in names:  # a channel's choice is used only when the course exists
        return chosen
    answer = ctx.slots.get("course")
    if isinstance(answer, str):
        for name in names:
            if re.search(rf"(?<![a-z0-9_-]){re.escape(name)}(?![a-z0-9_-])", answer.lower()):
                return name
    return names[0] if len(names) == 1 else None


def _ask_course(turn: Turn, ctx: IntentContext, pdfs: list[tuple[str, Any]]) -> Reply:
    names = _course_names(ctx.services.kb)
    prompt = "Which course is this about? " + ", ".join(names) + "."
    if ctx.slots.get("course"):
        prompt = "I don't know that course. " + prompt
    return _elicit(turn, ctx, pdfs, "course", prompt, tuple(names[:10]))


def _elicit(turn: Turn, ctx: IntentContext, pdfs: list[tuple[str, Any]], slot: str, prompt: str,
            choices: tuple[str, ...]) -> Reply:
    """Ask for ``slot``; attached PDFs wait in this conversation's private upload area until the answer."""
    slots = {k: v for k, v in ctx.slots.items() if k != slot and (v is None or isinstance(v, (str, int, float, bool)))}
    if pdfs and not ctx.conversation.extra.get("pending_pdfs"):
        ctx.conversation.extra["pending_pdfs"] = _park(turn, ctx, pdfs)
    ctx.conversation.pending = {"intent": SPEC.name, "slot": slot, "slots": slots}
    return Reply(text=prompt, intent=SPEC.name, state="elicit", elicit_slot=slot, suggestions=choices)


def _park(turn: Turn, ctx: IntentContext, pdfs: list[tuple[str, Any]]) -> list[list[str]]:
    out = []
    blobs = ctx.services.blobs
    for name, a in pdfs:
        try:
            data = a.read(limit=ctx.settings.max_attachment_bytes)
        except InputError:
            continue
        key = f"uploads/{owner_of(turn.conversation)}/pending/{uuid.uuid4().hex}.pdf"
        blobs.put(key, data, "application/pdf")
        out.append([_safe_name(name), key])
    return out


def _pending_pdfs(ctx: IntentContext) -> list[tuple[str, Any]]:
    """The PDFs parked while the conversation was asked a question (course, or course-or-private)."""
    parked = ctx.conversation.extra.get("pending_pdfs") or []
    out = []
    for item in parked[:5]:
        try:
            name, key = str(item[0]), str(item[1])
            data = ctx.services.blobs.get(key)
        except (CoursebotError, IndexError, TypeError, ValueError):
            continue
        out.append((name, Attachment(name=name, mime="application/pdf", data=data, size=len(data))))
    return out


def _scope_choice(answer: Any) -> str | None:
    """"course" or "private" from an instructor's answer to SCOPE_PROMPT; ``None`` when it says neither."""
    if not isinstance(answer, str) or not answer.strip():
        return None
    course, private = bool(_TO_COURSE.search(answer)), bool(_JUST_ME.search(answer))
    if course and not private:
        return "course"
    if private and not course:
        return "private"
    return None


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(name or "document.pdf").name).strip(" ._") or "document"
    base = base[:120]
    return base if base.lower().endswith(".pdf") else base + ".pdf"


def _ingest(name: str, attachment: Attachment, ctx: IntentContext, course: str, owner: str | None,
            user: str) -> IngestResult:
    """Index one attached PDF on the upload queue, waiting a little for it; problems come back as a
    failed result, not an exception."""
    from bot.uploads import add_upload

    name = _safe_name(name)
    settings = ctx.settings
    try:
        data = attachment.read(limit=settings.max_attachment_bytes)
    except InputError as e:
        return IngestResult(name, "failed", reason=e.user_message)
    kb = ctx.services.kb
    if not hasattr(kb, "ingest_bytes"):  # a knowledge base without private uploads: the course one
        return _ingest_files(name, data, kb, settings)
    future = ctx.services.uploads.submit(user, lambda: add_upload(ctx.services, name=name, data=data, user=user,
                                                                  course=course, owner=owner))
    try:
        return future.result(timeout=settings.kb_chat_ingest_wait_seconds)
    except FutureTimeout:
        return IngestResult(name, "submitted", reason="still reading")
    except CoursebotError as e:
        return IngestResult(name, "failed", reason=e.user_message)


def _ingest_files(name: str, data: bytes, kb: Any, settings: Any) -> IngestResult:
    with tempfile.TemporaryDirectory(prefix="coursebot-pdf-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        kwargs = {"wait": settings.kb_chat_ingest_wait_seconds} if "wait" in inspect.signature(kb.ingest).parameters else {}
        results = kb.ingest([str(path)], **kwargs)
    return results[0] if results else IngestResult(name, "failed", reason=f"I couldn't read '{name}' as a PDF.")


def _describe(r: IngestResult, private: bool = False) -> str:
    pages = f" ({r.pages} page{'' if r.pages == 1 else 's'})" if r.pages else ""
    if private and r.status in ("added", "replaced"):
        again = "your earlier copy of " if r.status == "replaced" else ""
        return (f"I added {again}'{r.source}' for this conversation only{pages}: you can ask me about it here, "
                "nobody else sees it, and I delete it after a while. The course itself is unchanged.")
    if private and r.status == "unchanged":
        return f"'{r.source}' is already added for this conversation."
    if r.status == "added":
        return f"I added '{r.source}' to the course{pages}. You can ask me about it now."
    if r.status == "replaced":
        return f"I replaced the previous version of '{r.source}' in the course with this one{pages}."
    if r.status == "unchanged":
        return f"'{r.source}' is already in the course, unchanged."
    if r.status == "duplicate":
        return f"'{r.source}' is not added twice: {r.reason}"
    if r.status == "submitted" and r.reason == "still reading":
        return f"I'm still reading '{r.source}'; ask me about it in a minute."
    if r.status == "submitted":
        where = "for this conversation only" if private else "the course knowledge base"
        return (f"I uploaded '{r.source}'{pages} ({where}); it is still being indexed, "
                "so it will be ready to ask about in a few minutes.")
    reason = r.reason or ""
    if reason.startswith(f"'{r.source}' "):  # "'a.pdf' looks damaged ..." -> "It looks damaged ..."
        reason = "It " + reason[len(r.source) + 3:]
    where = "" if private else " to the course"
    return f"I couldn't add '{r.source}'{where}. {reason}".strip()
