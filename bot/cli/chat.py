"""`coursebot chat`: a terminal chat. `/attach PATH [message]` sends a file; `/new` starts over."""

from __future__ import annotations

import argparse
import shlex
import sys

HELP = """Commands:
  /attach PATH [message]   send a file (photo, PDF, text) with an optional message
  /new                     start a new conversation
  /json                    toggle printing replies as JSON
  /quit                    leave (Ctrl-D works too)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with the bot in the terminal", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--session", metavar="ID", help="conversation id (default: a new one)")
    p.set_defaults(run=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    from bot import keys
    from bot.cli import common
    from bot.cli.progress import TerminalProgress
    from bot.errors import InputError
    from bot.files import attachment_from_path
    from bot.turn import Turn
    from bot.progress import watching

    try:
        session = keys.cli(args.session, default_prefix="chat")
    except InputError as e:
        args._parser.error(f"--session: {e.user_message}")
    router = common.router()
    as_json = False
    interactive = sys.stdin.isatty()
    if interactive:
        backend = router.settings.backend
        print(f"coursebot ({backend} backend). Ask about the course, or type /help. /quit to leave.")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            print()
            return 0
        line = line.strip()
        attachments: tuple = ()
        if line in ("/quit", "/exit", "/q"):
            return 0
        if line == "/help":
            print(HELP)
            continue
        if line == "/new":
            session = keys.cli(None, default_prefix="chat")
            print("(new conversation)")
            continue
        if line == "/json":
            as_json = not as_json
            continue
        if line.startswith("/attach"):
            try:
                parts = shlex.split(line[len("/attach"):])
            except ValueError:
                parts = line[len("/attach"):].split()
            if not parts:
                print("usage: /attach PATH [message]")
                continue
            try:
                attachments = (attachment_from_path(parts[0]),)
            except FileNotFoundError:
                print(f"bot> I can't find the file {parts[0]!r}. Check the path and try again.")
                continue
            except OSError:
                print(f"bot> I can't read the file {parts[0]!r}.")
                continue
            line = " ".join(parts[1:])
        elif line.startswith("/"):
            print(f"Unknown command {line.split()[0]!r}. Type /help.")
            continue
        # the operator at the terminal is the course's instructor: attached PDFs go to the course
        turn = Turn(conversation=session, text=line, user="you", channel="cli", attachments=attachments,
                    role="instructor", upload_to="course")
        if attachments:  # a PDF being added shows its pages on the terminal as they are read and indexed
            display = TerminalProgress(sys.stderr)
            try:
                with watching(display):
                    reply = router.handle(turn)
            finally:
                display.clear()
        else:
            reply = router.handle(turn)
        if as_json:
            common.print_json(reply.to_dict())
        else:
            print("bot> " + common.render_text(reply).replace("\n", "\n     "))
