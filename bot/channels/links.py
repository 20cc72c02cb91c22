"""The deployed handler path of the short-link redirect Lambda (``bot.channels.links.lambda_handler``
in infra/template.yaml); the code is in bot/aws/shortlinks.py."""

from __future__ import annotations

import logging

from bot.aws.shortlinks import lambda_handler

__all__ = ["lambda_handler"]

if __import__("os").environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # on Lambda: warm up during init
    try:
        from bot.aws.shortlinks import warm

        warm()
    except Exception:  # the handler reports the failure per request
        logging.getLogger(__name__).exception("warm-up failed")
