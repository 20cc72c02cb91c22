"""Ingest progress reporting: the listener a channel sets while it handles a turn, and the page tracker
the knowledge bases use to report reading and indexing page by page.

A channel that can show progress (the terminal chat, the web chat) wraps its call to the router in
``watching(listener)``; the AskCoursePdfs intent passes ``current()`` to the knowledge base's ingest.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from bot.capabilities import IngestListener, IngestProgress, IngestResult

log = logging.getLogger(__name__)

_listener: ContextVar[IngestListener | None] = ContextVar("coursebot_ingest_listener", default=None)


@contextmanager
def watching(listener: IngestListener | None) -> Iterator[None]:
    """Report the progress of ingests started in this context (this thread or task) to ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def current() -> IngestListener | None:
    return _listener.get()


class Reporter:
    """Sends one PDF's progress events to a listener; a failing listener never fails the ingest."""

    def __init__(self, listener: IngestListener | None, source: str, file: int = 1, files: int = 1):
        self.listener = listener
        self.source = source
        self.file = file
        self.files = files
        self.pages = 0

    def __call__(self, stage: str, page: int = 0, pages: int | None = None, *, status: str | None = None,
                 result: IngestResult | None = None) -> None:
        if pages is not None:
            self.pages = pages
        if self.listener is None:
            return
        event = IngestProgress(self.source, stage, page, self.pages, self.file, self.files, status, result)
        try:
            self.listener(event)
        except Exception:  # a display problem must not lose the PDF
            log.warning("ingest progress listener failed", exc_info=True)
            self.listener = None

    def done(self, result: IngestResult) -> IngestResult:
        self("done", self.pages, result.pages or self.pages, result=result)
        return result
