"""COURSEBOT_HOME is private to the bot's user: folders 0700 and files 0600, set when they are made.

Every store that keeps files there (SQLite databases, blobs, the secret key) creates them through
these functions, so the process umask never decides who can read conversations or uploads.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """``path`` (and missing parents) created 0700; an existing folder of ours is tightened to 0700
    unless it is a shared sticky folder such as /tmp."""
    p = Path(path)
    make_dirs(p)
    try:
        st = p.stat()
        if st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o077 | 0o700)
    except OSError:  # not ours to change: leave it
        pass
    return p


def make_dirs(path: str | Path) -> Path:
    """``path`` and its missing parents, each created 0700 (``mkdir(parents=True)`` gives parents
    the umask's mode)."""
    p = Path(path)
    missing = []
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
    return Path(path)


def private_file(path: str | Path) -> Path:
    """``path`` created empty with 0600 when missing (SQLite then opens it and gives its journal
    files the same mode); an existing file of ours loses any group and other bits."""
    p = Path(path)
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        try:
            st = p.stat()
            if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
                os.chmod(p, stat.S_IMODE(st.st_mode) & 0o600)
        except OSError:
            pass
    return p


def write_private(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (a new file; an existing one is replaced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, FILE_MODE)  # O_CREAT's mode does not apply to a file that already existed
