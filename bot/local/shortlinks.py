"""Local short links: a SQLite table in COURSEBOT_HOME; ``GET /l/<id>`` in the web app redirects
to a freshly signed ``/files/<key>`` URL of the local blob store."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot import shortlinks
from bot.local.blobs import check_key
from bot.shortlinks import EXPIRED, GONE, LinkError, ShortLink

KEEP_EXPIRED_SECONDS = 7 * 86400  # an expired link still answers "expired" (410) for a week, then "unknown"


class SqliteLinkStore:
    """Short links to blobs of a :class:`~bot.local.blobs.LocalBlobStore`.

    Args:
        path: the SQLite file.
        blobs: the blob store the links point into (signs the redirect target).
        base_url: what goes in front of ``/l/<id>`` (COURSEBOT_SHORT_LINK_BASE_URL, else the web server's URL).
        expiry: default lifetime of a link in seconds (COURSEBOT_SHORT_LINK_EXPIRY_SECONDS).
        url_expiry: lifetime of the signed URL a redirect hands out (COURSEBOT_URL_EXPIRY_SECONDS).
    """

    def __init__(self, path: str | Path, blobs: Any, base_url: str | None, expiry: int = 86400,
                 url_expiry: int = 3600):
        self.path = str(path)
        self.blobs = blobs
        self.base_url = base_url
        self.expiry = expiry
        self.url_expiry = url_expiry
        self._local = threading.local()
        self._db().execute("CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, target TEXT NOT NULL, "
                           "expires REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    # --- LinkStore ----------------------------------------------------------------------------------
    def shorten(self, key_or_url: str, expires_in: int | None = None) -> str:
        """A short URL for a blob key, or for a signed ``/files/`` URL of this blob store.

        Raises:
            InputError: ``not_linkable`` for any other URL (or a changed or expired signature),
                ``bad_key`` for a key that is not a safe blob key.
        """
        target = self.target_of(key_or_url)
        seconds = shortlinks.lifetime(expires_in, self.expiry)
        db = self._db()
        now = time.time()
        db.execute("DELETE FROM links WHERE expires < ?", (now - KEEP_EXPIRED_SECONDS,))
        for _ in range(shortlinks.MAX_ATTEMPTS):
            link_id = shortlinks.new_id()
            try:
                db.execute("INSERT INTO links (id, target, expires) VALUES (?, ?, ?)",
                           (link_id, json.dumps(target), now + seconds))
            except sqlite3.IntegrityError:  # the id exists: never overwrite someone else's link
                continue
            return shortlinks.short_url(self.base_url, link_id)
        raise RuntimeError("could not find a free link id")  # 128-bit ids: does not happen

    def resolve(self, link_id: str) -> ShortLink:
        """The stored link. Raises LinkError: ``link_not_found`` or ``link_expired``."""
        shortlinks.check_id(link_id)
        row = self._db().execute("SELECT target, expires FROM links WHERE id = ?", (link_id,)).fetchone()
        if row is None:
            raise LinkError(shortlinks.NOT_FOUND, code="link_not_found")
        link = ShortLink(link_id, json.loads(row[0]), float(row[1]))
        if link.expired():
            raise LinkError(EXPIRED, code="link_expired")
        return link

    def target_url(self, link: ShortLink) -> str:
        """A freshly signed URL of the link's file. Raises LinkError(link_expired) when the file is gone."""
        key = link.target.get("blob", "")
        exists = getattr(self.blobs, "exists", None)
        if exists is not None and not exists(key):
            raise LinkError(GONE, code="link_expired")
        url = self.blobs.url(key, self.url_expiry)
        fragment = link.target.get("fragment")
        return f"{url}#{fragment}" if fragment else url

    # --- what a link may point at ---------------------------------------------------------------------
    def target_of(self, key_or_url: str) -> dict[str, Any]:
        """``{"blob": key[, "fragment": ...]}`` for a blob key or a valid signed URL of our blob store."""
        if not shortlinks.is_url(key_or_url):
            return {"blob": check_key(key_or_url)}
        url, fragment = shortlinks.split_fragment(key_or_url)
        base = str(getattr(self.blobs, "base_url", "")).rstrip("/")
        if not base or not url.startswith(base + "/files/"):
            raise shortlinks.not_ours()
        parts = urlsplit(url)
        key = unquote(parts.path[len(urlsplit(base).path) + len("/files/"):])
        query = parse_qs(parts.query)
        expires, sig = query.get("expires", [""])[0], query.get("sig", [""])[0]
        verify = getattr(self.blobs, "verify", None)
        if verify is None or not verify(key, expires, sig):  # a link is never a way around the signature
            raise shortlinks.not_ours()
        target: dict[str, Any] = {"blob": key}
        if fragment:
            target["fragment"] = fragment
        return target


def build(settings: Any, services: Any) -> SqliteLinkStore:
    return SqliteLinkStore(settings.data_dir / "links.sqlite3", services.blobs,
                           settings.short_link_base_url or settings.public_url,
                           settings.short_link_expiry_seconds, settings.url_expiry_seconds)
