"""`coursebot turn TEXT [--attach FILE]... [--session ID] [--json]`: answer one message."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("turn", help="answer one message and print the reply",
                       description="Answer one message. --json prints the Reply JSON (see README).")
    p.add_argument("text", nargs="?", default="", help="the message (may be empty when a file is attached)")
    p.add_argument("--attach", action="append", metavar="FILE", help="attach a file (repeatable)")
    p.add_argument("--session", metavar="ID", help="conversation id; reuse it for follow-ups (default: a new one)")
    p.add_argument("--user", default="cli-user", help=argparse.SUPPRESS)
    p.add_argument("--course", metavar="NAME", help="the course to ask about (default: the default course)")
    p.add_argument("--private", action="store_true",
                   help="keep attached PDFs for this conversation only (default: the operator adds them to the course)")
    p.add_argument("--json", action="store_true", help="print the Reply as JSON")
    p.set_defaults(run=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    from bot import keys
    from bot.cli import common
    from bot.errors import InputError
    from bot.turn import Turn

    try:
        session = keys.cli(args.session)
    except InputError as e:
        args._parser.error(f"--session: {e.user_message}")
    attachments = common.attachments(args.attach, args._parser.error)
    from bot.courses import DEFAULT_COURSE, check_course
    from bot.roles import INSTRUCTOR

    try:
        course = check_course(args.course) if args.course else DEFAULT_COURSE
    except InputError as e:
        args._parser.error(e.user_message)
    # the operator at the command line is the course's instructor
    turn = Turn(conversation=session, text=args.text, user=args.user, channel="cli", attachments=attachments,
                role=INSTRUCTOR, course=course, upload_to="private" if args.private else "course")
    router = common.router()
    reply = router.handle(turn)
    if args.json:
        common.print_json(reply.to_dict())
    else:  # local file paths for sources and audio; links only while a web chat answers them
        print(common.render_text(reply, common.TerminalView.for_router(router)))
    return 0
