"""`coursebot kb ingest|search|ask|list|remove`: the course knowledge base from the command line.

JSON contracts:
  kb search QUERY [-k N] --json      -> [{"source", "page", "score", "text"}]
  kb search --batch FILE -k N --json -> one line per input: {"question", "results": [...]}
  kb ask QUESTION --json             -> {"found", "answer", "citations": [{"source", "page", "url"?, "quote"?}]}
  kb ask --batch FILE --json         -> one line per input: {"question", "found", "answer", "citations"}
  kb list [--course C] --json        -> [{"name", "sha256", "bytes", "pages", "chunks", "added_at"}] (course C's
                                        course documents; default: the default course; never private uploads)
  kb courses --json                  -> [{"course", "documents", "pages", "chunks"}], one per course with documents

Every command takes --course NAME (default: the course named "default", which today's commands use).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kb", help="the course knowledge base: ingest PDFs, search, ask",
                       description="Manage and query the course knowledge base (local SQLite index, or the Bedrock "
                                   "Knowledge Base with COURSEBOT_BACKEND=aws).")
    kb_sub = p.add_subparsers(dest="kb_command", metavar="ACTION")

    ing = kb_sub.add_parser("ingest", help="add PDF files or folders of PDFs",
                            description="Index PDFs. Unchanged files are skipped, changed files replace their old "
                                        "version, the same content under another name is not indexed twice.")
    ing.add_argument("paths", nargs="*", metavar="PATH", help="PDF files or folders (searched recursively)")
    ing.add_argument("--sample", action="store_true", help="build and ingest the sample course shipped with coursebot")
    ing.add_argument("--json", action="store_true", help="print one JSON object per file")
    _course_arg(ing)
    ing.set_defaults(run=run_ingest)

    se = kb_sub.add_parser("search", help="find the passages that match a query")
    se.add_argument("query", nargs="?", help="what to search for")
    se.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    se.add_argument("--batch", metavar="FILE", help="JSON lines with a 'question' field ('-' for stdin)")
    se.add_argument("--json", action="store_true", help="print JSON")
    _course_arg(se)
    se.set_defaults(run=run_search)

    ask = kb_sub.add_parser("ask", help="answer a question from the course PDFs, with citations")
    ask.add_argument("question", nargs="?", help="the question")
    ask.add_argument("--batch", metavar="FILE", help="JSON lines with a 'question' field ('-' for stdin)")
    ask.add_argument("--json", action="store_true", help="print JSON")
    _course_arg(ask)
    ask.set_defaults(run=run_ask)

    ls = kb_sub.add_parser("list", help="list the indexed PDFs")
    ls.add_argument("--json", action="store_true", help="print JSON")
    _course_arg(ls)
    ls.set_defaults(run=run_list)

    rm = kb_sub.add_parser("remove", help="remove a PDF from the index by name")
    rm.add_argument("name", help="the PDF's file name, as `kb list` shows it")
    _course_arg(rm)
    rm.set_defaults(run=run_remove)

    co = kb_sub.add_parser("courses", help="list the courses with their documents, pages and chunks")
    co.add_argument("--json", action="store_true", help="print JSON")
    co.set_defaults(run=run_courses)

    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def _course_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", metavar="NAME", default=None,
                   help="the course (lower-case letters, digits, - and _; default: the default course)")


def _course(args: argparse.Namespace) -> dict[str, str]:
    """``{"course": name}`` for a named course (checked), ``{}`` for the default course."""
    from bot.courses import check_course

    name = getattr(args, "course", None)
    return {"course": check_course(name)} if name else {}


def _kb():
    from bot import services
    from bot.cli.common import configure_logging

    configure_logging()
    return services.default().kb


def _fail(message: str, code: int = 1) -> int:
    print(f"coursebot kb: {message}", file=sys.stderr)
    return code


def _guard(fn):
    """Run a command; user-facing errors become one line on stderr and exit code 1."""
    def wrapper(args: argparse.Namespace) -> int:
        from bot.errors import ConfigError, CoursebotError

        try:
            return fn(args)
        except ConfigError:
            raise
        except CoursebotError as e:
            return _fail(e.user_message)
    return wrapper


@_guard
def run_ingest(args: argparse.Namespace) -> int:
    from bot.cli.common import print_json

    paths = list(args.paths)
    kb = _kb()
    if args.sample:
        from bot import settings as settings_mod
        from kb import sample
        from kb.local import sample_dir

        paths += [str(p) for p in sample.build(sample_dir(settings_mod.get()))]
    if not paths:
        return _fail("give PDF files or folders to ingest, or --sample", 2)
    from bot.cli.progress import TerminalProgress

    printed: list[Any] = []

    def show(r: Any) -> None:  # each PDF's result as soon as it is done
        printed.append(r)
        if args.json:
            print_json(r.to_dict())
        else:
            detail = f"{_n(r.pages, 'page')}, {_n(r.chunks, 'chunk')}" if r.status in ("added", "replaced", "unchanged") else ""
            reason = f" - {r.reason}" if r.reason else ""
            print(f"{r.status:<10} {r.source}" + (f" ({detail})" if detail else "") + reason)
        sys.stdout.flush()

    progress = TerminalProgress(sys.stderr, enabled=sys.stderr.isatty() and not args.json, on_result=show)
    try:
        results = kb.ingest(paths, progress=progress, **_course(args))
    finally:
        progress.clear()
    if not results:
        return _fail("no PDF files found in: " + ", ".join(paths))
    for r in results:  # results a knowledge base did not report as it went
        if not any(r is p for p in printed):
            show(r)
    return 1 if any(r.status == "failed" for r in results) else 0


def _questions(path: str) -> Iterator[str]:
    from bot.errors import InputError

    stream = sys.stdin if path == "-" else None
    try:
        lines = (stream or open(path, encoding="utf-8")).read().splitlines()
    except OSError as e:
        raise InputError(f"cannot read --batch file {path!r}: {e.strerror or e}") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item["question"] if isinstance(item, dict) else None
        except (ValueError, KeyError):
            question = None
        if not isinstance(question, str):
            raise InputError(f"--batch line {n}: expected a JSON object with a 'question' string")
        yield question


@_guard
def run_search(args: argparse.Namespace) -> int:
    from bot.cli.common import print_json

    if args.k < 1 or args.k > 100:
        return _fail("-k must be between 1 and 100", 2)
    if bool(args.batch) == bool(args.query):
        return _fail("give a QUERY or --batch FILE (not both)", 2)
    kb = _kb()
    course = _course(args)
    if args.batch:
        for q in _questions(args.batch):
            print_json({"question": q, "results": [p.to_dict() for p in kb.search(q, args.k, **course)]})
        return 0
    passages = kb.search(args.query, args.k, **course)
    if args.json:
        print_json([p.to_dict() for p in passages])
    else:
        if not passages:
            print("No matching passages.")
        for i, p in enumerate(passages, 1):
            text = " ".join(p.text.split())
            print(f"{i}. {p.source}, page {p.page}  (score {p.score:.3f})\n   {text[:300]}")
    return 0


def _answer_dict(answer: Any) -> dict[str, Any]:
    return answer.to_dict()


@_guard
def run_ask(args: argparse.Namespace) -> int:
    from bot.cli.common import print_json, server_url

    if bool(args.batch) == bool(args.question):
        return _fail("give a QUESTION or --batch FILE (not both)", 2)
    kb = _kb()
    course = _course(args)
    if args.batch:
        for q in _questions(args.batch):
            print_json({"question": q, **_answer_dict(kb.ask(q, **course))})
        return 0
    answer = kb.ask(args.question, **course)
    if args.json:
        print_json(_answer_dict(answer))
    else:
        from bot import services as services_module
        from bot.cli.common import TerminalView, render_text
        from bot.turn import Reply

        # the sources as the chat prints them: local paths, links only while a web chat answers them
        services = services_module.default()
        view = TerminalView(services, server_url(services.settings))
        print(render_text(Reply(text=answer.text, citations=tuple(answer.citations)), view))
    return 0


@_guard
def run_list(args: argparse.Namespace) -> int:
    from bot.cli.common import print_json

    docs = _kb().list(**_course(args))
    if args.json:
        print_json(docs)
        return 0
    if not docs:
        print("The knowledge base is empty. Add PDFs with: coursebot kb ingest PATH (or --sample).")
    for d in docs:
        extra = f"{_n(d['pages'], 'page')}, {_n(d['chunks'], 'chunk')}" if "pages" in d else f"{d.get('bytes', 0)} bytes"
        print(f"{d['name']}  ({extra})")
    return 0


@_guard
def run_remove(args: argparse.Namespace) -> int:
    if _kb().remove(args.name, **_course(args)):
        print(f"removed {args.name}")
        return 0
    return _fail(f"no PDF named {args.name!r} in the knowledge base (see: coursebot kb list)")


@_guard
def run_courses(args: argparse.Namespace) -> int:
    from bot.cli.common import print_json

    kb = _kb()
    courses = kb.courses() if hasattr(kb, "courses") else []
    if args.json:
        print_json(courses)
        return 0
    if not courses:
        print("No course has documents yet. Add PDFs with: coursebot kb ingest --course NAME PATH.")
    for c in courses:
        print(f"{c['course']}  ({_n(c['documents'], 'document')}, {_n(c['pages'], 'page')}, {_n(c['chunks'], 'chunk')})")
    return 0


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
