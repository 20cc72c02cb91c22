"""Helpers shared by CLI commands: building the router, attachments, printing replies."""

from __future__ import annotations

import json
import sys
from typing import Any


def configure_logging() -> None:
    import logging

    from bot import settings

    logging.basicConfig(level=settings.get().log_level, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def router():
    from bot import services
    from bot.router import Router

    configure_logging()
    return Router(services.default())


def attachments(paths: list[str] | None, parser_error) -> tuple:
    from bot.files import attachment_from_path

    out = []
    for p in paths or []:
        try:
            out.append(attachment_from_path(p))
        except FileNotFoundError:
            parser_error(f"--attach: no such file: {p!r}")
        except PermissionError:
            # unreadable is a user problem the router explains; keep the name, no content
            from bot.turn import Attachment

            out.append(Attachment(name=p.rsplit("/", 1)[-1], mime="application/octet-stream", path=p))
    return tuple(out)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def render_text(reply) -> str:
    """A reply as plain terminal text: answer, citations, media, suggestions."""
    lines = [reply.text]
    for i, c in enumerate(reply.citations, 1):
        where = f"{c.source}" + (f", page {c.page}" if c.page else "")
        lines.append(f"  [{i}] {where}" + (f" <{c.url}>" if c.url else ""))
    for m in reply.attachments:
        lines.append(f"  ({m.kind}) {m.path or m.url}")
    if reply.suggestions:
        lines.append("  try: " + " | ".join(reply.suggestions))
    return "\n".join(lines)
