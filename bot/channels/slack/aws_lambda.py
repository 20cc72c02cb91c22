"""The Slack app on AWS Lambda: ``bot.channels.slack.lambda_handler`` acks in one invocation and works in a second."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from bot.channels.slack.app import build_app

if TYPE_CHECKING:
    from bot.channels.slack.dedupe import DedupeStore
    from bot.router import Router
    from bot.settings import Settings


def make_lambda_handler(settings: "Settings", router: "Router", client: Any = None, *,
                        lambda_client: Any = None, dedupe: "DedupeStore | None" = None) -> Callable[[dict, Any], dict]:
    """A Lambda handler for API Gateway / function-URL events: the ack goes back in the first
    invocation, the work runs in a second, asynchronous invocation of the same function (Bolt lazy
    listeners; the function needs lambda:InvokeFunction on itself)."""
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    app = build_app(settings, router, client, dedupe=dedupe, workers=1)
    handler = SlackRequestHandler(app)
    if lambda_client is None:
        from bot.aws.clients import make_client as make_aws_client

        lambda_client = make_aws_client("lambda", settings)
    app.listener_runner.lazy_listener_runner = LambdaLazyListenerRunner(handler.logger, lambda_client)
    return handler.handle


_lambda: Callable[[dict, Any], dict] | None = None
_lambda_lock = threading.Lock()


def lambda_handler(event: dict, context: Any) -> dict:
    """The Lambda entry point ``bot.channels.slack.lambda_handler`` (settings from the environment)."""
    global _lambda
    if _lambda is None:
        with _lambda_lock:
            if _lambda is None:
                from bot import services, settings
                from bot.router import Router

                logging.getLogger().setLevel(settings.get().log_level)
                _lambda = make_lambda_handler(settings.get(), Router(services.default()))
    return _lambda(event, context)
