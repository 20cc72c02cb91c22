"""Who may change the course: instructors (CLI operator, web token, Slack user ids, IAM on AWS); everyone else is a student."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

INSTRUCTOR = "instructor"
STUDENT = "student"


def instructor_token(settings: Any) -> tuple[str, bool]:
    """(token, generated): COURSEBOT_INSTRUCTOR_TOKEN, or a fresh random one for this server run."""
    if settings.instructor_token:
        return settings.instructor_token, False
    return secrets.token_urlsafe(24), True


def is_instructor_token(offered: Any, token: str | None) -> bool:
    """Whether ``offered`` (from a URL or cookie) is the instructor token, compared in constant time;
    never true for an empty token."""
    if not token or not isinstance(offered, str) or not offered:
        return False
    return hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def token_cookie(token: str) -> str:
    """What the browser keeps instead of the token itself (an HMAC of it): the cookie value."""
    return hmac.new(token.encode(), b"coursebot instructor", hashlib.sha256).hexdigest()


def slack_instructors(settings: Any) -> frozenset[str]:
    """The Slack user ids in COURSEBOT_SLACK_INSTRUCTORS."""
    return frozenset(u.strip() for u in (settings.slack_instructors or "").replace(" ", ",").split(",") if u.strip())


def owner_of(conversation: str) -> str:
    """The private owner id of a conversation's uploads: a hash of its key (the key itself never becomes a path)."""
    return hashlib.sha256(conversation.encode("utf-8", "surrogatepass")).hexdigest()[:32]
