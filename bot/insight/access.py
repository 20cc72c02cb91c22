"""Who may see insight: the instructor token (until courses and roles exist), compared in constant time."""

from __future__ import annotations

import hmac
import secrets
from typing import Any


def instructor_token(settings: Any) -> tuple[str, bool]:
    """(token, generated): COURSEBOT_INSTRUCTOR_TOKEN, or a fresh random one for this server run."""
    if settings.instructor_token:
        return settings.instructor_token, False
    return secrets.token_urlsafe(24), True


def is_instructor(offered: Any, token: str) -> bool:
    """Whether ``offered`` (from a URL or cookie) is the instructor token; never true for an empty token."""
    if not token or not isinstance(offered, str) or not offered:
        return False
    return hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), token.encode("utf-8"))
