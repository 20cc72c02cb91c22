"""Short-link redirects: ``GET /l/<id>`` -> 302 to a freshly signed URL of the file.

``redirect`` is shared by the web app (locally) and ``lambda_handler``, the Lambda behind the AWS
stack's HTTP API route ``GET /l/{id}`` (API Gateway payload format 2.0). Unknown links get 404,
expired ones 410, with a plain-text sentence a person can read; never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

UNAVAILABLE = "Links are not working right now. Please try again in a moment."
INTERNAL = "Something went wrong on our side while opening this link. Please try again."
_STATUS = {"link_not_found": 404, "link_expired": 410}
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


def redirect(store: Any, link_id: str) -> tuple[int, str]:
    """``(302, url)`` for a live link, else ``(status, message)``: 404 unknown, 410 expired or the
    file is gone, 503 the store or the signing failed."""
    from bot.errors import CoursebotError, InputError
    from bot.links import LinkError

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


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """HTTP API (payload 2.0) handler for ``GET /l/{id}``. Always returns a response."""
    try:
        link_id = _link_id(event)
        from bot import services

        status, value = redirect(services.default().links, link_id)
    except Exception:
        log.exception("short link redirect failed")
        status, value = 500, INTERNAL
    if status == 302:
        return {"statusCode": 302, "headers": {**HEADERS, "Location": value}, "body": ""}
    return {"statusCode": status, "headers": {**HEADERS, "Content-Type": "text/plain; charset=utf-8"},
            "body": value + "\n"}


def _link_id(event: Any) -> str:
    event = event if isinstance(event, dict) else {}
    params = event.get("pathParameters") if isinstance(event.get("pathParameters"), dict) else {}
    value = params.get("id")
    if not isinstance(value, str):
        path = event.get("rawPath") if isinstance(event.get("rawPath"), str) else ""
        value = path.rsplit("/l/", 1)[1] if "/l/" in path else ""
    return value.strip("/")


if __import__("os").environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # on Lambda: our log level, clients built at init
    try:
        from bot import settings as _settings

        logging.getLogger().setLevel(_settings.get().log_level)
        from bot import services as _services

        getattr(_services.default().links, "s3", None)  # both clients built during init, not per request
    except Exception:  # the handler reports the failure per request
        log.exception("warm-up failed")
