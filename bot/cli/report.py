"""`coursebot report [--course C] [--since 7d] [--json]`: what students asked, what the course could not
answer, how they rated the answers; `coursebot report pin|unpin|pins`: curated answers."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="instructor report: questions, unanswered questions, ratings, cited pages",
                       description="Questions asked, the ones the course could not answer (grouped by meaning, "
                                   "with the nearest course pages), rated answers and the most-cited pages. "
                                   "`report pin QUESTION ANSWER` pins a curated answer for a question and its "
                                   "paraphrases.")
    p.add_argument("--course", default=None, help="the course (default: the default course)")
    p.add_argument("--since", default=None, metavar="AGE", help="only this recent: 7d, 12h, 2w (default: all kept)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run, _parser=p)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    pin = actions.add_parser("pin", help="pin a curated answer for a question (and its paraphrases)")
    pin.add_argument("question")
    pin.add_argument("answer")
    pin.add_argument("--json", action="store_true", help="print JSON")
    pins = actions.add_parser("pins", help="list the curated answers")
    pins.add_argument("--json", action="store_true", help="print JSON")
    unpin = actions.add_parser("unpin", help="remove a curated answer by its id (see `report pins`)")
    unpin.add_argument("id")


def run(args: argparse.Namespace) -> int:
    from bot import services as services_module
    from bot.cli import common
    from bot.errors import CoursebotError
    from bot.insight import DEFAULT_COURSE, parse_since

    common.configure_logging()
    services = services_module.default()
    course = (args.course or DEFAULT_COURSE).strip() or DEFAULT_COURSE
    try:
        if args.action == "pin":
            return _pin(services, course, args)
        if args.action == "pins":
            return _pins(services, course, args)
        if args.action == "unpin":
            if services.insight.unpin(course, args.id.strip()):
                print(f"Unpinned {args.id}.")
                return 0
            print(f"No curated answer {args.id!r} in course {course!r} (see `coursebot report pins`).", file=sys.stderr)
            return 1
        try:
            since = parse_since(args.since)
        except ValueError as e:
            args._parser.error(str(e))
        from bot.insight.report import build

        data = build(services, course=course, since=since)
    except CoursebotError as e:
        print(f"coursebot: {e.user_message}", file=sys.stderr)
        return 1
    if args.json:
        common.print_json(data)
    else:
        print(render(data))
    return 0


def _pin(services, course: str, args: argparse.Namespace) -> int:
    from bot.cli import common
    from bot.insight.curated import pin

    curated = pin(services, course, args.question, args.answer)
    if args.json:
        common.print_json({"id": curated.id, "course": course, "question": curated.question, "answer": curated.answer})
    else:
        print(f"Pinned {curated.id}: questions like {curated.question!r} now get this answer, marked as from "
              "you, before the PDFs are searched.")
    return 0


def _pins(services, course: str, args: argparse.Namespace) -> int:
    from bot.cli import common

    pins = services.insight.curated(course)
    if args.json:
        common.print_json([{"id": c.id, "question": c.question, "answer": c.answer, "at": c.at} for c in pins])
    elif not pins:
        print('No curated answers yet. Pin one with: coursebot report pin "QUESTION" "ANSWER"')
    else:
        for c in pins:
            print(f"{c.id}  {c.question}\n    -> {c.answer}")
    return 0


def _page(source: str, page) -> str:
    return f"{source} p.{page}" if page else source


def render(data: dict) -> str:
    """The report as terminal text."""
    q = data["questions"]
    lines = [f"Course {data['course']!r}: {q['asked']} question(s); {q['answered']} answered from the course, "
             f"{q['not_in_course']} not in the course."]
    if data["unanswered"]:
        lines.append("\nNot in the course (grouped by meaning):")
        for c in data["unanswered"]:
            near = ", ".join(_page(n["source"], n["page"]) for n in c["nearest"]) or "no close page"
            lines.append(f"  {c['count']:>3} x {c['question']!r}   nearest: {near}")
            for ex in c["examples"]:
                if ex != c["question"]:
                    lines.append(f"        also: {ex!r}")
        lines.append('  Pin an answer: coursebot report pin "QUESTION" "ANSWER"')
    down = [f for f in data["feedback"] if f["rating"] == "down"]
    ups = len(data["feedback"]) - len(down)
    lines.append(f"\nRatings: {ups} helpful, {len(down)} not helpful.")
    for f in down:
        cited = ", ".join(_page(c["source"], c["page"]) for c in f["citations"]) or "no citation"
        comment = f" - \"{f['comment']}\"" if f["comment"] else ""
        lines.append(f"  down: {f['question']!r}{comment}   cited: {cited}")
    cited = [p for p in data["pages"] if p["cited"] or p["down"]]
    if cited:
        lines.append("\nMost-cited pages:")
        for p in cited[:10]:
            extra = f", {p['down']} rated down" if p["down"] else ""
            lines.append(f"  {p['cited']:>3} x {_page(p['source'], p['page'])}{extra}")
    never = [p["source"] for p in data["pages"] if p["page"] is None and not p["cited"]]
    if never:
        lines.append("\nNever cited: " + ", ".join(never))
    return "\n".join(lines)
