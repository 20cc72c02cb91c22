"""What instructors see in Slack: the Insights summary on their Home tab and the full report in a modal.

Built from ``bot.insight.report.build`` (the same data as ``coursebot report --json`` and the web
chat's Insights page); only the people in COURSEBOT_SLACK_INSTRUCTORS are shown either.
"""

from __future__ import annotations

import re
from typing import Any

from bot.channels.slack.blocks import escape, header_block, plain, section_block

ACTION_OPEN_REPORT = "coursebot_report_open"  # the Home tab's "Open the full report" button; value: the course
MODAL_BLOCKS = 100  # a modal holds up to 100 blocks
TOP_UNANSWERED = 3  # on the Home tab; the modal lists more
MODAL_UNANSWERED = 15
MODAL_FEEDBACK = 10
MODAL_PAGES = 10
_COURSE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


TITLE_CHARS = 24  # a modal's title and close button
BUTTON_CHARS = 75


def _short(text: Any, limit: int = 160) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _page(p: dict[str, Any]) -> str:
    return escape(str(p.get("source") or "")) + (f" p. {p['page']}" if p.get("page") else "")


def is_course(value: Any) -> bool:
    """Whether a button's value is a well-formed course name (it still must be one the bot knows)."""
    return isinstance(value, str) and bool(_COURSE.match(value))


def summary_line(report: dict[str, Any]) -> str:
    q = report.get("questions") or {}
    downs = sum(1 for f in report.get("feedback") or [] if f.get("rating") == "down")
    asked, answered, missing = q.get("asked", 0), q.get("answered", 0), q.get("not_in_course", 0)
    if not asked:
        return "No questions yet."
    return (f"{asked} question(s): {answered} answered from the PDFs, {missing} not in the course; "
            f"{downs} answer(s) rated 👎.")


def home_blocks(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instructor's part of the Home tab: one summary per course and a button to its full report."""
    blocks: list[dict[str, Any]] = [{"type": "divider"},
                                    header_block("Insights (instructors only)")]
    for report in reports:
        course = str(report.get("course") or "default")
        lines = [f"*{escape(course)}*: {escape(summary_line(report))}"]
        for u in (report.get("unanswered") or [])[:TOP_UNANSWERED]:
            near = ", ".join(_page(p) for p in (u.get("nearest") or [])[:2])
            lines.append(f"• {u.get('count', 1)}× “{escape(_short(u.get('question')))}”"
                         + (f" (closest: {near})" if near else ""))
        blocks.append(section_block("\n".join(lines)))
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": ACTION_OPEN_REPORT, "value": course,
            "text": plain("Open the full report", BUTTON_CHARS)}]})
    return blocks


def report_view(report: dict[str, Any]) -> dict[str, Any]:
    """The full report of one course as a modal."""
    course = str(report.get("course") or "default")
    blocks: list[dict[str, Any]] = [section_block(f"*{escape(course)}*: {escape(summary_line(report))}")]
    per_day = (report.get("questions") or {}).get("per_day") or []
    if per_day:
        top = max(d["count"] for d in per_day) or 1
        bars = "\n".join(f"`{d['day']}` {'▇' * max(1, round(d['count'] * 20 / top))} {d['count']}"
                         for d in per_day[-14:])
        blocks += [header_block("Questions per day"), section_block(bars)]
    unanswered = report.get("unanswered") or []
    blocks.append(header_block("Not in the course"))
    if not unanswered:
        blocks.append(section_block("Every question was answered from the PDFs."))
    for u in unanswered[:MODAL_UNANSWERED]:
        near = ", ".join(_page(p) for p in (u.get("nearest") or [])[:3])
        examples = [e for e in (u.get("examples") or []) if e != u.get("question")][:2]
        text = f"*{u.get('count', 1)}×* “{escape(_short(u.get('question'), 300))}”"
        if examples:
            text += "\n_also:_ " + "; ".join("“" + escape(_short(e, 120)) + "”" for e in examples)
        if near:
            text += f"\nclosest pages: {near}"
        blocks.append(section_block(text))
    downs = [f for f in report.get("feedback") or [] if f.get("rating") == "down"]
    blocks.append(header_block("Answers rated 👎"))
    if not downs:
        blocks.append(section_block("No answer was rated 👎."))
    for f in downs[:MODAL_FEEDBACK]:
        cited = ", ".join(_page(c) for c in (f.get("citations") or [])[:3])
        text = f"“{escape(_short(f.get('question'), 300))}”"
        if f.get("comment"):
            text += f"\n> {escape(_short(f['comment'], 300))}"
        if cited:
            text += f"\ncited: {cited}"
        blocks.append(section_block(text))
    pages = [p for p in report.get("pages") or [] if p.get("cited")]
    blocks.append(header_block("Most-cited pages"))
    blocks.append(section_block("\n".join(f"• {_page(p)}: cited {p['cited']}×" + (f", 👎 {p['down']}" if p.get("down") else "")
                                     for p in pages[:MODAL_PAGES]) or "No page has been cited yet."))
    never = [p["source"] for p in report.get("pages") or [] if not p.get("cited") and p.get("page") is None]
    if never:
        blocks.append(section_block("Never cited: " + ", ".join(escape(str(s)) for s in never[:20])))
    return {"type": "modal", "title": plain("Course insights", TITLE_CHARS), "close": plain("Close", TITLE_CHARS),
            "blocks": blocks[:MODAL_BLOCKS]}


BUILDING = "Adding up the questions of {course}\u2026 the report appears here in a moment."


def note_view(text: str, closing: str = "OK") -> dict[str, Any]:
    return {"type": "modal", "title": plain("Course insights", TITLE_CHARS), "close": plain(closing, TITLE_CHARS),
            "blocks": [section_block(escape(text))]}
