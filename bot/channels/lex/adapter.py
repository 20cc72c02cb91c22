"""Lex V2 adapter, pure: a code-hook event becomes a Turn (``to_turn``), a Reply becomes a Lex
response (``to_lex``, ``delegate``). Lex dict keys appear only in this package.

Every message is 1-1024 characters and there are at most 10; speech input gets one short SSML
message that never reads a URL. No I/O here: tests drive it with the event JSON in tests/fixtures/lex.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Mapping

from bot import keys, shortlinks
from bot.files import PDF_LINK
from bot.turn import Attachment, Media, Reply, Turn

log = logging.getLogger(__name__)

# --- Lex V2 limits (lexv2-runtime model and the Lex developer guide) ------------------------------
MAX_MESSAGE_CHARS = 1024  # each message's content: 1-1024 characters
MAX_MESSAGES = 10  # at most 10 messages per response
MAX_INPUT_CHARS = 1024  # Lex never sends a longer inputTranscript; we do not trust that
CARD_TEXT_CHARS = 250  # ImageResponseCard title, subtitle and imageUrl: 1-250 characters
BUTTON_CHARS = 50  # Button text and value: 1-50 characters
MAX_BUTTONS = 5  # at most 5 buttons per card
MAX_KEY_CHARS = 200  # our conversation key in the session attributes

# Our own clients (the web chat's Lex mode) set this request attribute; the code hook then adds the
# links payload (kinds, citations) to text replies too, so the client renders media and sources.
CLIENT_ATTRIBUTE = "coursebot_client"
WEB_CLIENT = "web"
SOURCES_HEADER = "Sources:"
SUGGESTIONS_TITLE = "You could also ask"

SESSION_KEY = "coursebot_conversation"  # the only session attribute we set: the key, signed (bot.keys)
# An instructor's client sends the instructor token (COURSEBOT_INSTRUCTOR_TOKEN) as this request
# attribute on each request; request attributes last one request, so Lex never keeps the token.
INSTRUCTOR_ATTRIBUTE = "coursebot_instructor"
MAX_LINKED_PDFS = 5
LEX_FALLBACK = "FallbackIntent"  # the name of AMAZON.FallbackIntent in every Lex V2 bot
FALLBACK = "Fallback"

# ==================================================================================================
# event -> Turn
# ==================================================================================================
def to_turn(event: Any, secret: bytes | None = None, instructor_token: str | None = None) -> Turn:
    """The Turn for a Lex V2 code-hook event. Tolerates missing and null fields; never raises.

    The intent comes from Lex (``FallbackIntent`` and names we do not know become ``Fallback``), so
    the router never runs the local NLU for Lex turns. ``secret`` (:func:`bot.keys.secret`) checks
    the conversation key carried in the session attributes; without it the key is ``lex-<sessionId>``.
    The turn is an instructor's when the request attribute ``coursebot_instructor`` is
    ``instructor_token`` (never without a token); ``s3://`` links to PDFs become attachments.
    """
    event = _map(event)
    state = _map(event.get("sessionState"))
    lex_intent = _map(state.get("intent"))
    name = _text(lex_intent.get("name"))
    intent = intent_name(name)
    if name and intent == FALLBACK and name != LEX_FALLBACK:
        log.warning("Lex sent an intent this bot does not know: %r; answering with Fallback", name[:100])
    confidence = _confidence(event.get("interpretations"), name)
    if intent == FALLBACK and name != FALLBACK:
        confidence = 0.0
    session_id = _text(event.get("sessionId"))[:MAX_KEY_CHARS]
    text = _text(event.get("inputTranscript"))[:MAX_INPUT_CHARS]
    return Turn(
        conversation=conversation_key(event, secret),
        text=text,
        user=f"lex:{session_id}" if session_id else "lex:anonymous",
        channel="lex",
        input_mode="speech" if event.get("inputMode") in ("Speech", "DTMF") else "text",
        intent=intent,
        slots=slot_values(lex_intent.get("slots")),
        confidence=confidence,
        course=session_course(event),
        role=role(event, instructor_token),
        attachments=linked_pdfs(text),
    )


def role(event: Any, instructor_token: str | None) -> str:
    """``instructor`` when the request carries the instructor token, else ``student``."""
    from bot.roles import INSTRUCTOR, STUDENT, is_instructor_token

    offered = _map(_map(event).get("requestAttributes")).get(INSTRUCTOR_ATTRIBUTE)
    return INSTRUCTOR if is_instructor_token(offered, instructor_token) else STUDENT


def linked_pdfs(text: str) -> tuple[Attachment, ...]:
    """The PDFs a message names by ``s3://bucket/key.pdf`` link (at most five), read when used."""
    urls = list(dict.fromkeys(PDF_LINK.findall(text or "")))[:MAX_LINKED_PDFS]
    return tuple(Attachment(name=url.rsplit("/", 1)[-1], mime="application/pdf", url=url) for url in urls)


def session_course(event: Any) -> str | None:
    """The ``course`` session attribute when it is a well-formed course name (the handler checks that
    the course exists); ``None`` otherwise."""
    from bot.courses import is_course_name

    value = _map(_map(_map(event).get("sessionState")).get("sessionAttributes")).get("course")
    return value.strip().lower() if isinstance(value, str) and is_course_name(value.strip().lower()) else None


def intent_name(lex_name: str | None) -> str:
    """Our intent for a Lex intent name: the same name when we know it, else ``Fallback``."""
    from intents import registry

    if lex_name and lex_name != LEX_FALLBACK and lex_name in registry():
        return lex_name
    return FALLBACK


def lex_intent_name(name: str) -> str:
    """The Lex intent name for one of ours (``Fallback`` is Lex's built-in ``FallbackIntent``)."""
    return LEX_FALLBACK if name == FALLBACK else name


def conversation_key(event: Any, secret: bytes | None = None) -> str:
    """The conversation key: the one we issued to this sessionId (signed, in the session
    attributes), else ``lex-<sessionId>``. A client sets session attributes freely: a key issued to
    another session, or one it made up, is ignored."""
    event = _map(event)
    attrs = _map(_map(event.get("sessionState")).get("sessionAttributes"))
    session_id = _text(event.get("sessionId"))
    issued = keys.honoured(attrs.get(SESSION_KEY), "lex", session_id, secret)
    return issued if issued is not None and issued.startswith("lex") else keys.lex(session_id)


def session_attributes(key: str, event: Any, secret: bytes | None = None) -> dict[str, str]:
    """The session attributes we send back: the conversation key, signed for this sessionId."""
    session_id = _text(_map(event).get("sessionId"))
    return {SESSION_KEY: keys.issue(key, "lex", session_id, secret) if secret else key}


def _reply_key(reply: Reply | None, event: Any, secret: bytes | None) -> str:
    key = reply.conversation if reply is not None else None
    return key if isinstance(key, str) and keys.is_conversation(key) else conversation_key(event, secret)


def slot_values(slots: Any) -> dict[str, Any]:
    """Slot name -> value (interpreted, else original); lists for List slots; null slots are left out."""
    out: dict[str, Any] = {}
    for name, slot in _map(slots).items():
        value = _slot_value(slot)
        if isinstance(name, str) and value not in (None, "", []):
            out[name] = value
    return out


def _slot_value(slot: Any) -> Any:
    slot = _map(slot)
    if not slot:
        return None
    if slot.get("shape") == "List" or (slot.get("values") and not slot.get("value")):
        values = [_slot_value(s) for s in slot.get("values") or []]
        return [v for v in values if v not in (None, "")] or None
    value = _map(slot.get("value"))
    for key in ("interpretedValue", "originalValue"):
        if isinstance(value.get(key), str) and value[key].strip():
            return value[key].strip()
    resolved = value.get("resolvedValues")
    if isinstance(resolved, list) and resolved and isinstance(resolved[0], str):
        return resolved[0]
    return None


def _confidence(interpretations: Any, name: str) -> float | None:
    """The NLU confidence of ``name``: ``nluConfidence`` is a number in current payloads and
    ``{"score": n}`` in older ones."""
    if not isinstance(interpretations, list) or not name:
        return None
    for item in interpretations:
        item = _map(item)
        if _map(item.get("intent")).get("name") != name:
            continue
        raw = item.get("nluConfidence")
        if isinstance(raw, Mapping):
            raw = raw.get("score")
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                return None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
            return min(max(float(raw), 0.0), 1.0)
        return None
    return None


# ==================================================================================================
# Reply -> Lex response
# ==================================================================================================
def to_lex(reply: Reply, event: Any, *, speech_chars: int = 350, secret: bytes | None = None) -> dict[str, Any]:
    """The Lex V2 response for ``reply`` to ``event``.

    ``state`` picks the dialog action: ``elicit`` -> ElicitSlot (intent InProgress), ``fulfilled``
    -> Close/Fulfilled, ``failed`` -> Close/Failed. Speech input gets one short SSML message that
    never reads a URL; text input gets PlainText plus ImageResponseCards. Every message is 1-1024
    characters and there are at most 10. The session attributes carry the reply's conversation key,
    signed with ``secret`` for this sessionId.
    """
    event = _map(event)
    speech = event.get("inputMode") in ("Speech", "DTMF")
    lex_intent = _map(_map(event.get("sessionState")).get("intent"))
    name = _text(lex_intent.get("name")) or lex_intent_name(reply.intent or FALLBACK)
    elicit = reply.state == "elicit" and bool(reply.elicit_slot)
    intent: dict[str, Any] = {
        "name": name[:100],
        "slots": _response_slots(lex_intent.get("slots")),
        "state": "InProgress" if elicit else ("Fulfilled" if reply.state == "fulfilled" else "Failed"),
    }
    if lex_intent.get("confirmationState") in ("Confirmed", "Denied", "None"):
        intent["confirmationState"] = lex_intent["confirmationState"]
    if elicit:
        action: dict[str, Any] = {"type": "ElicitSlot", "slotToElicit": str(reply.elicit_slot)[:100]}
    else:
        action = {"type": "Close"}
    structured = _map(event.get("requestAttributes")).get(CLIENT_ATTRIBUTE) == WEB_CLIENT
    messages = speech_messages(reply, speech_chars) if speech else text_messages(reply, structured=structured)
    return {
        "sessionState": {
            "dialogAction": action,
            "intent": intent,
            "sessionAttributes": session_attributes(_reply_key(reply, event, secret), event, secret),
        },
        "messages": messages,
    }


def delegate(event: Any, *, secret: bytes | None = None, key: str | None = None) -> dict[str, Any]:
    """Hand the dialog back to Lex unchanged (every required slot is filled); ``key`` is the turn's
    conversation (default: the event's)."""
    event = _map(event)
    lex_intent = _map(_map(event.get("sessionState")).get("intent"))
    intent: dict[str, Any] = {"name": _text(lex_intent.get("name"))[:100] or LEX_FALLBACK,
                              "slots": _response_slots(lex_intent.get("slots"))}
    if lex_intent.get("confirmationState") in ("Confirmed", "Denied", "None"):
        intent["confirmationState"] = lex_intent["confirmationState"]
    return {"sessionState": {"dialogAction": {"type": "Delegate"}, "intent": intent,
                             "sessionAttributes": session_attributes(
                                 key if key and keys.is_conversation(key) else conversation_key(event, secret),
                                 event, secret)}}


def _response_slots(slots: Any) -> dict[str, Any]:
    """The event's slots, cleaned so they validate: null and malformed slots are dropped."""
    out = {}
    for name, slot in _map(slots).items():
        clean = _clean_slot(slot)
        if isinstance(name, str) and name and clean is not None:
            out[name] = clean
    return out


def _clean_slot(slot: Any) -> dict[str, Any] | None:
    slot = _map(slot)
    values = slot.get("values")
    if isinstance(values, list) and values:
        cleaned = [c for c in (_clean_slot(v) for v in values) if c is not None]
        return {"shape": "List", "values": cleaned} if cleaned else None
    value = _map(slot.get("value"))
    interpreted = value.get("interpretedValue")
    if not isinstance(interpreted, str) or not interpreted:
        return None
    out_value: dict[str, Any] = {"interpretedValue": interpreted}
    if isinstance(value.get("originalValue"), str) and value["originalValue"]:
        out_value["originalValue"] = value["originalValue"]
    resolved = value.get("resolvedValues")
    if isinstance(resolved, list):
        out_value["resolvedValues"] = [r for r in resolved if isinstance(r, str)]
    out: dict[str, Any] = {"value": out_value}
    if slot.get("shape") in ("Scalar", "List", "Composite"):
        out["shape"] = slot["shape"]
    return out


# --- text input: PlainText + ImageResponseCards ---------------------------------------------------
def text_messages(reply: Reply, *, structured: bool = False) -> list[dict[str, Any]]:
    """PlainText answer chunks, a sources message, media links and cards, and a suggestions card;
    ``structured`` (our own clients) adds the links payload that says which link is which."""
    extras = _extras(reply, structured)
    has_link = any(m.url and len(m.url) <= MAX_MESSAGE_CHARS - 100 for m in reply.attachments if m.kind == "file")
    chunks = split_text(_clean_text(reply.text) or "(no answer)", MAX_MESSAGE_CHARS, MAX_MESSAGES - len(extras),
                        overflow=(" [The answer is longer than this chat allows; the full text is in the link below.]"
                                  if has_link else " [The answer is longer than this chat allows; ask a narrower question to see more.]"))
    return [_plain(c) for c in chunks] + extras


def _extras(reply: Reply, structured: bool = False) -> list[dict[str, Any]]:
    extras: list[dict[str, Any]] = []
    sources = _sources_text(reply)
    if sources:
        extras.append(_plain(sources))
    for media in reply.attachments:
        extras.extend(_media_messages(media))
    payload = _links_payload(link_entries(reply))[0] if structured else None
    if payload:
        extras.append({"contentType": "CustomPayload", "content": payload})
    rating = _rating_card(reply)
    if rating:
        extras.append(rating)
    card = _suggestions_card(reply.suggestions, answers=reply.state == "elicit")
    if card:
        extras.append(card)
    return extras[:MAX_MESSAGES - 1]  # the answer itself always gets at least one message


_OVERFLOW_MARK = "\x00more"


def text_fits(reply: Reply) -> bool:
    """Whether the whole answer fits in the messages Lex allows next to its sources, media and cards."""
    budget = MAX_MESSAGES - len(_extras(reply)) - 1  # keep room for a link to the full text
    parts = split_text(_clean_text(reply.text) or "-", MAX_MESSAGE_CHARS, max(budget, 1), overflow=_OVERFLOW_MARK)
    return not parts[-1].endswith(_OVERFLOW_MARK)


def _plain(text: str) -> dict[str, Any]:
    return {"contentType": "PlainText", "content": _fit(text, MAX_MESSAGE_CHARS)}


def _sources_text(reply: Reply) -> str | None:
    if not reply.citations:
        return None
    lines = [SOURCES_HEADER]
    for i, c in enumerate(reply.citations, 1):
        where = c.source + (f", page {c.page}" if c.page else "")
        line = f"[{i}] {where}"
        if c.url and not shortlinks.is_signed(c.url) and len(line) + len(c.url) + 3 <= MAX_MESSAGE_CHARS // 2:
            line += f" {c.url}"
        if sum(len(x) + 1 for x in lines) + len(line) > MAX_MESSAGE_CHARS:
            break
        lines.append(line)
    return "\n".join(lines)


_MEDIA_LABEL = {"audio": "Audio", "image": "Image", "file": "File"}


def _media_messages(media: Media) -> list[dict[str, Any]]:
    """A link message for the media (when its URL fits in a message) and, for images whose URL
    fits a card's 250 characters, an ImageResponseCard showing it."""
    label = media.title or _MEDIA_LABEL.get(media.kind, "File")
    url = media.url or ""
    out: list[dict[str, Any]] = []
    if url and not shortlinks.is_signed(url) and len(label) + 2 + len(url) <= MAX_MESSAGE_CHARS:
        out.append(_plain(f"{label}: {url}"))
    elif url:  # only when no short link could be made (see poststeps.short_links)
        out.append(_plain(f"{label} is ready, but its link is longer than this chat allows "
                          f"({MAX_MESSAGE_CHARS} characters). Ask me in Slack or the web chat to get it."))
    if media.kind == "image" and url and len(url) <= CARD_TEXT_CHARS:
        out.append({"contentType": "ImageResponseCard",
                    "imageResponseCard": {"title": _fit(label, CARD_TEXT_CHARS), "imageUrl": url}})
    return out


# A click sends the value as the user's message; both are sample utterances of the intent that rates answers.
RATING_BUTTONS = (("Helpful", "helpful"), ("Not helpful", "not helpful"))


def _rating_card(reply: Reply) -> dict[str, Any] | None:
    """Helpful / Not helpful under an answer of an intent whose spec invites a rating."""
    from intents import registry

    intent = registry().get(reply.intent or "")
    if intent is None or not intent.spec.invites_rating or reply.state != "fulfilled" or reply.error:
        return None
    return {"contentType": "ImageResponseCard",
            "imageResponseCard": {"title": "Was this answer helpful?",
                                  "buttons": [{"text": t, "value": v} for t, v in RATING_BUTTONS]}}


def _suggestions_card(suggestions: tuple[str, ...], answers: bool = False) -> dict[str, Any] | None:
    """Suggestions as buttons; ``answers``: they answer the prompt (a quiz's choices, "which course?"), so a
    long one is shortened to fit rather than left out (its start, "B. ...", still says which it is)."""
    buttons = []
    for s in suggestions:
        s = " ".join(str(s).split())
        if answers and len(s) > BUTTON_CHARS:
            s = _fit(s, BUTTON_CHARS)
        if 0 < len(s) <= BUTTON_CHARS and s not in [b["value"] for b in buttons]:
            buttons.append({"text": s, "value": s})
        if len(buttons) == MAX_BUTTONS:
            break
    if not buttons:
        return None
    title = "Your answer" if answers else SUGGESTIONS_TITLE
    return {"contentType": "ImageResponseCard", "imageResponseCard": {"title": title, "buttons": buttons}}


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS, max_parts: int = MAX_MESSAGES, overflow: str = " [...]") -> list[str]:
    """Split ``text`` into at most ``max_parts`` pieces of 1..``limit`` characters, at paragraph,
    sentence or word boundaries; text that does not fit ends the last piece with ``overflow``."""
    text = text.strip()
    parts: list[str] = []
    while text:
        if len(parts) == max_parts - 1 and len(text) > limit:
            keep = limit - len(overflow)
            parts.append(_cut(text, keep).rstrip() + overflow)
            break
        if len(text) <= limit:
            parts.append(text)
            break
        piece = _cut(text, limit)
        parts.append(piece.rstrip())
        text = text[len(piece):].lstrip()
    return [p for p in parts if p] or ["(no answer)"]


def _cut(text: str, limit: int) -> str:
    """The longest head of ``text`` up to ``limit`` characters that ends at a natural boundary."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    for sep in ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " "):
        at = window.rfind(sep)
        if at >= limit // 2:
            return window[:at + len(sep)]
    return window


# --- speech input: one short SSML message ---------------------------------------------------------
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io)(?:/\S*)?\b", re.I)
_MARKDOWN = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*•]\s+|\[\d+\])", re.M)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def speech_messages(reply: Reply, max_chars: int = 350) -> list[dict[str, Any]]:
    """One SSML message with a short spoken answer; links are never read ("I've sent you the link"),
    and the links that fit go in a CustomPayload message, which Lex does not speak."""
    links = link_entries(reply)
    payload, sent = _links_payload(links)
    if links or _URL.search(reply.text or ""):
        tail = " I've sent you the link." if sent else " The link is in the text version of this chat."
    elif _usable_ssml(reply.ssml, max_chars):
        tail = None  # the handler's own SSML (e.g. with a language tag), short and without links
    else:
        tail = ""
    if tail is None:
        ssml = str(reply.ssml).strip()
    else:
        spoken = _short(_speakable(reply.text), max_chars)
        spoken = spoken or ("Done." if reply.state == "fulfilled" else "Sorry, I couldn't do that.")
        ssml = f"<speak>{_xml(spoken)}{_xml(tail)}</speak>"
    messages = [{"contentType": "SSML", "content": _fit_ssml(ssml)}]
    if payload:
        messages.append({"contentType": "CustomPayload", "content": payload})
    return messages


def _usable_ssml(ssml: str | None, max_chars: int) -> bool:
    """A handler's SSML is spoken as is only when it is one short <speak> element with no link."""
    s = (ssml or "").strip()
    return bool(s.startswith("<speak>") and s.endswith("</speak>") and s.count("<speak>") == 1
                and len(re.sub(r"<[^>]*>", "", s)) <= max_chars and len(s) <= MAX_MESSAGE_CHARS
                and not _URL.search(s))


def _speakable(text: str | None) -> str:
    text = _URL.sub("", text or "")
    text = _MARKDOWN.sub("", text)
    text = re.sub(r"\(\s*\)|<\s*>|\[\s*\]", "", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))


def _short(text: str, max_chars: int) -> str:
    """The first sentences of ``text`` up to ``max_chars`` (at least part of the first sentence)."""
    if len(text) <= max_chars:
        return text
    out = ""
    for sentence in _SENTENCE.split(text):
        if len(out) + len(sentence) + 1 > max_chars:
            break
        out = f"{out} {sentence}".strip()
    return out or _cut(text, max_chars).rstrip(" ,;:") + "..."


def link_entries(reply: Reply) -> list[dict[str, Any]]:
    """The reply's links for the CustomPayload: ``title`` and ``url``, with ``kind`` (audio, image,
    file or citation) and ``mime`` for media, ``source`` and ``page`` for citations."""
    links: list[dict[str, Any]] = [
        {"title": (m.title or _MEDIA_LABEL.get(m.kind, "File"))[:100], "url": m.url, "kind": m.kind, "mime": m.mime[:100]}
        for m in reply.attachments if m.url]
    links += [{"title": (c.source + (f", page {c.page}" if c.page else ""))[:100], "url": c.url, "kind": "citation",
               "source": c.source[:100], "page": c.page} for c in reply.citations if c.url]
    return links


def _links_payload(links: list[dict[str, Any]]) -> tuple[str | None, bool]:
    """A JSON ``{"links": [...]}`` CustomPayload with the links that fit in 1024 characters."""
    kept: list[dict[str, Any]] = []
    for link in links:
        candidate = kept + [link]
        if link.get("url") and len(json.dumps({"links": candidate})) <= MAX_MESSAGE_CHARS:
            kept = candidate
    if not kept:
        return None, False
    return json.dumps({"links": kept}), True


def _xml(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _fit_ssml(ssml: str) -> str:
    if len(ssml) <= MAX_MESSAGE_CHARS:
        return ssml
    return "<speak>Sorry, that answer is too long to read aloud. Please ask in the text chat.</speak>"


# --- small helpers ----------------------------------------------------------------------------------
def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _clean_text(text: str | None) -> str:
    return (text or "").replace("\x00", "").strip()


def _fit(text: str, limit: int) -> str:
    text = text.strip() or "-"
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."
