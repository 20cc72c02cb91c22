"""AskCoursePdfs: questions over the course PDFs, answered with citations (PDF + page)."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
import tempfile
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from bot import progress as ingest_progress
from bot.capabilities import IngestResult
from bot.conversation import Conversation
from bot.courses import DEFAULT_COURSE, course_of
from bot.errors import CoursebotError, InputError, student_sentence
from bot.insight.curated import curated_reply
from bot.roles import INSTRUCTOR, owner_of
from bot.specs import OVERVIEW_QUESTION, IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Attachment, Reply, Turn

log = logging.getLogger(__name__)

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
        SlotSpec("upload_scope", "AMAZON.FreeFormInput", "Should I add this PDF to the course for everyone, or just "
                 "for you in this conversation?",
                 description="An instructor's answer: add the attached PDF to the course, or keep it private.",
                 accepts=lambda turn: True if _scope_choice(turn.text) else None),
        SlotSpec("course", "AMAZON.FreeFormInput", "Which course is this about?",
                 description="The course a conversation asks about, when the channel does not say and there are several."),
    ),
    keywords=("course", "lecture", "lectures", "pdf", "pdfs", "notes", "manual", "syllabus", "chapter", "page",
              "slides", "textbook", "reading", "documents", "document", "material", "materials", "define",
              "definition", "explain", "difference", "according to", "exam", "homework", "assignment", "topic",
              "meaning", "mean", "example", "examples", "curso", "cours", "kurs", "explica", "explique", "erkläre",
              "diferencia", "différence", "unterschied", "examen", "parcial", "partiel", "klausur", "prüfung", "prova",
              "exame", "vs", "versus"),
    lead_verbs=("explain", "define", "compare", "clarify", "elaborate", "explica", "explique", "erkläre", "erklär"),
    help=("Ask me any question about the course and I answer from the course PDFs with page citations "
          "(\"What does the course cover?\" lists their topics). Attach a PDF to add it to the course."),
    extract=extract,
    help_status=help_status,
    remembers_question=True,
    invites_rating=True,
)

SCOPE_PROMPT = "Should I add this PDF to the course for everyone, or just for you in this conversation?"
SCOPE_CHOICES = ("Add to the course", "Just for me")
_TO_COURSE = re.compile(r"\b(course|everyone|everybody|all|class|students|public|shared?)\b", re.I)
_JUST_ME = re.compile(r"\b(me|mine|myself|just|only|private|personal|conversation)\b", re.I)



# "add this pdf to the course": the text only asks to add the attached PDF, it is not a question
_ADD_REQUEST = re.compile(
    r"^\W*(please\W+)?(can you\W+|could you\W+)?(add|upload|ingest|index|include|save|put|store|learn)\b"
    r"|\b(add|upload|ingest|index)\b.*\b(pdf|file|notes|document|slides|course|knowledge base)\b", re.I)


def fill_slots(turn: Turn, slots: Slots, conversation: Conversation) -> Slots:
    slots = Slots.of(slots)
    has_pdf = any(a.kind == "pdf" for a in turn.attachments)
    question = _without_links(slots.get("question"))
    if question != slots.get("question"):
        slots["question"] = question or None
    turn = turn.with_(text=_without_links(turn.text))
    if has_pdf and isinstance(question, str) and _ADD_REQUEST.search(question):
        return slots.with_({"question": None}, ingest_only=True)
    if not question:
        text = turn.text.strip()
        if text and not (has_pdf and _ADD_REQUEST.search(text)):
            slots["question"] = text
        elif has_pdf:  # the PDF itself is the request: add it to the course
            return slots.with_({"question": None}, ingest_only=True)
    return slots


def _without_links(text: Any) -> Any:
    """The text without its PDF links (a linked PDF is the attachment, not part of the question)."""
    from bot.files import PDF_LINK

    if not isinstance(text, str) or "s3://" not in text:
        return text
    return " ".join(PDF_LINK.sub(" ", text).split()).strip(" ,;:")


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Add attached PDFs (a student's stay private to the conversation; an instructor chooses), then
    answer the question (if any) from the conversation's course, with citations."""
    curated = curated_reply(turn, ctx)  # an answer the instructor pinned for this question comes first
    if curated is not None:
        return curated
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
        parked = conversation.extra.pop("pending_pdfs", None)
        results = [_ingest(name, a, ctx, course, None if to_course else owner, turn.user, turn) for name, a in pdfs]
        _unpark(ctx, parked, owner)
        details["ingested"] = [r.to_dict() for r in results]
        details["private"] = not to_course
        lines.extend(_describe(r, private=not to_course) for r in results)
    question = ctx.slots.get("question")
    if getattr(ctx.slots, "ingest_only", False) or not (isinstance(question, str) and question.strip()) or (
            pdfs and turn.role == INSTRUCTOR and ctx.slots.get("upload_scope") == question):
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
                    **_answer_context(kb, about, conversation.extra.get("kb_more")),
                    **_scoped(kb.ask, course=course, owner=owner))
    # the local KB reads a question in another language word by word in English (no translator there)
    english = getattr(answer, "read_as", None) or question
    if asked_in:
        answer, note = _from_course_language(answer, asked_in, ctx, english if english != question else None)
        lines.append(note)
    if answer.session_id:
        conversation.kb_session = answer.session_id
    if answer.kind != "more":
        conversation.extra["kb_query"] = kb.retrieval_query(english, history)[:1000]  # a follow-up's context
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
                 if answer.found else (OVERVIEW_QUESTION,))


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
    remembered = ctx.conversation.extra.get("course")
    if remembered in names:  # the channel named a course that does not exist: keep the conversation's own
        return remembered
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
    elif turn.course and turn.course not in names:
        prompt = f"I don't know the course '{turn.course}'. " + prompt
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
            data = _read(a, turn, ctx)
        except CoursebotError:
            continue
        key = f"uploads/{owner_of(turn.conversation)}/pending/{uuid.uuid4().hex}.pdf"
        blobs.put(key, data, "application/pdf")
        out.append([_safe_name(name), key])
    return out


def _unpark(ctx: IntentContext, parked: Any, owner: str) -> None:
    """Delete this conversation's parked copies once their PDFs are read (the index keeps its own)."""
    delete = getattr(ctx.services.blobs, "delete", None) if parked else None
    for item in parked or ():
        try:
            key = str(item[1])
            if delete is not None and key.startswith(f"uploads/{owner}/pending/"):
                delete(key)
        except Exception:  # a copy left behind goes with the blob store's own expiry
            log.warning("could not delete a parked upload", exc_info=True)


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


def _read(a: Attachment, turn: Turn, ctx: IntentContext) -> bytes:
    """An attached PDF's bytes; one named by its ``s3://`` link is read from this bot's storage, never
    from another conversation's private folder."""
    from bot import keys

    limit = ctx.settings.max_attachment_bytes
    if a.data is None and a.path is None and a.url and a.url.startswith("s3://"):
        if keys.in_other_conversation(a.url.removeprefix("s3://").partition("/")[2], turn.conversation):
            raise InputError(f"I can't open '{a.name}': that link points at someone else's file.", code="bad_link")
        return ctx.services.remote_files.read(a.url, limit, what="PDF")
    return a.read(limit=limit)


def _ingest(name: str, attachment: Attachment, ctx: IntentContext, course: str, owner: str | None,
            user: str, turn: Turn) -> IngestResult:
    """Index one attached PDF on the upload queue, waiting a little for it; problems come back as a
    failed result, not an exception."""
    from bot.uploads import add_upload

    name = _safe_name(name)
    settings = ctx.settings
    try:
        data = _read(attachment, turn, ctx)
    except CoursebotError as e:
        return IngestResult(name, "failed", reason=student_sentence(e, "AskCoursePdfs"))
    listener = ingest_progress.current()  # the channel's progress display, when it has one
    kb = ctx.services.kb
    if not hasattr(kb, "ingest_bytes"):  # a knowledge base without private uploads: the course one
        return _ingest_files(name, data, kb, settings, listener)
    future = ctx.services.uploads.submit(user, lambda: add_upload(ctx.services, name=name, data=data, user=user,
                                                                  course=course, owner=owner,
                                                                  progress=listener))
    try:
        return future.result(timeout=settings.kb_chat_ingest_wait_seconds)
    except FutureTimeout:
        return IngestResult(name, "submitted", reason="still reading")
    except CoursebotError as e:
        return IngestResult(name, "failed", reason=e.user_message)


def _ingest_files(name: str, data: bytes, kb: Any, settings: Any, listener: Any = None) -> IngestResult:
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


def _from_course_language(answer: Any, lang: str, ctx: IntentContext, read_as: str | None = None) -> tuple[Any, str]:
    """The answer in the asker's language when a translator exists, and the English note to show
    (``read_as``: the question as the KB read it in English, word by word)."""
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
    if read_as:
        return answer, (f"(You asked in {name}; the course material is in English, so I looked your words up in "
                        f"English and searched for \u201c{read_as[:200]}\u201d; answers come in English.)")
    return answer, f"(You asked in {name}; the course material is in English, so answers come in English.)"


def _translator(ctx: IntentContext) -> Any:
    try:
        return ctx.services.translator
    except Exception:  # no translator on this backend (local): answers stay in the course's language
        return None
