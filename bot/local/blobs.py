"""Local blob store: files under COURSEBOT_HOME/blobs, served through HMAC-signed expiring URLs.

Same semantics as an S3 presigned URL: ``/files/<key>?expires=<unix>&sig=<hex>``; a changed key,
expiry or signature, or a past expiry, is refused by :meth:`LocalBlobStore.verify`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.capabilities import StoredBlob
from bot.errors import InputError
from bot.home import make_dirs, private_dir, write_private

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,7}$")


def check_key(key: str) -> str:
    """A key is a relative path of safe segments: no '..', no leading '/', no backslashes."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise InputError("That file name is not allowed.", code="bad_key")
    return key


class LocalBlobStore:
    def __init__(self, root: str | Path, secret: bytes, base_url: str, default_expiry: int = 3600):
        self.root = private_dir(root)
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.default_expiry = default_expiry

    def path(self, key: str) -> Path:
        p = (self.root / check_key(key)).resolve()
        if self.root.resolve() not in p.parents:
            raise InputError("That file name is not allowed.", code="bad_key")
        return p

    def put(self, key: str, data: bytes, mime: str) -> StoredBlob:
        p = self.path(key)
        make_dirs(p.parent)
        tmp = p.with_name(p.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
        write_private(tmp, data)
        tmp.replace(p)  # atomic: a reader never sees half a file
        expires = int(time.time()) + self.default_expiry
        return StoredBlob(key=key, url=self.url(key, self.default_expiry), path=str(p), expires_at=float(expires))

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as e:
            raise InputError("That file no longer exists.", code="not_found") from e

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> bool:
        """Remove a stored file; False when it was not there."""
        try:
            self.path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def purge(self, prefix: str, older_than: float) -> int:
        """Delete the files under ``prefix`` last written before ``older_than`` (a timestamp); returns how many."""
        root = self.path(prefix.rstrip("/") + "/x").parent
        n = 0
        if root.is_dir():
            for f in root.rglob("*"):
                try:
                    if f.is_file() and f.stat().st_mtime < older_than:
                        f.unlink()
                        n += 1
                except OSError:
                    pass
        return n

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, key: str, expires_in: int | None = None) -> str:
        expires = int(time.time()) + (expires_in or self.default_expiry)
        return f"{self.base_url}/files/{quote(check_key(key))}?expires={expires}&sig={self.sign(key, expires)}"

    def verify(self, key: str, expires: str | int, sig: str, now: float | None = None) -> bool:
        """True when the signature matches key and expiry and the link has not expired."""
        try:
            check_key(key)
            exp = int(expires)
        except (InputError, ValueError, TypeError):
            return False
        if exp < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self.sign(key, exp), str(sig))


def build(settings: Any, services: Any) -> LocalBlobStore:
    return LocalBlobStore(settings.data_dir / "blobs", settings.signing_key(), settings.public_url,
                          settings.url_expiry_seconds)
