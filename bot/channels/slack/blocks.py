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
MAX_QUOTES = 5  # citations shown with their evidence sentence; the rest are links in a context line
QUOTE_CHARS = 400
HOME_BLOCKS = 100  # a Home tab view holds up to 100 blocks
HEADER_CHARS = 150
PLACEHOLDER_BLOCK = "coursebot_placeholder"  # marks the first post (and its progress) until the answer replaces it

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


def button(text: str, action_id: str, value: dict[str, Any], style: str | None = None) -> dict[str, Any]:
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


def reply_blocks(reply: Reply, conversation: str, buttons: bool = True,
                 tail: tuple[dict[str, Any], ...] = ()) -> Blocks:
    """A Reply as (notification text, Block Kit blocks).

    The answer is mrkdwn-escaped; citations become context blocks with links; "Read aloud", "Show
    sources" and the suggestions become buttons. Media (audio, images) are not in the blocks: they
    are uploaded into the thread (:func:`bot.channels.slack.files.upload`), which outlives an
    expiring link.

    Args:
        tail: blocks that end the message (the feedback buttons); kept, with the buttons, when a
            long answer is shortened to fit.
    """
    text = reply.text.strip() or "(no answer)"
    blocks: list[dict[str, Any]] = []
    for part in _chunks(_bold(escape(text)), SECTION_CHARS):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    if reply.citations:
        blocks += citation_blocks(reply)
    closing: list[dict[str, Any]] = []  # the buttons: always last, never cut off
    if buttons and not is_failure(reply):
        actions = []
        if reply.intent not in _NO_READ_ALOUD and reply.state == "fulfilled" and reply.error is None and len(text) > 1:
            actions.append(button("Read aloud", ACTION_READ_ALOUD, {"c": conversation, "t": text}))
        if reply.citations:
            actions.append(button("Show sources", ACTION_SOURCES, {
                "c": conversation, "s": [[c.source, c.page, c.url, c.quote] for c in reply.citations]}))
        for i, s in enumerate(reply.suggestions[:MAX_SUGGESTIONS]):
            if s.strip():
                actions.append(button(s, f"{ACTION_SUGGEST}_{i}", {"c": conversation, "t": s}))
        if actions:
            closing.append({"type": "actions", "block_id": "coursebot_actions", "elements": actions})
    closing += list(tail)
    if len(blocks) + len(closing) > MAX_BLOCKS:
        blocks = blocks[:MAX_BLOCKS - len(closing) - 1] + [{"type": "context", "elements": [
            {"type": "mrkdwn", "text": "_(answer shortened to fit in one Slack message)_"}]}]
    blocks += closing
    fallback = escape(text)
    if len(fallback) > SECTION_CHARS:
        fallback = _chunks(fallback, SECTION_CHARS - 1)[0] + "…"
    return fallback, blocks


def quote_text(quote: str, limit: int = QUOTE_CHARS) -> str:
    """An evidence sentence as a mrkdwn block quote: escaped, on one line, shortened at a word."""
    q = " ".join(escape(quote).split())
    if len(q) > limit:
        cut = q.rfind(" ", 0, limit - 1)
        q = q[:cut if cut > limit // 2 else limit - 1].rstrip() + "…"
    return ">" + q


def citation_blocks(reply: Reply) -> list[dict[str, Any]]:
    """Each citation with its evidence sentence quoted under its page link (up to ``MAX_QUOTES``);
    citations without a quote, and any beyond, as links in context lines."""
    blocks: list[dict[str, Any]] = []
    rest = [{"type": "mrkdwn", "text": "*Sources:*"}]
    for i, c in enumerate(reply.citations, 1):
        label = link(c.url, _citation_label(i, c.source, c.page))
        if c.quote and c.quote.strip() and len(blocks) < MAX_QUOTES:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": label}]})
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quote_text(c.quote)}})
        else:
            rest.append({"type": "mrkdwn", "text": label})
    if len(rest) > 1:
        for start in range(0, len(rest), CONTEXT_ELEMENTS):
            blocks.append({"type": "context", "elements": rest[start:start + CONTEXT_ELEMENTS]})
    return blocks


def placeholder_blocks(text: str) -> Blocks:
    """The first post in the thread while the answer is worked out (replaced in place by the answer)."""
    return text, [{"type": "context", "block_id": PLACEHOLDER_BLOCK,
                   "elements": [{"type": "mrkdwn", "text": ":hourglass_flowing_sand: " + escape(text)}]}]


def progress_blocks(text: str, seconds: float) -> Blocks:
    """The placeholder during long work: what is being done and for how long so far."""
    note = f"{escape(text)} (still working, {int(seconds)} s)"
    return f"{text} (still working, {int(seconds)} s)", [
        {"type": "context", "block_id": PLACEHOLDER_BLOCK,
         "elements": [{"type": "mrkdwn", "text": ":hourglass_flowing_sand: " + note}]}]


def plain(text: str, limit: int | None = None) -> dict[str, Any]:
    """A plain_text object (cut to ``limit`` characters when given: titles and buttons have limits)."""
    return {"type": "plain_text", "text": text if limit is None else text[:limit], "emoji": True}


def header_block(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:HEADER_CHARS], "emoji": True}}


def section_block(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_CHARS]}}


def home_view(capabilities: list[str], course: str | None, documents: list[str] | None,
              questions: list[tuple[str, str | None]], *, documents_note: str | None = None,
              max_documents: int = 30, channel_courses: dict[str, str] | None = None,
              instructor_blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The App Home tab.

    Args:
        capabilities: one line per thing the bot can do (from the Help intent).
        course: the name shown for the default course (``None``: "The course").
        documents: the course's document names; ``None`` when the list could not be read.
        questions: the person's recent questions as (text, link to the thread or ``None``), newest first.
        documents_note: said instead of the list when it could not be read.
        channel_courses: channel id -> course, for the channels mapped to a course of their own.
        instructor_blocks: the Insights summary, shown to instructors only.
    """
    blocks: list[dict[str, Any]] = [header_block("coursebot, your course assistant")]
    blocks.append(section_block("Mention me in a channel (`@coursebot …`), reply in a thread I'm in, message me "
                           "here, or use the message shortcut *Ask coursebot about this*."))
    blocks.append({"type": "divider"})
    blocks.append(header_block("What I can do"))
    blocks.append(section_block("\n".join("• " + escape(c) for c in capabilities) or "Ask me about the course."))
    blocks.append({"type": "divider"})
    blocks.append(header_block("Course"))
    where = escape(course or "The course")
    everywhere = "is used in every channel of this workspace."
    if channel_courses:
        lines = [f"• <#{c}>: *{escape(name)}*" for c, name in sorted(channel_courses.items())
                 if re.fullmatch(r"[CG][A-Z0-9]{2,20}", c)][:max_documents]
        blocks.append(section_block("Courses by channel:\n" + "\n".join(lines)))
        everywhere = "is used in the other channels and in messages to me."
    if documents is None:
        blocks.append(section_block(f"*{where}* {everywhere} "
                               + escape(documents_note or "I couldn't read its documents just now.")))
    elif not documents:
        blocks.append(section_block(f"*{where}* {everywhere} It has no documents yet: "
                               "share a PDF with me to add one."))
    else:
        shown = documents[:max_documents]
        more = f"\n…and {len(documents) - len(shown)} more." if len(documents) > len(shown) else ""
        blocks.append(section_block(f"*{where}* {everywhere} "
                               f"{len(documents)} document(s):\n" + "\n".join("• " + escape(d) for d in shown) + more))
    blocks.append({"type": "divider"})
    blocks.append(header_block("Your recent questions"))
    if not questions:
        blocks.append(section_block("You haven't asked me anything yet."))
    for text, url in questions:
        q = " ".join(text.split())
        q = q if len(q) <= 200 else q[:199] + "…"
        blocks.append(section_block(link(url, q) if url else escape(q)))
    blocks += instructor_blocks or []
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS]}


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
