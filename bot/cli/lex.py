"""`coursebot lex invoke|export|template`: run the Lex code hook locally, write the Lex V2 bot
definition, write the SAM template."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lex", help="Lex V2: run the code hook on an event, export the bot definition",
                       description="Amazon Lex V2 channel tools.")
    lex_sub = p.add_subparsers(dest="lex_command", metavar="SUBCOMMAND")

    inv = lex_sub.add_parser("invoke", help="run the code hook on a Lex V2 event file and print the response JSON",
                             description="Run the Lambda handler locally on a Lex V2 code-hook event "
                                         "(JSON file, or - for stdin) and print the response JSON.")
    inv.add_argument("--event", required=True, metavar="FILE", help="the event JSON file ('-' reads stdin)")
    inv.add_argument("--pretty", action="store_true", help="indent the JSON")
    inv.set_defaults(run=run_invoke, _parser=inv)

    exp = lex_sub.add_parser("export", help="write the Lex V2 bot definition generated from the intent specs",
                             description="Write the Lex V2 bot definition (Lex JSON import format: intents, sample "
                                         "utterances, slots, slot types, prompts, code hooks) generated from the "
                                         "intent specs, and a zip of it to import in the Lex console.")
    exp.add_argument("--out", default="lex-export", metavar="DIR", help="output folder (default: ./lex-export)")
    exp.set_defaults(run=run_export)

    tpl = lex_sub.add_parser("template", help="write the SAM template of the AWS stack (infra/template.yaml)",
                             description="Print or write the SAM/CloudFormation template generated from code.")
    tpl.add_argument("--out", metavar="FILE", help="write here instead of printing (e.g. infra/template.yaml)")
    tpl.set_defaults(run=run_template)

    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def run_invoke(args: argparse.Namespace) -> int:
    import json

    from bot.cli import common

    try:
        raw = sys.stdin.read() if args.event == "-" else open(args.event, encoding="utf-8").read()
    except OSError as e:
        args._parser.error(f"--event: cannot read {args.event!r}: {e.strerror}")
    try:
        event = json.loads(raw)
    except ValueError as e:
        args._parser.error(f"--event: {args.event!r} is not JSON ({e})")
    common.configure_logging()
    from bot.channels.lex import lambda_handler

    response = lambda_handler(event, None)
    if args.pretty:
        print(json.dumps(response, ensure_ascii=False, indent=2))
    else:
        common.print_json(response)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from bot.channels.lex.definition import DefinitionError, build, write_export

    try:
        locale = build()
    except DefinitionError as e:
        print(f"coursebot: {e}", file=sys.stderr)
        return 1
    files, zip_path = write_export(args.out, locale)
    utterances = sum(len(i.utterances) for i in locale.intents)
    print(f"Wrote {len(files)} files for {len(locale.intents)} intents ({utterances} sample utterances) under "
          f"{args.out}/ and {zip_path} (import it in the Lex console: Bots > Actions > Import).")
    return 0


def run_template(args: argparse.Namespace) -> int:
    from bot.aws.stack import render_yaml

    text = render_yaml()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"Wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0
