"""QuizMe: multiple-choice practice questions built from the course PDFs, graded, with the page to review."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bot.courses import DEFAULT_COURSE, course_of, is_course_name
from bot.quiz import DEFAULT_QUESTIONS, LETTERS, MAX_QUESTIONS, Question
from bot.quiz.grading import STOP_WORDS, grade, looks_like_an_answer
from bot.roles import owner_of
from bot.specs import IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Citation, Reply, Turn

_NUMBERS = {"one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "a couple of": 2, "a few": 3, "some": DEFAULT_QUESTIONS}
_COUNT = re.compile(r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few)\s+(?:more\s+|new\s+|"
                    r"quick\s+|practice\s+|multiple[- ]choice\s+|quiz\s+|test\s+|short\s+)*(?:questions?|flash ?cards?|"
                    r"cards?|quiz(?:zes)?|problems?)\b", re.I)
_REQUEST = re.compile(r"\b(quiz|quizzes|quizz|test me|test my|flash ?cards?|practice questions?|multiple[- ]choice|"
                      r"ask me (?:some |a few |\d+ )?questions?|(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|"
                      r"a few|some) (?:more |new |quick |practice )*questions)\b", re.I)
_TOPIC = re.compile(r"\b(?:on|about|for|from|over|covering|regarding|of|in)\s+(?P<topic>.+)$", re.I)
_WHOLE = re.compile(r"^(?:(?:the|my|this|our)\s+)?(?:whole\s+|entire\s+)?(?:course|class|material|materials|"
                    r"everything|anything|all|it|that|this|them|all of it|all topics|the pdfs|pdfs)$", re.I)
_AGAIN = re.compile(r"\b(again|another|more|new|different|next)\b", re.I)


def extract(text: str, instruction: str, payload: str | None) -> Slots:
    """The topic ("on AWS Lambda", "for chapter 2") and the number of questions ("5 questions")."""
    text = " ".join((text or "").split())
    out: dict[str, Any] = {}
    count = _COUNT.search(text)
    if count:
        word = count.group(1).lower()
        n = int(word) if word.isdigit() else _NUMBERS.get(word, DEFAULT_QUESTIONS)
        out["count"] = str(max(1, min(n, MAX_QUESTIONS)))
    request = _REQUEST.search(text)
    tail = text[request.end():] if request else text
    m = _TOPIC.search(tail) or (_TOPIC.search(text) if request else None)
    if m:
        topic = re.sub(r"\s*\b(please|pls|now|for me|again|thanks|thank you)\b\s*", " ", m.group("topic"), flags=re.I)
        topic = topic.strip(" .!?,;:\"'")
        topic = re.sub(r"^(?:the\s+)?(?:topic|subject)\s+(?:of\s+)?", "", topic, flags=re.I)
        if topic and not _WHOLE.match(topic) and len(topic) <= 120:
            out["topic"] = topic
    return Slots(out)


_OWN_REQUEST = re.compile(r"^\W*(?:please\s+|hey\s+|ok\s+|okay\s+)?(?:what|whats|what's|how|why|when|where|who|whom|"
                          r"which|can|could|would|will|should|is|are|does|do|did|explain|define|tell|show|summari[sz]e|"
                          r"read|say|speak|draw|generate|describe|help|list|give|find|search|look|translate|compare|"
                          r"thanks|thank|hi|hello|hey)\b", re.I)


def _an_answer(turn: Turn) -> bool:
    """Whether the next message answers the question: a letter, a number, "stop", or a short phrase (a
    choice's text); not a question, a request of its own ("tell me about Polly"), a long message or a file.
    A short phrase that matches no choice is still handed to the intent it asks for (``_hand_over``)."""
    text = (turn.text or "").strip()
    if turn.attachments:
        return False
    if looks_like_an_answer(text):
        return True
    return not ("?" in text or len(text.split()) > 8 or _OWN_REQUEST.match(text) or _REQUEST.search(text))


SPEC = IntentSpec(
    name="QuizMe",
    description="Quizzes the student with multiple-choice questions built from the course PDFs, grades each "
                "answer and cites the page to review.",
    samples=(
        "quiz me", "quiz me on lambda", "quiz me on AWS Lambda", "quiz me about amazon polly", "test me on lecture 3",
        "test me on S3", "5 questions on S3", "give me 5 questions on bedrock", "flashcards for chapter 2",
        "make me flashcards on rekognition", "can you quiz me on the course", "give me a quiz", "start a quiz",
        "I want a quiz on knowledge bases", "quiz me on chapter 1", "test my knowledge of sagemaker",
        "ask me some questions about lex", "practice questions on api gateway", "let's do a practice quiz",
        "give me a multiple choice quiz on comprehend", "quiz me again", "another quiz please",
        "more questions on lambda", "three questions about vectors", "help me study lecture 2 with a quiz",
        "test me", "quiz me on data frames", "10 questions on the whole course", "can you test me on docker",
        "I want to practice for the exam with some questions", "flashcards please", "quiz me on lecture 5",
        "a quick quiz on polly", "give me practice questions", "drill me on the limits of lambda",
        "make a quiz from the course pdfs", "let's play a quiz", "quiz time", "test me on what we covered",
        "questions to check my understanding of S3",
    ),
    slots=(
        SlotSpec("topic", "AMAZON.FreeFormInput", "What should the quiz be about? Name a topic or a lecture, "
                 "or say \"the whole course\".", description="The topic, lecture or chapter to quiz on."),
        SlotSpec("count", "AMAZON.Number", "How many questions would you like?",
                 description="How many questions the set has (1 to 10)."),
        SlotSpec("answer", "AMAZON.FreeFormInput", "What is your answer to the quiz question? Say A, B, C or D.",
                 description="The student's answer to the current question: a letter, a number or the choice.",
                 accepts=_an_answer),
    ),
    keywords=("quiz", "quizzes", "quiz me", "test me", "test my knowledge", "flashcards", "flashcard",
              "practice questions", "multiple choice", "drill me", "study"),
    lead_verbs=("quiz", "drill"),
    help=("Say \"quiz me on Lambda\" (or \"5 questions on S3\", \"test me on lecture 3\") and I ask you "
          "multiple-choice questions built from the course PDFs, grade each answer and show the page to review."),
    extract=extract,
)

STOP_CHOICE = "Stop the quiz"
CLAIM_CONFIDENCE = 0.6  # an unmatched answer the NLU gives this surely to another intent is that request
MAX_RETRIES = 2  # answers that pick no choice before the quiz ends by itself
_KEEP_SEEN = 300  # question ids remembered per conversation, so a new set asks new questions
_PASSAGE_CHARS = 1500


# --- state ----------------------------------------------------------------------------------------
def _state(conversation: Any) -> dict[str, Any] | None:
    """The quiz in progress (validated: state comes from a store), else None."""
    raw = conversation.extra.get("quiz")
    if not isinstance(raw, dict):
        return None
    try:
        questions = [Question.from_dict(q) for q in raw.get("questions") or ()]
        at = int(raw.get("at", 0))
    except (KeyError, TypeError, ValueError):
        return None
    if not questions or not 0 <= at < len(questions):
        return None
    missed = [m for m in raw.get("missed") or () if isinstance(m, dict)]
    return {"questions": questions, "at": at, "right": int(raw.get("right") or 0), "missed": missed,
            "topic": raw.get("topic") if isinstance(raw.get("topic"), str) else None,
            "tries": int(raw.get("tries") or 0)}


def _save(conversation: Any, state: dict[str, Any]) -> None:
    conversation.extra["quiz"] = {
        "questions": [{**q.to_dict(), "passage": q.passage[:_PASSAGE_CHARS]} for q in state["questions"]],
        "at": state["at"], "right": state["right"], "missed": state["missed"][:MAX_QUESTIONS],
        "topic": state["topic"], "tries": state["tries"]}
    conversation.pending = {"intent": SPEC.name, "slot": "answer", "slots": {}}


def _end(conversation: Any) -> None:
    conversation.extra.pop("quiz", None)
    if (conversation.pending or {}).get("intent") == SPEC.name:
        conversation.pending = None


# --- handler --------------------------------------------------------------------------------------
def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Grade the answer to the current question, or start a new set of questions."""
    state = _state(ctx.conversation)
    answer = ctx.slots.get("answer")
    answer = answer.strip() if isinstance(answer, str) else ""
    if answer and state is not None and (STOP_WORDS.match(answer) or not _REQUEST.search(answer)):
        return _answer(turn, ctx, state, answer)
    if answer and state is None and looks_like_an_answer(answer) and not _REQUEST.search(answer):
        return Reply(text="There's no quiz going on right now. Say \"quiz me\" (or \"quiz me on Lambda\") and "
                          "I'll ask you questions from the course.", intent=SPEC.name,
                     suggestions=("Quiz me", "What can you do?"))
    slots = ctx.slots
    if STOP_WORDS.match(answer or turn.text or ""):  # "stop the quiz" with no quiz going on
        return Reply(text="There's no quiz going on. Say \"quiz me\" whenever you want one.", intent=SPEC.name,
                     suggestions=("Quiz me", "What can you do?"))
    if answer and _REQUEST.search(answer):  # a new request while a quiz was waiting for an answer
        slots = extract(answer, answer, None)
    return _start(turn, ctx, slots, previous=state)


def _course(turn: Turn, ctx: IntentContext) -> str:
    chosen = course_of(turn, ctx.conversation)
    if chosen:
        return chosen
    try:
        names = [c["course"] for c in ctx.services.kb.courses()]
    except Exception:  # a knowledge base without courses: the default one
        names = []
    return names[0] if len(names) == 1 and is_course_name(names[0]) else DEFAULT_COURSE


def _has_documents(ctx: IntentContext, course: str) -> bool:
    try:
        return bool(ctx.services.kb.list(course=course))
    except Exception:  # cannot tell: say what the search found, nothing more
        return True


def _start(turn: Turn, ctx: IntentContext, slots: Any, previous: dict[str, Any] | None) -> Reply:
    conversation = ctx.conversation
    topic = slots.get("topic") if isinstance(slots.get("topic"), str) else None  # Lex sends any text: cut it
    topic = " ".join(topic.split())[:120] or None if topic else None
    if topic is None and _AGAIN.search(turn.text or ""):
        remembered = conversation.extra.get("quiz_topic")
        topic = remembered if isinstance(remembered, str) else None
    try:
        count = max(1, min(int(str(slots.get("count") or DEFAULT_QUESTIONS)), MAX_QUESTIONS))
    except ValueError:
        count = DEFAULT_QUESTIONS
    seen = [s for s in conversation.extra.get("quiz_seen") or () if isinstance(s, str)][-_KEEP_SEEN:]
    sets = int(conversation.extra.get("quiz_sets") or 0) + 1
    seed = int(hashlib.sha256(f"{turn.conversation}|{sets}".encode()).hexdigest()[:8], 16)
    course = _course(turn, ctx)
    made = ctx.services.quiz.make(topic, count=count, course=course, owner=owner_of(turn.conversation),
                                         avoid=seen, seed=seed)
    about = f" on \u201c{topic}\u201d" if topic else ""
    if not made.questions:
        _end(conversation)
        if not made.found and not _has_documents(ctx, course):
            text = ("The course has no PDFs yet, so I have nothing to quiz you on: attach one (or an instructor "
                    "adds the course PDFs), then say \"quiz me\".")
        elif not made.found:
            text = (f"I couldn't find anything{about} in the course to quiz you on. Try another topic or lecture, "
                    "or just say \"quiz me\".")
        else:
            text = (f"The course pages{about} have no sentences I can turn into fair questions. Try another topic, "
                    "or just say \"quiz me\".")
        return Reply(text=text, intent=SPEC.name, details={"course": course, "found": made.found},
                     suggestions=("Quiz me", "What does the course cover?"))
    questions = list(made.questions)
    conversation.extra["quiz_seen"] = (seen + [q.id for q in questions])[-_KEEP_SEEN:]
    conversation.extra["quiz_sets"] = sets
    conversation.extra["quiz_topic"] = topic
    conversation.extra["course"] = course
    state = {"questions": questions, "at": 0, "right": 0, "missed": [], "topic": topic, "tries": 0}
    fewer = f" (the course pages{about} gave me {len(questions)} good ones)" if len(questions) < count else ""
    intro = (f"Here's a quiz{about}: {len(questions)} question{'s' if len(questions) != 1 else ''} from the course "
             f"PDFs{fewer}. Answer with the letter.")
    if previous is not None and ctx.slots.get("answer"):  # asked while a question waited for its answer
        intro = "(I stopped the previous quiz.) " + intro
    return _ask(turn, ctx, state, intro, (), course=course)


def _answer(turn: Turn, ctx: IntentContext, state: dict[str, Any], answer: str) -> Reply:
    conversation = ctx.conversation
    q: Question = state["questions"][state["at"]]
    if STOP_WORDS.match(answer):
        _end(conversation)
        done = state["at"]
        if not done:
            return Reply(text="OK, I stopped the quiz. Say \"quiz me\" whenever you want to try again.",
                         intent=SPEC.name, suggestions=("Quiz me", "What can you do?"))
        return _final(turn, state, "OK, I stopped the quiz.", (), answered=done)
    picked = grade(answer, q.choices, spoken=turn.input_mode == "speech")
    if picked is None:
        other = _hand_over(turn, ctx, answer)
        if other is not None:
            return other
        state["tries"] += 1
        if state["tries"] > MAX_RETRIES:
            _end(conversation)
            return Reply(text="I couldn't match that to a choice, so I stopped the quiz. Say \"quiz me\" to start "
                              "again.", intent=SPEC.name, suggestions=("Quiz me",))
        letters = ", ".join(LETTERS[:len(q.choices) - 1]) + f" or {LETTERS[len(q.choices) - 1]}"
        return _ask(turn, ctx, state, f"I couldn't tell which choice that is. Answer with {letters} "
                                      "(or say \"stop\").", ())
    right = picked == q.answer
    state["tries"] = 0
    where = _where(q)
    if right:
        state["right"] += 1
        verdict = f"Correct \u2014 {q.letter}. {q.right}."
    else:
        state["missed"].append({"source": q.source, "page": q.page, "url": q.url})
        verdict = f"Not quite \u2014 the answer is {q.letter}. {q.right}."
    feedback = f"{verdict}\n\u201c{q.quote}\u201d ({where})"
    cited = Citation(source=q.source, page=q.page, url=q.url, quote=q.quote)
    graded = {"correct": right, "picked": LETTERS[picked], "answer": q.letter, "choice": q.right,
              "source": q.source, "page": q.page, "url": q.url, "quote": q.quote}
    state["at"] += 1
    if state["at"] >= len(state["questions"]):
        _end(conversation)
        return _final(turn, state, feedback, (cited,), answered=len(state["questions"]), graded=graded)
    return _ask(turn, ctx, state, feedback, (cited,), graded=graded)


def _hand_over(turn: Turn, ctx: IntentContext, text: str) -> Reply | None:
    """When what came as the answer matches no choice and is a request of its own (Lex fills the answer
    slot with whatever is said: "what is Amazon Polly?"), the quiz ends and the intent it asks for answers
    it; None otherwise (the question is asked again)."""
    try:
        result = ctx.services.nlu.parse(text)
    except Exception:  # understanding failed: keep the quiz, ask again
        return None
    other = ctx.intents.get(result.intent)
    if other is None or other.name == SPEC.name or other.spec.small_talk or other.spec.is_fallback:
        return None
    if _an_answer(turn.with_(text=text)) and result.confidence < CLAIM_CONFIDENCE:
        return None
    _end(ctx.conversation)
    asked = turn.with_(text=text, intent=other.name, slots={})
    slots = Slots.of(result.slots)
    if other.fill_slots is not None:
        slots = Slots.of(other.fill_slots(asked, slots.copy(), ctx.conversation))
    missing = next((s for s in other.spec.required_slots if not slots.satisfies(s.name)), None)
    if missing is not None:
        return Reply(text="OK, I stopped the quiz. " + missing.prompt, intent=SPEC.name)
    handled = other.handle(asked, IntentContext(intent=other.name, confidence=result.confidence, slots=slots,
                                                conversation=ctx.conversation, services=ctx.services,
                                                intents=ctx.intents))
    return handled.with_(intent=handled.intent or other.name, text="(I stopped the quiz.)\n" + handled.text)


def _where(q: Question) -> str:
    return f"{q.source}, page {q.page}" if q.page else q.source


def _ask(turn: Turn, ctx: IntentContext, state: dict[str, Any], lead: str, cited: tuple[Citation, ...],
         graded: dict[str, Any] | None = None, course: str | None = None) -> Reply:
    """The reply that shows the current question and waits for its answer."""
    _save(ctx.conversation, state)
    q: Question = state["questions"][state["at"]]
    number, of = state["at"] + 1, len(state["questions"])
    spoken = turn.input_mode == "speech"
    question = _spoken(q.question) if spoken else q.question
    lines = [f"Question {number} of {of}: {question}"]
    lines += [f"{LETTERS[i]}. {c}" for i, c in enumerate(q.choices)]
    if spoken:
        lines.append("Say \"the answer is\" and the letter.")
    text = (lead + "\n\n" if lead else "") + "\n".join(lines)
    details: dict[str, Any] = {"quiz": {"question": q.question, "choices": list(q.choices), "number": number,
                                        "of": of, "id": q.id, "source": q.source, "page": q.page,
                                        "engine": q.engine}}
    if graded:
        details["graded"] = graded
    if course:
        details["course"] = course
    source = Citation(source=q.source, page=q.page, url=q.url)  # no quote: it would give the answer away
    return Reply(text=text, intent=SPEC.name, state="elicit", elicit_slot="answer", citations=(*cited, source),
                 details=details, slots={"answer": None},
                 suggestions=(*(f"{LETTERS[i]}. {c}" for i, c in enumerate(q.choices)), STOP_CHOICE))


def _spoken(question: str) -> str:
    """A question as it is read aloud: without the section lead, the blank said as "blank"."""
    body = re.sub(r"^Fill in the blank(?: \([^)]*\))?:\s*", "", question)
    return "Fill in the blank: " + body.replace("_____", "blank").strip("\u201c\u201d")


def _final(turn: Turn, state: dict[str, Any], lead: str, cited: tuple[Citation, ...], answered: int,
           graded: dict[str, Any] | None = None) -> Reply:
    right = state["right"]
    review = _review(state["missed"])
    score = f"You got {right} of {answered}"
    if review:
        score += f"; review {review}"
    elif answered and right == answered:
        score += " \u2014 well done"
    text = f"{lead}\n\n{score}. Say \"quiz me again\" for a new set."
    details: dict[str, Any] = {"score": {"right": right, "of": answered, "review": state["missed"]}}
    if graded:
        details["graded"] = graded
    return Reply(text=text, intent=SPEC.name, citations=cited, details=details,
                 suggestions=("Quiz me again", "What can you do?"))


def _review(missed: list[dict[str, Any]]) -> str:
    """"page 7" / "pages 2 and 7 of a.pdf" / "page 7 of a.pdf and page 2 of b.pdf": the pages to re-read."""
    by_source: dict[str, list[int]] = {}
    for m in missed:
        source = str(m.get("source") or "")
        page = m.get("page")
        pages = by_source.setdefault(source, [])
        if isinstance(page, int) and page not in pages:
            pages.append(page)
    parts = []
    for source, pages in by_source.items():
        pages.sort()
        if not pages:
            parts.append(source)
            continue
        listed = ", ".join(map(str, pages[:-1])) + (" and " if len(pages) > 1 else "") + str(pages[-1])
        parts.append(f"page{'s' if len(pages) > 1 else ''} {listed}" + (f" of {source}" if source else ""))
    return "; ".join(parts[:4])
