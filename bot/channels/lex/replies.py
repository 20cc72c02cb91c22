"""Lex V2 runtime answers -> Reply, pure: the inverse of ``adapter.to_lex`` for clients of the bot
(the web chat's Lex mode), so a Lex answer renders exactly like a local one.

Reads what our code hook sends (PlainText chunks, the "Sources:" message, "title: url" media lines,
ImageResponseCards, the ``{"links": [...]}`` CustomPayload, SSML for speech) and what Lex says on
its own (plain prompts, cards). Nothing here trusts a URL that is not http(s).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Mapping

from bot.channels.lex.adapter import (
    FALLBACK,
    RATING_BUTTONS,
    SOURCES_HEADER,
    _confidence,
    _map,
    _text,
    intent_name,
    slot_values,
)
from bot.turn import Citation, Media, Reply

_SOURCE_LINE = re.compile(r"^\[\d+\] (?P<where>.+?)(?: (?P<url>https?://\S+))?$")
_PAGE = re.compile(r"^(?P<source>.+), page (?P<page>\d{1,6})$")
_MEDIA_LINE = re.compile(r"^(?P<title>[^\n]{1,200}): (?P<url>https?://\S+)$")
_KINDS = ("audio", "image", "file")
_RATING_VALUES = {v for _, v in RATING_BUTTONS}


def from_runtime(messages: Any, session_state: Any, interpretations: Any = None, *,
                 conversation: str | None = None) -> Reply:
    """The Reply for one RecognizeText / RecognizeUtterance answer (already decoded).

    Args:
        messages: Lex's ``messages`` list.
        session_state: Lex's ``sessionState`` (intent, dialog action).
        interpretations: Lex's ``interpretations`` (the intent's confidence).
        conversation: the conversation key to put in the Reply.
    """
    state = _map(session_state)
    lex_intent = _map(state.get("intent"))
    name = _text(lex_intent.get("name"))
    action = _map(state.get("dialogAction"))
    messages = [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []

    links = _payload_links(messages)
    media_urls = {link["url"] for link in links if link.get("kind") in _KINDS}
    card_images = {_text(_map(m.get("imageResponseCard")).get("imageUrl")) for m in messages
                   if m.get("contentType") == "ImageResponseCard"} - {""}

    texts: list[str] = []
    citations: list[Citation] = []
    media: list[Media] = []
    suggestions: list[str] = []
    for message in messages:
        kind = message.get("contentType")
        content = _text(message.get("content")).strip()
        if kind == "PlainText" and content:
            if content.startswith(SOURCES_HEADER + "\n"):
                citations.extend(_sources(content))
                continue
            line = _MEDIA_LINE.match(content)
            if line and (line["url"] in media_urls or line["url"] in card_images or not links):
                if line["url"] not in media_urls:  # no payload says what it is: an image when a card shows it
                    media.append(Media(kind="image" if line["url"] in card_images else "file",
                                       mime="application/octet-stream", url=line["url"], title=line["title"]))
                continue
            texts.append(content)
        elif kind == "SSML" and content:
            texts.append(_ssml_text(content))
        elif kind == "ImageResponseCard":
            card = _map(message.get("imageResponseCard"))
            for button in card.get("buttons") or []:
                value = _text(_map(button).get("value")).strip() or _text(_map(button).get("text")).strip()
                if value and value not in suggestions:
                    suggestions.append(value)
            url = _text(card.get("imageUrl"))
            if url and url not in media_urls and not any(m.url == url for m in media) and _http(url):
                media.append(Media(kind="image", mime="application/octet-stream", url=url,
                                   title=_text(card.get("title")) or None))
    for link in links:
        if link.get("kind") in _KINDS:
            media.append(Media(kind=link["kind"], mime=_text(link.get("mime")) or "application/octet-stream",
                               url=link["url"], title=_text(link.get("title"))[:200] or None))
        elif link.get("kind") == "citation":
            citations.append(Citation(source=_text(link.get("source")) or _text(link.get("title")) or "source",
                                      page=link.get("page") if isinstance(link.get("page"), int) else None,
                                      url=link["url"]))
    rating = bool(_RATING_VALUES & set(suggestions))
    if action.get("type") == "ElicitSlot":
        dialog, slot = "elicit", _text(action.get("slotToElicit")) or None
    elif lex_intent.get("state") == "Failed":
        dialog, slot = "failed", None
    else:
        dialog, slot = "fulfilled", None
    intent = intent_name(name)
    confidence = _confidence(interpretations, name)
    return Reply(
        text="\n\n".join(texts) or "(no answer)",
        intent=intent,
        confidence=0.0 if confidence is None or (intent == FALLBACK and name != FALLBACK) else confidence,
        citations=tuple(_merge_citations(citations)),
        attachments=tuple(media),
        suggestions=tuple(s for s in suggestions if s not in _RATING_VALUES) + (
            tuple(v for _, v in RATING_BUTTONS) if rating else ()),
        slots=slot_values(lex_intent.get("slots")),
        state=dialog,
        elicit_slot=slot,
        conversation=conversation,
    )


def _payload_links(messages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The http(s) links of our ``{"links": [...]}`` CustomPayload messages (others are ignored)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.get("contentType") != "CustomPayload":
            continue
        try:
            payload = json.loads(_text(message.get("content")))
        except ValueError:
            continue
        for link in _map(payload).get("links") or []:
            link = _map(link)
            if _http(_text(link.get("url"))):
                kind = link.get("kind") if link.get("kind") in (*_KINDS, "citation") else "file"
                out.append({**link, "kind": kind})
    return out


def _sources(content: str) -> list[Citation]:
    """Citations from the "Sources:" message: ``[1] name.pdf, page 3 https://...`` lines."""
    out = []
    for line in content.splitlines()[1:]:
        m = _SOURCE_LINE.match(line.strip())
        if not m:
            continue
        where = _PAGE.match(m["where"])
        out.append(Citation(source=where["source"] if where else m["where"],
                            page=int(where["page"]) if where else None, url=m["url"]))
    return out


def _merge_citations(citations: list[Citation]) -> list[Citation]:
    """One citation per (source, page), keeping the first URL any copy had."""
    merged: dict[tuple[str, int | None], Citation] = {}
    for c in citations:
        key = (c.source, c.page)
        if key not in merged:
            merged[key] = c
        elif not merged[key].url and c.url:
            merged[key] = Citation(source=c.source, page=c.page, url=c.url)
    return list(merged.values())


def _ssml_text(ssml: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", ssml)).strip()


def _http(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 2048
