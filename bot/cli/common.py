"""Helpers shared by CLI commands: building the router, attachments, printing replies."""

from __future__ import annotations

import json
import os
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


def server_url(settings) -> str | None:
    """Where a web chat answers links now: COURSEBOT_PUBLIC_URL when the operator set it (a server or
    proxy they run), else the address `coursebot serve` recorded in COURSEBOT_HOME while it runs."""
    import os

    from bot.cli.serve import running_server

    explicit = os.environ.get("COURSEBOT_PUBLIC_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    return running_server(settings.data_dir)


def local_file(url: str | None, services) -> tuple[str, int | None] | None:
    """``(path, page)`` of the file behind one of this machine's signed file links (a cited PDF, an
    audio file), when the link verifies and the file is here; None otherwise."""
    from urllib.parse import parse_qs, unquote, urlsplit

    if not url:
        return None
    try:
        blobs = services.blobs
    except Exception:  # no blob store configured: nothing is local
        return None
    if not hasattr(blobs, "verify") or not hasattr(blobs, "path"):
        return None  # S3: the link is the way to the file
    head, _, fragment = url.partition("#")
    parts = urlsplit(head)
    if not parts.path.startswith("/files/"):
        return None
    key = unquote(parts.path[len("/files/"):])
    query = parse_qs(parts.query)
    if not blobs.verify(key, (query.get("expires") or [""])[0], (query.get("sig") or [""])[0]):
        return None
    try:
        path = blobs.path(key)
    except Exception:
        return None
    if not path.is_file():
        return None
    page = int(fragment[5:]) if fragment.startswith("page=") and fragment[5:].isdigit() else None
    return str(path), page


class TerminalView:
    """How the terminal shows a reply's sources and media: local file paths, and links only when a
    web chat is known to answer them (:func:`server_url`); links to other servers (S3) as they are."""

    def __init__(self, services, server: str | None = None):
        self.services = services
        self.server = server
        blobs = None
        try:
            blobs = services.blobs
        except Exception:
            pass
        self.base = str(getattr(blobs, "base_url", "") or "").rstrip("/")

    @classmethod
    def for_router(cls, router) -> "TerminalView":
        return cls(router.services, server_url(router.settings))

    def link(self, url: str | None) -> str | None:
        """``url`` as the terminal may print it: a local server's link rebased onto the running
        server, None when no server answers it."""
        if not url:
            return None
        if self.base and url.startswith(self.base + "/"):
            return self.server + url[len(self.base):] if self.server else None
        return url

    def target(self, url: str | None, page: int | None = None) -> tuple[str, int | None] | None:
        """What `/open` opens for a citation or media: the local file (and page), else a link."""
        found = local_file(url, self.services)
        if found:
            return found[0], found[1] or page
        shown = self.link(url)
        return (shown, page) if shown else None

    def render(self, reply) -> str:
        """A reply as plain terminal text: answer, citations, media, suggestions."""
        lines = [reply.text]
        for i, c in enumerate(reply.citations, 1):
            line = f"  [{i}] {c.source}" + (f", page {c.page}" if c.page else "")
            found = local_file(c.url, self.services)
            if found:
                line += f": {found[0]}"
            shown = self.link(c.url)
            if shown:
                line += f" <{shown}>"
            lines.append(line)
        for m in reply.attachments:
            found = m.path if m.path and os.path.isfile(m.path) else (local_file(m.url, self.services) or (None,))[0]
            shown = self.link(m.url)
            where = " ".join(x for x in (found, f"<{shown}>" if shown else None) if x)
            lines.append(f"  ({m.kind}) {where or m.title or ''}".rstrip())
        if reply.suggestions:
            lines.append("  try: " + " | ".join(reply.suggestions))
        return "\n".join(lines)


def render_text(reply, view: TerminalView | None = None) -> str:
    """A reply as plain terminal text (see :class:`TerminalView`); without a view, only what the reply
    carries is shown, with no links to this machine's web server."""
    from bot.services import default

    return (view or TerminalView(default())).render(reply)
