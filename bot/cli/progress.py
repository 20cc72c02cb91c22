"""A one-line ingest progress display for a terminal: the page being read or indexed and a time estimate.

Used by `coursebot kb ingest` and `/attach` in `coursebot chat`. It writes only when its stream is a
terminal, so pipes and --json output are unchanged; ``on_result`` hears each PDF's result as soon as
that PDF is done.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from bot.capabilities import IngestProgress, IngestResult

# Reading a page's text is much quicker than embedding it: a prior for the estimate before indexing starts.
READ_SHARE = 0.15


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class TerminalProgress:
    """Callable listener for :class:`bot.capabilities.IngestProgress` events."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None,
                 on_result: Callable[[IngestResult], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 width: int = 78):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _isatty(self.stream) if enabled is None else enabled
        self.on_result = on_result
        self.clock = clock
        self.width = width
        self._shown = False
        self._file: tuple[str, int] | None = None
        self._stages: dict[str, list[float]] = {}  # stage -> [start time, start page, last time, last page]
        self._rate: dict[str, float] = {}  # stage -> seconds per page, from PDFs already done

    def __call__(self, event: IngestProgress) -> None:
        if (event.source, event.file) != self._file:
            self._file = (event.source, event.file)
            self._stages = {}
        if event.stage == "done":
            self._finish_file()
            self.clear()
            if self.on_result is not None and event.result is not None:
                self.on_result(event.result)
            return
        now = self.clock()
        span = self._stages.setdefault(event.stage, [now, event.page, now, event.page])
        span[2:] = [now, event.page]
        if not self.enabled:
            return
        line = self._line(event, now)
        self.stream.write("\r" + line[: self.width].ljust(self.width))
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the progress line (before printing a result)."""
        if self._shown:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self._shown = False

    def eta(self, event: IngestProgress, now: float) -> float | None:
        """Seconds left for this PDF, once a rate is known."""
        if not event.pages or event.stage not in ("reading", "indexing") or \
                (event.stage == "indexing" and event.page >= event.pages):
            return None
        rates = dict(self._rate)
        start, first = self._stages.get(event.stage, [now, event.page])[:2]
        if event.page > first and now > start:
            rates[event.stage] = (now - start) / (event.page - first)
        left = event.pages - event.page
        if event.stage == "reading":
            read = rates.get("reading")
            index = rates.get("indexing", read / READ_SHARE * (1 - READ_SHARE) if read else None)
            if read is None or index is None:
                return None
            return left * read + event.pages * index
        index = rates.get("indexing")
        return None if index is None else left * index

    def _line(self, event: IngestProgress, now: float) -> str:
        head = f"[{event.file}/{event.files}] " if event.files > 1 else ""
        text = f"{head}{event.source}: {event.describe()}"
        if event.pages:
            width = 16
            done = int(width * event.page / event.pages)
            text = f"{head}[{'#' * done}{'.' * (width - done)}] {event.source}: {event.describe()}"
        eta = self.eta(event, now)
        if eta is not None:
            text += f" about {_clock(eta)} left"
        return text

    def _finish_file(self) -> None:
        """Keep this PDF's seconds per page for the next PDF's first estimate."""
        for stage, (start, first, last, page) in self._stages.items():
            if stage in ("reading", "indexing") and page > first and last > start:
                self._rate[stage] = (last - start) / (page - first)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
