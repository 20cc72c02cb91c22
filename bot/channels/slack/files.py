"""Slack file I/O: download the files a user shares (bot token, Slack's hosts only, size-capped) and upload generated media."""

from __future__ import annotations

import logging
import mimetypes
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from bot.channels.slack.blocks import safe_url
from bot.errors import InputError
from bot.files import attachment_from_bytes
from bot.turn import Attachment, Media

log = logging.getLogger(__name__)

MAX_FILES = 5  # files handled per message; more get a clear reply
FILE_HOSTS = ("files.slack.com", "files-edge.slack.com")  # where url_private points; our token goes nowhere else


class UploadFailed(Exception):
    """A generated file could not be uploaded into the thread; ``title`` names it for the user."""

    def __init__(self, title: str):
        super().__init__(title)
        self.title = title


def file_hosts(api_url: str | None) -> set[str]:
    """The hosts our bot token may be sent to: Slack's file hosts, and a configured API host (a proxy, a test fake)."""
    api = urlparse(api_url or "https://slack.com/api/")
    return set(FILE_HOSTS) | ({api.hostname} if api_url and api.hostname else set())


def download(files: list[dict[str, Any]], client: Any, limit: int, hosts: set[str]) -> tuple[Attachment, ...]:
    """The files shared with a message, downloaded with the bot token; sizes checked first.

    Raises:
        InputError: too many or too large files, or a file Slack would not give us.
    """
    files = [f for f in files if f.get("mode") not in ("tombstone", "hidden_by_limit")]
    if len(files) > MAX_FILES:
        raise InputError(f"You shared {len(files)} files; I can handle up to {MAX_FILES} per message.",
                         code="too_many_files")
    out = []
    for f in files:
        if f.get("file_access") == "check_file_info" or not (f.get("url_private_download") or f.get("url_private")):
            f = _files_info(client, f)
        name = f.get("name") or f.get("title") or f.get("id") or "upload"
        size = f.get("size")
        if isinstance(size, int) and size > limit:
            raise InputError(f"'{name}' is {size / 1e6:.1f} MB; the most I accept is {limit / 1e6:.0f} MB.",
                             code="attachment_too_large")
        url = f.get("url_private_download") or f.get("url_private")
        data = fetch(url, client.token, limit, name, hosts)
        out.append(attachment_from_bytes(name, data))
    return tuple(out)


def fetch(url: str | None, token: str | None, limit: int, name: str, hosts: set[str]) -> bytes:
    """Download a url_private with the bot token, refusing other hosts and more than ``limit`` bytes."""
    parsed = urlparse(url or "")
    if parsed.hostname not in hosts or parsed.scheme not in ("https", "http") or (
            parsed.scheme == "http" and parsed.hostname in FILE_HOSTS):
        raise InputError(f"I couldn't download '{name}' from Slack.", code="attachment_unreadable")
    opener = urllib.request.build_opener(_SameHostsRedirect(hosts))
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]
    try:
        with opener.open(req, timeout=20) as resp:
            data = resp.read(limit + 1)
            ctype = resp.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as e:
        log.warning("download of a Slack file failed: %s", e)
        raise InputError(f"I couldn't download '{name}' from Slack. Please try again.",
                         code="attachment_unreadable") from e
    if len(data) > limit:
        raise InputError(f"'{name}' is larger than {limit / 1e6:.0f} MB, the most I accept.",
                         code="attachment_too_large")
    if ctype.startswith("text/html") and data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        # Slack answers a sign-in page when the token may not read the file (scope files:read)
        raise InputError(f"Slack didn't let me read '{name}'. The app may be missing the files:read permission.",
                         code="attachment_forbidden")
    return data


class _SameHostsRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within Slack's file hosts: the bot token must not travel elsewhere."""

    def __init__(self, hosts: set[str]):
        self.hosts = hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        if urlparse(newurl).hostname not in self.hosts:
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _files_info(client: Any, f: dict[str, Any]) -> dict[str, Any]:
    from slack_sdk.errors import SlackApiError

    try:
        return client.files_info(file=f.get("id"))["file"]
    except (SlackApiError, KeyError, TypeError) as e:
        raise InputError(f"I couldn't open '{f.get('name') or 'the file'}' from Slack.",
                         code="attachment_unreadable") from e


def _fetch_media(url: str, limit: int) -> bytes:
    """The bytes behind a generated file's link (ours: S3 presigned or a local blob URL), size-capped."""
    with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 - http(s) checked by safe_url
        data = resp.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"generated file larger than {limit} bytes")
    return data


def _uploadable(path: str | None) -> bool:
    return bool(path) and os.path.isfile(path)  # type: ignore[arg-type]


def upload(client: Any, channel: str | None, thread_ts: str | None, media: Media, limit: int) -> None:
    """Upload generated audio or an image into the thread with files_upload_v2: the local file, else
    the bytes behind its URL (an expiring S3 or blob link).

    Raises:
        UploadFailed: nothing was uploaded (the caller offers the link instead).
    """
    from slack_sdk.errors import SlackApiError

    ext = mimetypes.guess_extension(media.mime) or ""
    name = os.path.basename(media.path or "") or os.path.basename(urlparse(media.url or "").path) or media.kind + ext
    title = media.title or name
    try:
        if not channel:
            raise ValueError("no channel to upload into")
        if _uploadable(media.path):
            source: dict[str, Any] = {"file": media.path}
        elif safe_url(media.url):
            source = {"content": _fetch_media(media.url, limit)}  # type: ignore[arg-type]
        else:
            raise ValueError("no file and no URL")
        client.files_upload_v2(channel=channel, thread_ts=thread_ts, filename=name, title=title, **source)
    except (SlackApiError, ValueError, OSError) as e:
        log.warning("upload of %s failed: %s", name, e)
        raise UploadFailed(title) from e
