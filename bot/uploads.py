"""PDFs sent in a chat: checked against the student's quotas, then read and indexed by a worker
queue outside the request, one upload at a time per user (a big file never blocks anyone else)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from bot.capabilities import IngestResult
from bot.quotas import DAY, HOUR, wait_sentence

log = logging.getLogger(__name__)


class UploadQueue:
    """Runs jobs on ``workers`` threads; the jobs of one user run one after another, in order."""

    def __init__(self, workers: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload-worker")
        self._queues: dict[str, deque[tuple[Callable[[], Any], Future]]] = {}
        self._lock = threading.Lock()

    def submit(self, user: str, job: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._lock:
            queue = self._queues.get(user)
            if queue is not None:  # the user's drain is running: it picks this up
                queue.append((job, future))
                return future
            self._queues[user] = deque([(job, future)])
        self.pool.submit(self._drain, user)
        return future

    def _drain(self, user: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[user]
                if not queue:
                    del self._queues[user]
                    return
                job, future = queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as e:  # the caller's future carries it
                future.set_exception(e)


def add_upload(services: Any, *, name: str, data: bytes, user: str, course: str, owner: str | None,
               progress: Any = None) -> IngestResult:
    """Index one chat upload: privately for ``owner`` (a student's, under quotas and limits), or into
    ``course`` (an instructor's choice, ``owner=None``; limits still apply)."""
    from kb.pdf_limits import PdfLimits

    settings = services.settings
    limits = PdfLimits.from_settings(settings)
    kb = services.kb
    if owner is None:
        return kb.ingest_bytes(name, data, course=course, limits=limits, progress=progress)
    quotas = services.quotas
    wait = quotas.take("uploads", user, 1, settings.uploads_per_hour, HOUR)
    if wait is not None:
        return IngestResult(name, "failed", reason=f"You have sent {settings.uploads_per_hour} PDFs this hour, the most "
                            f"I read per hour; please {wait_sentence(wait)}. Nothing was lost: your questions still work.")

    def admit(pages: int) -> str | None:
        left = quotas.take("pages", user, pages, settings.upload_pages_per_day, DAY)
        if left is None:
            return None
        return (f"'{name}' has {pages} pages, more than are left of the {settings.upload_pages_per_day} pages I read "
                f"per student per day; please {wait_sentence(left)}, or send a shorter PDF.")

    return kb.ingest_bytes(name, data, course=course, owner=owner, limits=limits,
                           ttl_seconds=settings.upload_ttl_seconds, admit=admit, progress=progress)


def build(settings: Any, services: Any) -> UploadQueue:
    return UploadQueue(settings.upload_workers)
