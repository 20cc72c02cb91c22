"""SummarizeText: a summary plus key phrases, entities, sentiment and language of a text."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from bot import textinput, textutil
from bot.capabilities import TextInsights
from bot.conversation import MAX_ANSWER_CHARS, Conversation
from bot.errors import CoursebotError, InputError, student_sentence
from bot.nlu import POLITE, is_reference, mentions_previous, normalize, strip_trailing
from bot.specs import IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Reply, Turn

_TRIGGER = re.compile(rf"^{POLITE}(?:summari[sz]e|tl;?dr|sum up|condense|shorten|recap)\b\s*(?:(?:this|the following|for me|text|please)\b\s*)*", re.I)


def extract(text: str, instruction: str, payload: str | None) -> Slots:
    """"summarize: <text>" -> the text; "summarize that" -> the previous answer (flagged)."""
    if payload:
        return Slots({"text": payload}, explicit_payload=True)
    slots = Slots()
    m = _TRIGGER.match(instruction.strip())
    if m:
        rest = strip_trailing(instruction.strip()[m.end():])
        if is_reference(rest):
            slots.refers_to_previous = True
        elif len(rest) > 40:
            slots["text"] = rest
            slots.explicit_payload = True
    elif len(text) > 300 and not text.rstrip().endswith("?"):  # a pasted text with no instruction
        return Slots({"text": text.strip()}, explicit_payload=True)
    if "text" not in slots and len(instruction.split()) <= 8 and mentions_previous(normalize(instruction)):
        slots.refers_to_previous = True
    return slots


def _pasted_text(turn: Turn) -> bool:
    """A plausible answer to "What should I summarize?": a file, or a text of a few sentences."""
    text = (turn.text or "").strip()
    if any(a.kind in ("text", "pdf") for a in turn.attachments):
        return True
    return len(text) >= 200 or (len(text) >= 60 and len(re.findall(r"[.!?](\s|$)", text)) >= 2
                                 and not text.endswith("?"))


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
                 required=True, description="The text to analyze.", accepts=_pasted_text),
    ),
    keywords=("summarize", "summarise", "summary", "summarization", "tldr", "tl;dr", "gist", "sum up", "recap",
              "condense", "shorten", "key phrases", "key points", "takeaways", "sentiment", "entities", "tone",
              "resumen", "resumir", "resume", "résumé", "résume", "résumer", "zusammenfassung", "zusammenfassen",
              "fasse", "resumo", "resumir", "resuma", "riassumi", "riassunto"),
    lead_verbs=("summarize", "summarise", "summarize:", "tldr", "condense", "shorten", "recap", "resume", "resumir",
                "résume", "résumer", "resuma", "zusammenfassen", "fasse"),
    help=("\"Summarize: <text>\" (or attach a .txt/.pdf and say \"summarize this\") gives a summary, key phrases, "
          "entities, sentiment and language."),
    extract=extract,
)

MAX_SUMMARY_CHARS = 1500  # a summary longer than this is not a summary
_LAST_SUMMARY = "last_summary"  # conversation.extra: the summary part of the last SummarizeText answer
_REFERS_TO_ANSWER = ("that", "it", "this answer", "that answer", "the answer", "your answer", "your last answer",
                     "the last answer", "the previous answer", "what you said", "your reply")


def fill_slots(turn: Turn, slots: Slots, conversation: Conversation) -> Slots:
    slots = Slots.of(slots)
    if slots.get("text"):
        return slots
    if any(a.kind in ("text", "pdf") for a in turn.attachments):
        return slots.with_({"text": None}, from_attachment=True)
    if slots.refers_to_previous and conversation.last_answer:
        return slots.with_({"text": _previous_answer(conversation)}, previous_answer=True)
    return slots


def _previous_answer(conversation: Conversation) -> str:
    """The text "that" refers to: the previous answer, or only its summary when it was a summary
    (not the "Summary:" / "Key phrases:" / "Note:" lines around it)."""
    summary = conversation.extra.get(_LAST_SUMMARY)
    if conversation.last_intent == SPEC.name and isinstance(summary, str) and summary.strip():
        return summary
    return conversation.last_answer or ""


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    settings = ctx.settings
    source = _input(turn, ctx)
    if not source.text:
        raise InputError("There is no text to summarize: the message has no readable characters. "
                         "Paste the text, or attach a .txt, .md or .pdf file.", code="empty_text")
    # an answer's citation markers ("[1]") and emphasis are not words of the text: "1" is no quantity
    text = textutil.without_markers(source.text)
    if not text:
        raise InputError("There is no text to summarize: the message has no readable characters. "
                         "Paste the text, or attach a .txt, .md or .pdf file.", code="empty_text")
    notes: list[str] = []
    if source.truncated:
        notes.append(f"The {source.source} has {source.total_chars:,} characters; I analyzed only the first "
                     f"{len(text):,} (the limit is {settings.summary_max_chars:,} per request).")

    errors: list[CoursebotError] = []
    n_sentences = len(textutil.sentences(text))
    summary: str | None = None
    if n_sentences <= settings.summary_sentences and len(text) <= MAX_SUMMARY_CHARS:
        summary = text
        notes.append("The text is already short, so the summary is the text itself.")
    else:
        try:
            summary = ctx.services.summarizer.summarize(text, max_sentences=settings.summary_sentences)
        except CoursebotError as e:
            errors.append(e)
            notes.append(f"No summary: {student_sentence(e, 'SummarizeText')}")
    insights: TextInsights | None = None
    try:
        insights = ctx.services.text.analyze(text)
        notes.extend(insights.notes)
    except CoursebotError as e:
        errors.append(e)
        notes.append(f"No text analysis: {student_sentence(e, 'SummarizeText')}")
    if summary is None and insights is None:
        raise errors[0]
    if insights is not None:
        insights = dataclasses.replace(insights, entities=plausible_entities(insights.entities, text))
    if summary and len(summary) > MAX_SUMMARY_CHARS:  # sentences that never end (a log, a table, junk)
        summary = textutil.cut(summary, MAX_SUMMARY_CHARS)[0] + " …"
        notes.append(f"The text has very long sentences, so the summary is cut to {MAX_SUMMARY_CHARS:,} characters.")
    if summary:
        ctx.conversation.extra[_LAST_SUMMARY] = summary[:MAX_ANSWER_CHARS]
    else:
        ctx.conversation.extra.pop(_LAST_SUMMARY, None)
    return Reply(text=_render(summary, insights, notes), intent=SPEC.name,
                 details=_details(summary, insights, notes, source))


def _input(turn: Turn, ctx: IntentContext) -> textinput.InputText:
    settings = ctx.settings
    slots = ctx.slots
    text = slots.get("text")
    previous = getattr(slots, "refers_to_previous", False) and text == _previous_answer(ctx.conversation)
    source = textinput.message_or_attachment(text, "previous answer" if previous else "text", turn.attachments,
                                             max_chars=settings.summary_max_chars,
                                             max_bytes=settings.max_attachment_bytes)
    if source is not None:
        return source
    raise InputError("What text should I summarize? Paste it, or attach a .txt, .md or .pdf file.",
                     code="empty_text")


def _render(summary: str | None, insights: TextInsights | None, notes: list[str]) -> str:
    lines = []
    if summary:
        lines.append("Summary: " + _one_line(summary))
    if insights is not None:
        phrases = [p for p in insights.key_phrases if len(p) <= 80]  # a "phrase" of 20,000 letters is junk
        if phrases:
            lines.append("Key phrases: " + "; ".join(phrases))
        if insights.entities:
            lines.append("Entities: " + "; ".join(f"{e['text']} ({e['type'].lower()})" for e in insights.entities))
        if insights.sentiment:
            lines.append(f"Sentiment: {sentiment_words(insights.sentiment, insights.sentiment_scores)}")
        if insights.language:
            conf = f", {insights.language_score:.0%}" if insights.language_score is not None else ""
            lines.append(f"Language: {textutil.language_name(insights.language)} ({insights.language}{conf})")
    lines.extend(f"Note: {n}" for n in notes)
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """The text on one line, however it was wrapped; a heading (a short line without end punctuation
    before a line that starts a sentence) is set off by a dash rather than run into that sentence."""
    lines = [" ".join(x.split()) for x in text.splitlines()]
    lines = [x for x in lines if x]
    out = ""
    for i, line in enumerate(lines):
        if out:
            heading = (len(lines[i - 1].split()) <= 6 and lines[i - 1][-1] not in ".!?:;,…)]\"'”’"
                       and line[:1].isupper())
            out += " — " if heading else " "
        out += line
    return out


def _details(summary: str | None, insights: TextInsights | None, notes: list[str],
             source: textinput.InputText) -> dict[str, Any]:
    i = insights or TextInsights()
    return {
        "summary": summary,
        "key_phrases": list(i.key_phrases),
        "entities": [dict(e) for e in i.entities],
        "sentiment": i.sentiment,
        "sentiment_scores": dict(i.sentiment_scores),
        "language": i.language,
        "language_score": i.language_score,
        "notes": notes,
        "source": source.source,
        "chars_analyzed": len(source.text),
        "chars_total": source.total_chars,
        "truncated": source.truncated,
    }


# --- what the analysis found, said plainly ---------------------------------------------------------------
MIN_ENTITY_SCORE = 0.8  # Comprehend's confidence; below it an entity is more often wrong than right
_NUMERIC_TYPES = ("QUANTITY", "DATE")
_FILE_NAME = re.compile(r"\S+\.(?:pdf|txt|md|csv|docx?|png|jpe?g|gif|webp|ogg|mp3|wav)", re.I)


def plausible_entities(entities: Any, text: str) -> tuple[dict[str, Any], ...]:
    """The entities worth showing: not below ``MIN_ENTITY_SCORE``, not a bare number or a number word
    tagged QUANTITY, not a file name, and not a single word whose capital letter says nothing (it is
    capitalized only where any word would be: at the start of a sentence, line, heading or list item)."""
    out = []
    for e in entities:
        name = str(e.get("text") or "").strip()
        etype = str(e.get("type") or "OTHER").upper()
        score = e.get("score")
        if not name or (isinstance(score, (int, float)) and score < MIN_ENTITY_SCORE):
            continue
        if (etype != "DATE" and not re.search(r"[^\W\d_]", name)) or _FILE_NAME.fullmatch(name):
            continue  # "12", "3.5", "10-amazon-s3.pdf" (a year such as "1994" is a date)
        if etype == "QUANTITY" and not re.search(r"\d", name):
            continue  # "one", "first": a counting word, not a quantity of anything
        if etype not in _NUMERIC_TYPES and " " not in name and not _named_somewhere(name, text):
            continue
        out.append(dict(e))
    return tuple(out)


def _named_somewhere(word: str, text: str) -> bool:
    """Whether the text writes ``word`` as a name: an acronym or inner capital ("AWS", "SageMaker"), a
    non-Latin script, or a capital in the middle of a sentence ("built with Docker")."""
    if sum(c.isupper() for c in word) > 1 or not word[:1].isupper():
        return True
    for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text):
        if re.search(r"[a-z0-9,]\s+$", text[max(0, m.start() - 3):m.start()]):
            return True
    return False


def sentiment_words(label: str, scores: dict[str, float]) -> str:
    """The tone in words ("mostly neutral, slightly positive"), from the engine's label and scores.

    Comprehend's scores are probabilities of each label, VADER's (offline) the share of positive,
    negative and neutral words: in both, a neutral score larger than the winning one means the text
    is mostly neutral and only leans that way.
    """
    label = (label or "NEUTRAL").upper()
    pos, neg, neu = (float(scores.get(k) or 0.0) for k in ("Positive", "Negative", "Neutral"))
    if label == "MIXED":
        return "mixed: partly positive, partly negative"
    if label in ("POSITIVE", "NEGATIVE"):
        share = pos if label == "POSITIVE" else neg
        if neu > share:
            return f"mostly neutral, {'slightly' if share < 0.2 else 'somewhat'} {label.lower()}"
        return label.lower() if share < 0.8 else f"clearly {label.lower()}"
    lean = pos - neg
    if abs(lean) >= 0.05:
        return f"mostly neutral, slightly {'positive' if lean > 0 else 'negative'}"
    return "neutral"
