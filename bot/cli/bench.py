"""`coursebot bench [nlu|kb|turn|lex|slack|web|quiz|all] [--json]`: measured speed, memory and accuracy."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from bot.bench.core import BENCHES

    p = sub.add_parser("bench", help="measure accuracy, speed and memory",
                       description="Run benchmarks and print one table (or JSON). Each figure says what it was measured on.")
    p.add_argument("which", nargs="?", default="all", choices=[*BENCHES, "all"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bot.bench.core import run_benches

    return run_benches(args.which, as_json=args.json)
