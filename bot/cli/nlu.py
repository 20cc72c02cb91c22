"""`coursebot nlu TEXT [--image] --json` and `coursebot nlu --batch FILE --json`: intent recognition only."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nlu", help="recognize the intent and slots of a message (local NLU)",
                       description="Print intent, confidence and slots. --batch reads JSON lines with 'text' "
                                   "and optional 'has_image' ('-' for stdin) and prints one JSON line per input.")
    p.add_argument("text", nargs="?", help="the message")
    p.add_argument("--image", action="store_true", help="as if a photo were attached")
    p.add_argument("--pdf", action="store_true", help="as if a PDF were attached")
    p.add_argument("--batch", metavar="FILE", help="JSON lines file of inputs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run, _parser=p)


def _result(nlu, text: str, kinds: list[str]) -> dict:
    r = nlu.parse(text, kinds)
    return {"text": text, **r.to_dict()}


def run(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.batch is None):
        args._parser.error("give a TEXT or --batch FILE (one of them)")
    from bot import services

    nlu = services.default().nlu
    if args.batch is None:
        kinds = (["image"] if args.image else []) + (["pdf"] if args.pdf else [])
        out = _result(nlu, args.text, kinds)
        print(json.dumps(out, ensure_ascii=False) if args.json else f"{out['intent']} ({out['confidence']:.2f}) {out['slots'] or ''}")
        return 0
    try:
        stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
    except OSError as e:
        args._parser.error(f"--batch: cannot read {args.batch!r}: {e.strerror}")
    with stream:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text = str(item.get("text", "")) if isinstance(item, dict) else str(item)
                kinds = ["image"] if isinstance(item, dict) and item.get("has_image") else []
                if isinstance(item, dict) and item.get("has_pdf"):
                    kinds.append("pdf")
            except ValueError:
                out = {"text": None, "intent": None, "confidence": 0.0, "slots": {}, "error": f"line {lineno}: not JSON"}
            else:
                out = _result(nlu, text, kinds)
            print(json.dumps(out, ensure_ascii=False) if args.json else f"{out['intent']}\t{out['confidence']:.2f}\t{out['text']}")
    return 0
