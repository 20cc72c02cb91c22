"""Opening a cited PDF at its page with the desktop's own opener (`/open N` in `coursebot chat`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Desktop PDF viewers that take a page on their command line, by a word of their .desktop file's name
# (what `xdg-mime query default application/pdf` answers): word, program, arguments before the path.
PAGE_VIEWERS = (
    ("evince", "evince", lambda page: [f"--page-index={page}"]),
    ("okular", "okular", lambda page: ["-p", str(page)]),
    ("zathura", "zathura", lambda page: ["-P", str(page)]),
    ("atril", "atril", lambda page: [f"--page-index={page}"]),
    ("xreader", "xreader", lambda page: [f"--page-index={page}"]),
)
XDG_TIMEOUT = 10  # seconds xdg-open may take to hand the file over


def _has_desktop() -> bool:
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _default_pdf_app() -> str:
    """The desktop's default application for PDFs, e.g. ``org.gnome.Evince.desktop`` ('' when unknown)."""
    query = shutil.which("xdg-mime")
    if not query:
        return ""
    try:
        out = subprocess.run([query, "query", "default", "application/pdf"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().lower()


def _detached(argv: list[str]) -> None:
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def open_file(target: str, page: int | None = None) -> str:
    """Open ``target`` (a local PDF path, or an http(s) link) with the desktop's opener; the sentence
    to print: what was opened, or plainly why nothing could be."""
    is_path = not target.startswith(("http://", "https://"))
    if is_path and not Path(target).is_file():
        return f"The file {target} is not there any more."
    at = f" (page {page})" if page else ""
    if not _has_desktop():
        return f"There is no desktop here to open it on. The file is {target}{at}."
    if sys.platform == "darwin":
        opener = shutil.which("open")
        if not opener:
            return f"I can't find the `open` program. The file is {target}{at}."
        _detached([opener, target])
        return f"Opened {target}" + (f"; the passage is on page {page}." if page else ".")
    if is_path and page:
        default = _default_pdf_app()
        for word, program, page_args in PAGE_VIEWERS:
            exe = shutil.which(program)
            if word in default and exe:
                _detached([exe, *page_args(page), target])
                return f"Opened {target} at page {page}."
    opener = shutil.which("xdg-open")
    if not opener:
        return f"This desktop has no opener (xdg-open). The file is {target}{at}."
    try:
        done = subprocess.run([opener, target], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=XDG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:  # still handing over: the viewer is starting
        done = None
    except OSError:
        return f"xdg-open could not run. The file is {target}{at}."
    if done is not None and done.returncode != 0:
        return f"This desktop has no application for this file. The file is {target}{at}."
    return f"Opened {target}" + (f"; the passage is on page {page}." if page else ".")
