"""Block Kit for Slack: a Reply, its sources or a failure note as (notification text, blocks), escaped and within Slack's limits."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlparse

from bot.turn import Reply

ACTION_READ_ALOUD = "coursebot_read_aloud"
ACTION_SOURCES = "coursebot_show_sources"
ACTION_SUGGEST = "coursebot_suggest"  # followed by the button's index: action_ids are unique per block

# Block Kit limits: section text 3000 chars, 50 blocks per message, 10 context elements, 25 buttons
# per actions block, button text 75 chars, button value 2000 chars.
SECTION_CHARS = 3000
MAX_BLOCKS = 50
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
MAX_SUGGESTIONS = 5

_NO_READ_ALOUD = ("SpeakAnswer", "Greeting", "Help", "Fallback")  # small talk and audio itself

Blocks = tuple[str, list[dict[str, Any]]]  # (notification text, Block Kit blocks)


def _bold(text: str) -> str:
    """Markdown ``**bold**`` (the sentence of a passage that answers) as Slack mrkdwn ``*bold*``."""
    return re.sub(r"\*\*([^*\n]+?)\*\*", r"*\1*", text)


def escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control (``&``, ``<``, ``>``), so user text
    can never become a link, a mention or ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_failure(reply: Reply) -> bool:
    return reply.state == "failed"


def _chunks(text: str, size: int) -> list[str]:
    """Split at paragraph or line ends where possible, never exceeding ``size``."""
    out = []
    while len(text) > size:
        cut = max(text.rfind("\n\n", 0, size), text.rfind("\n", 0, size))
        if cut < size // 2:
            cut = text.rfind(" ", 0, size)
        if cut < size // 2:
            cut = size
        amp = text.rfind("&", max(0, cut - 5), cut)  # never split an escaped entity such as &amp;
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        out.append(text)
    return out


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for ``<url|label>``: characters that would end the link are percent-encoded."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")


def link(url: str | None, label: str) -> str:
    """``<url|label>`` with the label escaped, or the bare label when the URL is not a safe http(s) one."""
    safe = safe_url(url)
    label = escape(label).replace("|", "¦")
    return f"<{safe}|{label}>" if safe else label


def _citation_label(i: int, source: str, page: int | None) -> str:
    return f"[{i}] {source}" + (f", p. {page}" if page else "")


def _button(text: str, action_id: str, value: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text[:BUTTON_TEXT], "emoji": True},
                         "action_id": action_id, "value": _fit_value(value)}
    if style:
        b["style"] = style
    return b


def _fit_value(value: dict[str, Any]) -> str:
    """JSON for a button value, shortening its long strings until it fits Slack's 2000 chars."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(raw) <= BUTTON_VALUE:
        return raw
    v = dict(value)
    if isinstance(v.get("t"), str):
        over = len(raw) - BUTTON_VALUE
        v["t"] = v["t"][: max(0, len(v["t"]) - over - 1)] + "…"
    if isinstance(v.get("s"), list):
        v["s"] = [[s[0], s[1], s[2], (s[3] or "")[:200]] for s in v["s"]]
        while len(json.dumps(v, ensure_ascii=False, separators=(",", ":"))) > BUTTON_VALUE and len(v["s"]) > 1:
            v["s"] = v["s"][:-1]
    raw = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return raw[:BUTTON_VALUE]


def reply_blocks(reply: Reply, conversation: str, buttons: bool = True) -> Blocks:
    """A Reply as (notification text, Block Kit blocks).

    The answer is mrkdwn-escaped; citations become context blocks with links; "Read aloud", "Show
    sources" and the suggestions become buttons. Media (audio, images) are not in the blocks: they
    are uploaded into the thread (:func:`bot.channels.slack.files.upload`), which outlives an
    expiring link.
    """
    text = reply.text.strip() or "(no answer)"
    blocks: list[dict[str, Any]] = []
    for part in _chunks(_bold(escape(text)), SECTION_CHARS):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    if reply.citations:
        elements = [{"type": "mrkdwn", "text": "*Sources:*"}]
        for i, c in enumerate(reply.citations, 1):
            elements.append({"type": "mrkdwn", "text": link(c.url, _citation_label(i, c.source, c.page))})
        for start in range(0, len(elements), CONTEXT_ELEMENTS):
            blocks.append({"type": "context", "elements": elements[start:start + CONTEXT_ELEMENTS]})
    if buttons and not is_failure(reply):
        actions = []
        if reply.intent not in _NO_READ_ALOUD and reply.state == "fulfilled" and reply.error is None and len(text) > 1:
            actions.append(_button("Read aloud", ACTION_READ_ALOUD, {"c": conversation, "t": text}))
        if reply.citations:
            actions.append(_button("Show sources", ACTION_SOURCES, {
                "c": conversation, "s": [[c.source, c.page, c.url, c.quote] for c in reply.citations]}))
        for i, s in enumerate(reply.suggestions[:MAX_SUGGESTIONS]):
            if s.strip():
                actions.append(_button(s, f"{ACTION_SUGGEST}_{i}", {"c": conversation, "t": s}))
        if actions:
            blocks.append({"type": "actions", "block_id": "coursebot_actions", "elements": actions})
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[:MAX_BLOCKS - 1] + [{"type": "context", "elements": [
            {"type": "mrkdwn", "text": "_(answer shortened to fit in one Slack message)_"}]}]
    fallback = escape(text)
    if len(fallback) > SECTION_CHARS:
        fallback = _chunks(fallback, SECTION_CHARS - 1)[0] + "…"
    return fallback, blocks


def sources_blocks(sources: list[list[Any]]) -> Blocks:
    """The "Show sources" answer: each citation with its link and the quoted passage."""
    blocks: list[dict[str, Any]] = []
    for i, s in enumerate(sources[:20], 1):
        source, page, url, quote_ = (list(s) + [None] * 4)[:4]
        line = "*" + link(url, _citation_label(i, str(source), page if isinstance(page, int) else None)) + "*"
        if quote_:
            line += "\n>" + escape(str(quote_))[:SECTION_CHARS - len(line) - 4].replace("\n", "\n>")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:SECTION_CHARS]}})
    if not blocks:
        return "This answer has no sources.", [{"type": "section", "text": {"type": "mrkdwn", "text": "This answer has no sources."}}]
    return f"{len(blocks)} source(s)", blocks


def failure_blocks(message: str) -> Blocks:
    return escape(message), [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: " + escape(message)[:SECTION_CHARS - 12]}}]


def upload_failure_blocks(title: str, url: str | None) -> Blocks:
    """The note when a generated file could not be uploaded: a link to it instead, when it has a safe one."""
    more = f" Here is a link instead: {link(url, title)}" if safe_url(url) else ""
    text = escape(f"I made '{title}' but couldn't upload it to Slack here.") + more
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: " + text}}]
