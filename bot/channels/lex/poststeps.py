"""Channel post-steps: small functions ``Reply -> Reply`` a channel applies before rendering.

They make a Reply fit a channel's limits without the router or the intents knowing them: short
links for stored files whose URLs are too long to carry (bot/shortlinks.py), and a link to the full
text of an answer longer than the channel shows. Lex uses both; any channel with such limits can.
A step never raises: when its store is missing or fails, the Reply goes on unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any, Callable, Iterable

from bot import shortlinks
from bot.turn import Media, Reply

log = logging.getLogger(__name__)

PostStep = Callable[[Reply], Reply]


def apply(reply: Reply, steps: Iterable[PostStep]) -> Reply:
    """``reply`` after each step in order."""
    for step in steps:
        reply = step(reply)
    return reply


# --- short links ------------------------------------------------------------------------------------
def needs_short_link(url: str | None, max_chars: int) -> bool:
    """Whether a channel should carry a short link instead of ``url``: longer than ``max_chars``, or
    a signed URL (an S3 presigned one lives only as long as the signing Lambda's session credentials;
    any signed URL is a long string of parameters a person should not have to read)."""
    return bool(url) and (len(url) > max_chars or shortlinks.is_signed(url))


def short_links(services: Any, max_url_chars: int) -> PostStep:
    """The step that replaces the reply's long media and citation URLs by short links."""
    return lambda reply: with_short_links(reply, services, max_url_chars)


def with_short_links(reply: Reply, services: Any, max_url_chars: int) -> Reply:
    """The reply with short links (``services.links``) for its media and citation URLs that need
    one, also where the text repeats them. Only URLs the reply carries as media or citations are
    shortened (never a URL the user typed); a URL that cannot be shortened is left as it is."""
    wanted = [m.url for m in reply.attachments if needs_short_link(m.url, max_url_chars)]
    wanted += [c.url for c in reply.citations if needs_short_link(c.url, max_url_chars)]
    if not wanted:
        return reply
    try:
        store = services.links
    except Exception:  # no link store on this backend: the long links are explained instead
        log.warning("short links are not available", exc_info=True)
        return reply
    short: dict[str, str] = {}
    for url in dict.fromkeys(wanted):
        try:
            short[url] = store.shorten(url)
        except Exception:
            log.warning("could not shorten a %d-character link", len(url), exc_info=True)
    if not short:
        return reply
    text = reply.text
    for url in sorted(short, key=len, reverse=True):  # a URL may contain a shorter one (a #page= fragment)
        text = text.replace(url, short[url])
    return reply.with_(
        text=text,
        attachments=tuple(dataclasses.replace(m, url=short[m.url]) if m.url in short else m for m in reply.attachments),
        citations=tuple(dataclasses.replace(c, url=short[c.url]) if c.url in short else c for c in reply.citations),
    )


# --- length limits ----------------------------------------------------------------------------------
def full_text_link(services: Any, fits: Callable[[Reply], bool], prefix: str) -> PostStep:
    """The step that adds a link to the full text when ``fits(reply)`` says the channel cannot show
    it all (and the reply carries no file of its own to point at)."""

    def step(reply: Reply) -> Reply:
        if fits(reply) or any(m.kind == "file" for m in reply.attachments):
            return reply
        return with_full_text_link(reply, services, prefix)

    return step


def with_full_text_link(reply: Reply, services: Any, prefix: str) -> Reply:
    """The reply with a link to its full text, stored in the blob store under ``prefix``;
    unchanged when no blob store is available."""
    try:
        blob = services.blobs.put(f"{prefix}{uuid.uuid4().hex}.txt", reply.text.encode("utf-8"),
                                  "text/plain; charset=utf-8")
    except Exception:  # no blob store on this backend, or it failed: the answer is shortened instead
        log.warning("could not store the full text of a long answer", exc_info=True)
        return reply
    link = Media(kind="file", mime="text/plain", url=blob.url, path=blob.path, title="Full answer",
                 expires_at=blob.expires_at)
    return reply.with_(attachments=(*reply.attachments, link))
