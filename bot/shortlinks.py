"""Short links: a 22-character unguessable id that stands for one of our stored files.

Lex V2 messages hold at most 1,024 characters and an image card's URL at most 250, but an S3
presigned URL signed with a Lambda role's session credentials is about 1.3 KB. A short link
``<base>/l/<id>`` is stored with an expiry; opening it redirects to a freshly signed URL of the
file (``GET /l/<id>`` in the web app locally, the Lambda in ``bot.aws.shortlinks`` on AWS); both
answer through :func:`redirect`.

Links only ever point at our own stores (the blob store, the course-PDF bucket): a URL from
anywhere else is refused, so a link can never become an open redirect.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.errors import CoursebotError, InputError, NotAvailable

log = logging.getLogger(__name__)

ID_BYTES = 16  # 128 random bits
ID_CHARS = 22  # base64url of 16 bytes, without padding
PATH = "/l/"
_ID = re.compile(r"^[A-Za-z0-9_-]{%d}$" % ID_CHARS)
MAX_ATTEMPTS = 5  # a fresh id on the (astronomically unlikely) collision

NOT_FOUND = "This link is not valid. Please ask the bot again for a fresh link."
EXPIRED = "This link has expired. Please ask the bot again for a fresh link."
GONE = "The file behind this link no longer exists (generated files are deleted after a while). Please ask again."
UNAVAILABLE = "Links are not working right now. Please try again in a moment."
# what every redirect answer carries (a link must not leak through a Referer or be cached)
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
_STATUS = {"link_not_found": 404, "link_expired": 410}


# A signed, expiring file link: ours (``?expires=…&sig=…``) or an S3 presigned URL. Such a link belongs in
# a reply's media and citations (a player, an upload, a labelled link), never in text a person reads.
SIGNED_URL = re.compile(r"https?://[^\s<>|]*?[?&](?:expires|sig|X-Amz-Signature|X-Amz-Credential|Signature)=[^\s<>|]*",
                        re.I)


def is_signed(url: str | None) -> bool:
    """Whether ``url`` is a signed, expiring link (local signed file URL or S3 presigned URL)."""
    return bool(url) and SIGNED_URL.fullmatch(url.strip()) is not None


class LinkError(InputError):
    """An unknown (``link_not_found``) or expired (``link_expired``) short link."""


@dataclass(frozen=True)
class ShortLink:
    """One stored link: its id, what it points at (a store-specific dict) and when it expires."""

    id: str
    target: dict[str, Any] = field(default_factory=dict)
    expires_at: float = 0.0

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at <= (time.time() if now is None else now)


def new_id() -> str:
    """128 random bits, URL-safe (``[A-Za-z0-9_-]{22}``)."""
    return secrets.token_urlsafe(ID_BYTES)


def valid_id(link_id: Any) -> bool:
    return isinstance(link_id, str) and bool(_ID.match(link_id))


def check_id(link_id: Any) -> str:
    """The id, or LinkError(link_not_found) without asking the store when it cannot be one of ours."""
    if not valid_id(link_id):
        raise LinkError(NOT_FOUND, code="link_not_found")
    return link_id


def short_url(base_url: str | None, link_id: str) -> str:
    """``<base>/l/<id>``; NotAvailable when there is no base URL to put in front."""
    if not base_url:
        raise NotAvailable("Short links need a public address: set COURSEBOT_SHORT_LINK_BASE_URL.",
                           code="not_configured")
    return f"{base_url.rstrip('/')}{PATH}{link_id}"


def lifetime(expires_in: int | None, default: int) -> int:
    """Seconds a new link lives: the caller's value (at least 1 s), else the setting."""
    seconds = int(expires_in) if expires_in is not None else int(default)
    if seconds < 1:
        raise InputError("A link must live at least one second.", code="bad_expiry")
    return seconds


def split_fragment(url: str) -> tuple[str, str]:
    """``("https://x/y?q", "page=3")`` for ``https://x/y?q#page=3``: citations open a PDF at a page."""
    head, _, fragment = url.partition("#")
    return head, fragment


def is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def not_ours() -> InputError:
    return InputError("Only links to files this bot stored can be shortened.", code="not_linkable")


def redirect(store: Any, link_id: str) -> tuple[int, str]:
    """``(302, url)`` for a live link, else ``(status, message)``: 404 unknown, 410 expired or the
    file is gone, 503 the store or the signing failed. Unknown links get 404 and expired ones 410,
    each with a sentence a person can read; never a traceback."""
    try:
        link = store.resolve(link_id)
        return 302, store.target_url(link)
    except LinkError as e:
        return _STATUS.get(e.code, 404), e.user_message
    except InputError as e:  # a stored target outside our buckets (never written by us)
        log.warning("short link %s points outside our stores: %s", link_id, e.code)
        return 404, e.user_message
    except CoursebotError as e:
        log.warning("short link %s could not be resolved: %s", link_id, e.user_message)
        return 503, UNAVAILABLE
