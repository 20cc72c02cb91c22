"""SQLite files in COURSEBOT_HOME shared by threads and processes: one WAL connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def connect(path: str | Path, *, timeout: float = 10, check_same_thread: bool = True) -> sqlite3.Connection:
    """An autocommit connection in WAL mode (readers never block the writer; other processes lock via SQLite)."""
    db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=check_same_thread)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class PerThread:
    """One connection per thread to one file, opened on first use in that thread.

    Args:
        path: the SQLite file.
        timeout: seconds to wait for another writer's lock.
    """

    def __init__(self, path: str | Path, *, timeout: float = 10):
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, timeout=self.timeout, check_same_thread=False)
            self._local.db = db
        return db
