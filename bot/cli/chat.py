"""`coursebot chat`: a terminal chat. `/attach PATH [message]` sends a file; `/open N` opens source N;
`/new` starts over."""

from __future__ import annotations

import argparse
import shlex
import sys

HELP = """Commands:
  /attach PATH [message]   send a file (photo, PDF, text) with an optional message
  /open N                  open source [N] of the last answer at its page (/open audio: the last audio)
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
    last = None  # the last reply, for /open
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
        if line == "/open" or line.startswith("/open "):
            print(open_source(line[len("/open"):].strip(), last, common.TerminalView.for_router(router)))
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
        last = reply
        if as_json:
            common.print_json(reply.to_dict())
        else:
            shown = common.render_text(reply, common.TerminalView.for_router(router))
            if reply.citations:
                shown += "\n  (/open N opens source [N] at its page)"
            print("bot> " + shown.replace("\n", "\n     "))


def open_source(which: str, reply, view) -> str:
    """``/open N``: source [N] of ``reply`` (its PDF at the page), or ``/open audio``: its audio file."""
    from bot.cli.opener import open_file

    if reply is None:
        return "Nothing to open yet: ask a question first."
    if which.lower() in ("audio", "a"):
        media = [m for m in reply.attachments if m.kind == "audio"]
        if not media:
            return "The last answer has no audio."
        m = media[0]
        target = (m.path, None) if m.path else view.target(m.url)
    else:
        if not reply.citations:
            return "The last answer has no sources to open."
        if not which.isdigit() or not 1 <= int(which) <= len(reply.citations):
            return f"usage: /open N, where N is 1 to {len(reply.citations)}"
        c = reply.citations[int(which) - 1]
        target = view.target(c.url, c.page)
        if target is None:
            return f"I have no file for [{which}] {c.source} on this machine."
    if target is None:
        return "I have no file for that on this machine."
    return open_file(*target)
