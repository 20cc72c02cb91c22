"""The instructor's Insights page: ``GET /insights`` renders the report (bot/insight/report.py) as tables and
SVG bar charts, every page linking to its PDF through a signed link. Only the instructor opens it: the link
``coursebot serve`` prints carries the token once (``?token=``), then an HttpOnly cookie stands for it;
anyone else gets 403. Server-rendered, every value escaped; no script, so the page CSP holds."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from html import escape
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.channels.web.adapter import relative_url
from bot.courses import is_course_name
from bot.errors import CoursebotError
from bot.insight import DEFAULT_COURSE, access, parse_since

log = logging.getLogger(__name__)

COOKIE = "coursebot_instructor"
PATH = "/insights"
RANGES = (("7d", "last 7 days"), ("30d", "last 30 days"), ("", "all kept"))
MAX_BARS = 12  # most-cited pages in the chart (the table lists them all)
_HEADERS = {"Cache-Control": "no-store"}


def add_insight_routes(app: FastAPI, services: Any, base_url: str, secret: bytes, token: str) -> None:
    """Add ``GET /insights`` to ``app``; ``token`` (bot.insight.access) is the instructor's."""
    badge = _cookie_value(secret, token)

    async def insights(request: Request, since: str = "") -> Response:
        offered = request.query_params.get("token")
        if offered is not None:  # the printed link: swap the token in the URL for a cookie
            if not access.is_instructor(offered, token):
                return _refused()
            target = PATH + (f"?since={since}" if since and since in dict(RANGES) else "")
            response = RedirectResponse(target, status_code=303, headers=_HEADERS)
            response.set_cookie(COOKIE, badge, max_age=12 * 3600, httponly=True, samesite="strict", path=PATH)
            return response
        if not access.is_instructor(request.cookies.get(COOKIE), badge):
            return _refused()
        if since not in dict(RANGES):
            since = ""
        known = await run_in_threadpool(_courses, services)
        course = request.query_params.get("course") or DEFAULT_COURSE
        if course not in known:  # only a course the bot has; nothing a client sends names anything else
            return HTMLResponse(_document("Unknown course", "<p>There is no such course here.</p>"
                                          f'<p><a href="{PATH}">Back to the insights</a></p>'),
                                status_code=404, headers=_HEADERS)
        try:
            from bot.insight.report import build

            data = await run_in_threadpool(build, services, course=course, since=parse_since(since))
        except CoursebotError as e:
            return HTMLResponse(_document("Insights unavailable", f"<p>{escape(e.user_message)}</p>"),
                                status_code=503, headers=_HEADERS)
        links = _Links(services, base_url)
        body = await run_in_threadpool(render, data, links, since, known)
        return HTMLResponse(_document("Instructor insights", body), headers=_HEADERS)

    app.get(PATH, include_in_schema=False)(insights)


def _cookie_value(secret: bytes, token: str) -> str:
    """What the cookie holds: a MAC of the token, so the cookie itself never is the token."""
    return hmac.new(secret, f"instructor\n{token}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _refused() -> Response:
    body = ("<p>This page is for the course's instructor. Open the instructor link that "
            "<code>coursebot serve</code> printed when it started.</p><p><a href=\"/\">Back to the chat</a></p>")
    return HTMLResponse(_document("Instructors only", body), status_code=403, headers=_HEADERS)


def _courses(services: Any) -> list[str]:
    """The default course and every course that has documents."""
    names = {DEFAULT_COURSE}
    try:
        names |= {str(c["course"]) for c in services.kb.courses() if is_course_name(c.get("course"))}
    except Exception:  # the report of the default course still works
        log.warning("could not list the courses for the insights page", exc_info=True)
    return sorted(names)


class _Links:
    """Signed links to PDF pages, made once per page and rendering."""

    def __init__(self, services: Any, base_url: str):
        self.services, self.base_url, self.made = services, base_url, {}

    def __call__(self, source: Any, page: Any) -> str | None:
        if (source, page) not in self.made:
            url = None
            try:
                maker = getattr(self.services.kb, "page_link", None)
                url = maker(source, page) if maker is not None else None
            except Exception:  # no link is still a useful row
                log.warning("could not sign a link to a course page", exc_info=True)
            self.made[(source, page)] = relative_url(url, self.base_url) if url else None
        return self.made[(source, page)]


# --- rendering --------------------------------------------------------------------------------------
def _document(title: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)} - coursebot</title><link rel=\"icon\" href=\"data:,\">"
            "<link rel=\"stylesheet\" href=\"/static/insights.css\"></head><body>"
            f"<header><h1>{escape(title)}</h1><a href=\"/\">Chat</a></header><main>{body}</main></body></html>")


def _page_name(source: Any, page: Any) -> str:
    return f"{source}, page {page}" if page else str(source)


def _page_link(links: Callable[[Any, Any], str | None], source: Any, page: Any, label: str | None = None) -> str:
    text = escape(label if label is not None else _page_name(source, page))
    href = links(source, page)
    if not href:
        return text
    return f'<a href="{escape(href, quote=True)}" target="_blank" rel="noopener noreferrer">{text}</a>'


def _href(course: str, since: str) -> str:
    query = urlencode([(k, v) for k, v in (("course", course if course != DEFAULT_COURSE else ""), ("since", since)) if v])
    return PATH + ("?" + query if query else "")


def render(data: dict[str, Any], links: Callable[[Any, Any], str | None], since: str = "",
           courses: Sequence[str] = ()) -> str:
    """The report (``bot.insight.report.build``) as HTML: summary, charts and tables; ``courses``: the
    courses an instructor can switch to (a course menu when there are several)."""
    q = data["questions"]
    down = [f for f in data["feedback"] if f["rating"] == "down"]
    ups = len(data["feedback"]) - len(down)
    course = str(data.get("course") or DEFAULT_COURSE)
    current = ' aria-current="page"'
    ranges = " ".join(f'<a href="{escape(_href(course, key), quote=True)}"{current if key == since else ""}>'
                      f"{escape(label)}</a>" for key, label in RANGES)
    parts = []
    if len(courses) > 1:
        menu = " ".join(f'<a href="{escape(_href(c, since), quote=True)}"{current if c == course else ""}>'
                        f"{escape(c)}</a>" for c in courses)
        parts.append(f'<nav class="ranges" aria-label="Course">Course: {menu}</nav>')
    parts += [
        f'<nav class="ranges" aria-label="Period">{ranges}</nav>',
        '<section class="summary" aria-label="Summary"><dl>'
        f"<div><dt>Questions</dt><dd>{q['asked']}</dd></div>"
        f"<div><dt>Answered from the course</dt><dd>{q['answered']}</dd></div>"
        f"<div><dt>Not in the course</dt><dd>{q['not_in_course']}</dd></div>"
        f"<div><dt>Rated helpful</dt><dd>{ups}</dd></div>"
        f"<div><dt>Rated not helpful</dt><dd>{len(down)}</dd></div></dl></section>",
        "<section><h2>Questions per day</h2>" + _day_chart(q["per_day"]) + "</section>",
        _unanswered(data["unanswered"], links),
        _feedback(data["feedback"], links),
        _pages(data["pages"], links),
    ]
    return "\n".join(parts)


def _day_chart(per_day: list[dict[str, Any]]) -> str:
    if not per_day:
        return '<p class="empty">No questions in this period.</p>'
    top = max(d["count"] for d in per_day) or 1
    width, height, gap = 36, 120, 8
    bars = []
    for i, d in enumerate(per_day):
        h = max(round(d["count"] / top * height), 2)
        x = i * (width + gap) + 4
        label = f"{d['day']}: {d['count']} question{'s' if d['count'] != 1 else ''}"
        bars.append(f'<g><title>{escape(label)}</title>'
                    f'<rect class="bar" x="{x}" y="{height - h + 18}" width="{width}" height="{h}"></rect>'
                    f'<text class="value" x="{x + width / 2}" y="{height - h + 14}">{d["count"]}</text>'
                    f'<text class="day" x="{x + width / 2}" y="{height + 34}">{escape(d["day"][5:])}</text></g>')
    total_w = len(per_day) * (width + gap) + 8
    summary = ", ".join(f"{d['day']}: {d['count']}" for d in per_day)
    return (f'<svg class="chart days" role="img" aria-label="Questions per day: {escape(summary, quote=True)}" '
            f'viewBox="0 0 {total_w} {height + 40}" width="{total_w}" height="{height + 40}">{"".join(bars)}</svg>')


def _unanswered(groups: list[dict[str, Any]], links: Callable[[Any, Any], str | None]) -> str:
    head = "<section><h2>Not in the course</h2>"
    if not groups:
        return head + '<p class="empty">Every question in this period was answered from the course.</p></section>'
    rows = []
    for g in groups:
        nearest = g["nearest"]
        question = (_page_link(links, nearest[0]["source"], nearest[0]["page"], g["question"]) if nearest
                    else escape(g["question"]))
        also = [e for e in g["examples"] if e != g["question"]]
        examples = ("<ul class=\"examples\">" + "".join(f"<li>{escape(e)}</li>" for e in also) + "</ul>") if also else ""
        pages = ", ".join(_page_link(links, n["source"], n["page"]) for n in nearest) or "no close page"
        rows.append(f"<tr><td class=\"num\">{g['count']}</td><td>{question}{examples}</td><td>{pages}</td></tr>")
    return (head + "<p>Grouped by meaning, most asked first. Pin an answer for a group with "
            "<code>coursebot report pin \"QUESTION\" \"ANSWER\"</code>.</p>"
            "<table><thead><tr><th scope=\"col\">Asked</th><th scope=\"col\">Question</th>"
            "<th scope=\"col\">Nearest course pages</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")


def _feedback(feedback: list[dict[str, Any]], links: Callable[[Any, Any], str | None]) -> str:
    head = "<section><h2>Ratings</h2>"
    if not feedback:
        return head + '<p class="empty">No answer was rated in this period.</p></section>'
    rows = []
    for f in feedback:
        cited = f["citations"]
        question = (_page_link(links, cited[0]["source"], cited[0]["page"], f["question"]) if cited
                    else escape(f["question"]))
        pages = ", ".join(_page_link(links, c["source"], c["page"]) for c in cited) or "no citation"
        rating = ('<span class="down">not helpful</span>' if f["rating"] == "down"
                  else '<span class="up">helpful</span>')
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(f["at"])) if f.get("at") else ""
        rows.append(f"<tr><td>{rating}</td><td>{question}</td><td>{escape(f['comment'] or '')}</td>"
                    f"<td>{pages}</td><td class=\"when\">{when}</td></tr>")
    return (head + "<table><thead><tr><th scope=\"col\">Rating</th><th scope=\"col\">Question</th>"
            "<th scope=\"col\">Comment</th><th scope=\"col\">Cited pages</th><th scope=\"col\">When (UTC)</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")


def _pages(pages: list[dict[str, Any]], links: Callable[[Any, Any], str | None]) -> str:
    head = "<section><h2>Most-cited pages</h2>"
    cited = [p for p in pages if p["cited"] or p["down"]]
    never = [p["source"] for p in pages if p["page"] is None and not p["cited"]]
    out = [head]
    if cited:
        out.append(_pages_chart(cited[:MAX_BARS]))
        rows = "".join(f"<tr><td>{_page_link(links, p['source'], p['page'])}</td><td class=\"num\">{p['cited']}</td>"
                       f"<td class=\"num\">{p['down']}</td></tr>" for p in cited)
        out.append("<table><thead><tr><th scope=\"col\">Page</th><th scope=\"col\">Cited</th>"
                   "<th scope=\"col\">In answers rated not helpful</th></tr></thead><tbody>" + rows + "</tbody></table>")
    else:
        out.append('<p class="empty">No answer cited a page in this period.</p>')
    if never:
        out.append("<h3>Never cited</h3><ul class=\"never\">"
                   + "".join(f"<li>{_page_link(links, s, None)}</li>" for s in never) + "</ul>")
    return "".join(out) + "</section>"


def _pages_chart(cited: list[dict[str, Any]]) -> str:
    top = max(p["cited"] for p in cited) or 1
    label_w, bar_w, row = 300, 260, 24
    rows = []
    for i, p in enumerate(cited):
        y = i * row + 4
        w = max(round(p["cited"] / top * bar_w), 2)
        name = _page_name(p["source"], p["page"])
        short = name if len(name) <= 42 else name[:40] + "\u2026"
        rows.append(f'<g><title>{escape(name)}: cited {p["cited"]} time{"s" if p["cited"] != 1 else ""}</title>'
                    f'<text class="label" x="{label_w - 8}" y="{y + 15}">{escape(short)}</text>'
                    f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="{row - 8}"></rect>'
                    f'<text class="value" x="{label_w + w + 6}" y="{y + 15}">{p["cited"]}</text></g>')
    total_w, total_h = label_w + bar_w + 40, len(cited) * row + 8
    summary = "; ".join(f"{_page_name(p['source'], p['page'])}: {p['cited']}" for p in cited)
    return (f'<svg class="chart pages" role="img" aria-label="Most-cited pages: {escape(summary, quote=True)}" '
            f'viewBox="0 0 {total_w} {total_h}" width="{total_w}" height="{total_h}">{"".join(rows)}</svg>')
