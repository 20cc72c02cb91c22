"""The web app's file routes: ``GET /files/<key>?expires=&sig=`` serves blobs through signed
expiring links, ``GET /l/<id>`` redirects a short link (bot/shortlinks.py) to a fresh one."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.channels.web.adapter import relative_url
from bot.errors import CoursebotError
from bot.files import sniff
from bot.shortlinks import HEADERS, redirect

# Types /files/ may serve as themselves; anything else is a download (never rendered as HTML).
_SERVABLE = {"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf",
             "audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav", "text/plain"}


def add_file_routes(app: FastAPI, services: Any, base_url: str) -> None:
    """Add ``/files/{key}`` and ``/l/{link_id}`` (GET and HEAD) to ``app``."""

    async def files(key: str, expires: str = "", sig: str = "") -> Response:
        try:
            blobs = services.blobs
        except CoursebotError:
            return JSONResponse({"error": "not_found", "text": "No files are served here."}, status_code=404)
        verify = getattr(blobs, "verify", None)
        if verify is None or not verify(key, expires, sig):
            return JSONResponse({"error": "bad_link", "text": "This link has expired or is not valid. "
                                 "Ask again to get a fresh link."}, status_code=403)
        try:
            path = blobs.path(key)
        except CoursebotError:
            return JSONResponse({"error": "bad_link", "text": "That file name is not allowed."}, status_code=403)
        if not path.is_file():
            return JSONResponse({"error": "not_found", "text": "That file no longer exists."}, status_code=404)
        mime = _served_type(path)
        headers = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
        if mime != "application/pdf":  # Chromium's PDF viewer does not run in a sandboxed document
            headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        disposition = "inline" if mime in _SERVABLE else "attachment"
        return FileResponse(path, media_type=mime, headers=headers, filename=path.name,
                            content_disposition_type=disposition)

    async def short_link(link_id: str) -> Response:
        try:
            store = services.links
        except CoursebotError:
            return Response("Links are not served here.\n", status_code=404, media_type="text/plain",
                            headers=HEADERS)
        status, value = await run_in_threadpool(redirect, store, link_id)
        if status == 302:  # relative, so it works under whichever host name the browser used
            return Response(status_code=302, headers={**HEADERS, "Location": relative_url(value, base_url)})
        return Response(value + "\n", status_code=status, media_type="text/plain", headers=HEADERS)

    app.get("/l/{link_id}", summary="A short link: redirects to a freshly signed /files/ link",
            responses={302: {"description": "to the file"}, 404: {"description": "unknown link"},
                       410: {"description": "expired link, or the file is gone"}})(short_link)
    app.head("/l/{link_id}", include_in_schema=False)(short_link)

    app.get("/files/{key:path}", summary="A stored file, through a signed expiring link",
            responses={200: {"description": "the file (Range requests supported)"},
                       403: {"description": "link changed or expired"}, 404: {"description": "no such file"}})(files)
    app.head("/files/{key:path}", include_in_schema=False)(files)


def _served_type(path: Path) -> str:
    with path.open("rb") as f:
        mime = sniff(f.read(4096))
    if mime in _SERVABLE:
        return "text/plain; charset=utf-8" if mime == "text/plain" else mime
    guessed = mimetypes.guess_type(path.name)[0]  # e.g. MP3 frames without an ID3 tag
    if guessed in _SERVABLE and guessed.startswith("audio/") and mime == "application/octet-stream":
        return guessed
    return "application/octet-stream"

