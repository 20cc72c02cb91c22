"""The `coursebot` console script. Each command lives in its own module with register(subparsers).

Imports stay lazy (inside each command's run) so `coursebot --help` starts in well under 0.5 s.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Adding a command: a module with `register(subparsers)`, and one line here.
COMMANDS = (
    "bot.cli.chat",
    "bot.cli.turn",
    "bot.cli.nlu",
    "bot.cli.bench",
    "bot.cli.kb",
    "bot.cli.faces",
    "bot.cli.lex",
    "bot.cli.slack",
    "bot.cli.serve",
    "bot.cli.report",
    "bot.cli.doctor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coursebot",
        description="coursebot: a course assistant for Slack, Lex V2 and a local web chat, on AWS or fully offline.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from bot.errors import ConfigError

    try:
        return int(args.run(args) or 0)
    except ConfigError as e:
        print(f"coursebot: configuration error: {e.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
