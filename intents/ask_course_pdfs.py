"""AskCoursePdfs: questions over the course PDFs, answered with citations (PDF + page)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import tempfile
from pathlib import Path
from typing import Any

from bot import progress as ingest_progress
from bot.capabilities import IngestResult
from bot.conversation import Conversation
from bot.errors import InputError, student_sentence
from bot.insight.curated import curated_reply
from bot.specs import IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Attachment, Reply, Turn

def extract(text: str, instruction: str, payload: str | None) -> Slots:
    """The whole message is the question ("explain: <text>" keeps both parts)."""
    question = text.strip() if payload is None else f"{instruction} {payload}".strip()
    return Slots({"question": question} if question else {})



def help_status(services) -> str | None:
    """What the course holds now, for Help's answer to "what documents do you have?"."""
    try:
        docs = services.kb.list()
    except Exception:
        return None
    names = [str(d.get("name") or d.get("source") or "") for d in docs if isinstance(d, dict)]
    names = [n for n in names if n]
    if not names:
        return "The course has no PDFs yet: attach one (or an instructor runs `coursebot kb ingest`)."
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"The course has {len(names)} PDF{'s' if len(names) != 1 else ''}: {shown}."


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
    ),
    keywords=("course", "lecture", "lectures", "pdf", "pdfs", "notes", "manual", "syllabus", "chapter", "page",
              "slides", "textbook", "reading", "documents", "document", "material", "materials", "define",
              "definition", "explain", "difference", "according to", "exam", "homework", "assignment", "topic",
              "meaning", "mean", "example", "examples", "curso", "cours", "kurs", "explica", "explique", "erkläre",
              "diferencia", "différence", "unterschied", "examen", "parcial", "partiel", "klausur", "prüfung", "prova",
              "exame", "vs", "versus"),
    lead_verbs=("explain", "define", "compare", "clarify", "elaborate", "explica", "explique", "erkläre", "erklär"),
    help=("Ask me any question about the course (\"What is a data frame?\", \"How does Lex fill slots?\") and I "
          "answer from the course PDFs with page citations. Attach a PDF to add it to the course."),
    extract=extract,
    help_status=help_status,
    remembers_question=True,
    invites_rating=True,
)



# "add this pdf to the course": the text only asks to add the attached PDF, it is not a question
_ADD_REQUEST = re.compile(
    r"^\W*(please\W+)?(can you\W+|could you\W+)?(add|upload|ingest|index|include|save|put|store|learn)\b"
    r"|\b(add|upload|ingest|index)\b.*\b(pdf|file|notes|document|slides|course|knowledge base)\b", re.I)


def fill_slots(turn: Turn, slots: Slots, conversation: Conversation) -> Slots:
    slots = Slots.of(slots)
    has_pdf = any(a.kind == "pdf" for a in turn.attachments)
    question = slots.get("question")
    if has_pdf and isinstance(question, str) and _ADD_REQUEST.search(question):
        return slots.with_({"question": None}, ingest_only=True)
    if not question:
        text = turn.text.strip()
        if text and not (has_pdf and _ADD_REQUEST.search(text)):
            slots["question"] = text
        elif has_pdf:  # the PDF itself is the request: add it to the course
            return slots.with_({"question": None}, ingest_only=True)
    return slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Add attached PDFs to the course KB, then answer the question (if any) with citations."""
    curated = curated_reply(turn, ctx)  # an answer the instructor pinned for this question comes first
    if curated is not None:
        return curated
    kb = ctx.services.kb
    conversation = ctx.conversation
    lines: list[str] = []
    details: dict[str, Any] = {}
    pdfs = [a for a in turn.attachments if a.kind == "pdf"]
    if pdfs:
        results = [_ingest(a, kb, ctx.settings) for a in pdfs]
        details["ingested"] = [r.to_dict() for r in results]
        lines.extend(_describe(r) for r in results)
    question = ctx.slots.get("question")
    if getattr(ctx.slots, "ingest_only", False) or not (isinstance(question, str) and question.strip()):
        if not lines:
            raise InputError("What would you like to know about the course?", code="empty_question")
        failed = all(r["status"] == "failed" for r in details["ingested"])
        return Reply(text=" ".join(lines), intent=SPEC.name, state="failed" if failed else "fulfilled",
                     error="pdf_not_added" if failed else None, details=details,
                     suggestions=() if failed else ("What topics does this PDF cover?",))

    question = question.strip()
    question, asked_in = _to_course_language(question, ctx)
    previous = conversation.extra.get("kb_query") or conversation.last_question
    history = [previous] if previous else []
    added = [r["source"] for r in details.get("ingested", ()) if r["status"] != "failed"]
    about = added[-1] if added else conversation.extra.get("kb_source")
    answer = kb.ask(question, session_id=conversation.kb_session, history=history,
                    **_answer_context(kb, about, conversation.extra.get("kb_more")))
    if asked_in:
        answer, note = _from_course_language(answer, asked_in, ctx)
        lines.append(note)
    if answer.session_id:
        conversation.kb_session = answer.session_id
    if answer.kind != "more":
        conversation.extra["kb_query"] = kb.retrieval_query(question, history)[:1000]
    conversation.extra["kb_more"] = getattr(answer, "more", None)
    if answer.citations:
        conversation.extra["kb_source"] = answer.citations[0].source
    elif added:
        conversation.extra["kb_source"] = added[-1]
    details["found"] = answer.found
    if getattr(answer, "nearest", ()):
        details["nearest"] = [c.to_dict() for c in answer.nearest]
    text = answer.text if not lines else " ".join(lines) + "\n\n" + answer.text
    return Reply(text=text, intent=SPEC.name, citations=answer.citations, details=details,
                 suggestions=(("Read that aloud",) + (("Tell me more",) if getattr(answer, "more", None) else ()))
                 if answer.found else ("What does the course cover?",))


def _answer_context(kb: Any, about: str | None, more: Any) -> dict[str, Any]:
    """What the knowledge base can use of the conversation: the document it is on ("this PDF") and
    where the last answer stopped ("tell me more"), for backends that accept them."""
    try:
        params = inspect.signature(kb.ask).parameters
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    if "about" in params and about:
        out["about"] = about
    if "more" in params and more:
        out["more"] = more
    return out


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(name or "document.pdf").name).strip(" ._") or "document"
    base = base[:120]
    return base if base.lower().endswith(".pdf") else base + ".pdf"


def _ingest(attachment: Attachment, kb: Any, settings: Any) -> IngestResult:
    """Add one attached PDF to the knowledge base; problems come back as a failed result, not an exception."""
    name = _safe_name(attachment.name)
    try:
        data = attachment.read(limit=settings.max_attachment_bytes)
    except InputError as e:
        return IngestResult(name, "failed", reason=student_sentence(e, "AskCoursePdfs"))
    listener = ingest_progress.current()  # the channel's progress display, when it has one
    if hasattr(kb, "ingest_bytes"):
        watch = {"progress": listener} if listener and _accepts(kb.ingest_bytes, "progress") else {}
        return kb.ingest_bytes(name, data, **watch)
    with tempfile.TemporaryDirectory(prefix="coursebot-pdf-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        kwargs = {"wait": settings.kb_chat_ingest_wait_seconds} if _accepts(kb.ingest, "wait") else {}
        if listener and _accepts(kb.ingest, "progress"):
            kwargs["progress"] = listener
        results = kb.ingest([str(path)], **kwargs)
    return results[0] if results else IngestResult(name, "failed", reason=f"I couldn't read '{name}' as a PDF.")


def _accepts(fn: Any, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _describe(r: IngestResult) -> str:
    pages = f" ({r.pages} page{'' if r.pages == 1 else 's'})" if r.pages else ""
    if r.status == "added":
        return f"I added '{r.source}' to the course{pages}. You can ask me about it now."
    if r.status == "replaced":
        return f"I replaced the previous version of '{r.source}' in the course with this one{pages}."
    if r.status == "unchanged":
        return f"'{r.source}' is already in the course, unchanged."
    if r.status == "duplicate":
        return f"'{r.source}' is not added twice: {r.reason}"
    if r.status == "submitted":
        return (f"I uploaded '{r.source}'{pages}; the course knowledge base is still indexing it, "
                "so it will be ready to ask about in a few minutes.")
    reason = r.reason or ""
    if reason.startswith(f"'{r.source}' "):  # "'a.pdf' looks damaged ..." -> "It looks damaged ..."
        reason = "It " + reason[len(r.source) + 3:]
    return f"I couldn't add '{r.source}' to the course. {reason}".strip()


COURSE_LANGUAGE = "en"


def _to_course_language(question: str, ctx: IntentContext) -> tuple[str, str | None]:
    """(the question in the course's language, the language it was asked in when that differs).
    On a backend with a translator (Amazon Translate) the question is translated; otherwise it is
    searched as asked (the KB's multilingual words and names still match)."""
    from bot.nlu import foreign

    lang = foreign(question)
    if not lang or lang == COURSE_LANGUAGE:
        return question, None
    translator = _translator(ctx)
    if translator is not None:
        try:
            return translator.translate(question, COURSE_LANGUAGE), lang
        except Exception:  # a failed translation still searches the question as asked
            pass
    return question, lang


def _from_course_language(answer: Any, lang: str, ctx: IntentContext) -> tuple[Any, str]:
    """The answer in the asker's language when a translator exists, and the English note to show."""
    from bot import textutil

    name = textutil.language_name(lang)
    translator = _translator(ctx)
    if translator is not None and answer.found:
        try:
            translated = translator.translate(answer.text, lang)
            return dataclasses.replace(answer, text=translated), (
                f"(You asked in {name}; the course is in English, so I searched it in English and translated the answer.)")
        except Exception:
            pass
    return answer, f"(You asked in {name}; the course material is in English, so answers come in English.)"


def _translator(ctx: IntentContext) -> Any:
    try:
        return ctx.services.translator
    except Exception:  # no translator on this backend (local): answers stay in the course's language
        return None
