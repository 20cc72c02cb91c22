"""Who may see insight: the instructor token (until courses and roles exist), compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any


from bot.roles import instructor_token  # noqa: E402,F401 - one instructor token for courses and insight


def is_instructor(offered: Any, token: str) -> bool:
    """Whether ``offered`` (from a URL or cookie) is the instructor token; never true for an empty token."""
    if not token or not isinstance(offered, str) or not offered:
        return False
    return hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), token.encode("utf-8"))
