"""The Slack app: Bolt wiring and a thin handler per delivery (payload -> Turn -> router -> Block Kit -> post).

Every request is acknowledged at once and the work runs after (a thread pool as a server, a second
asynchronous invocation on Lambda); a retried or replayed delivery is answered once. ``slack_bolt``
is imported only inside functions, so ``import bot`` never needs it.
"""

from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from bot.channels.slack import files
from bot.channels.slack.adapter import (COMMAND, Audience, Incoming, Target, action_to_turn, command_to_turn,
                                        delivery_key, event_to_turn, render)
from bot.channels.slack.blocks import failure_blocks, is_failure, sources_blocks, upload_failure_blocks
from bot.courses import slack_course_map
from bot.errors import ConfigError, CoursebotError
from bot.roles import slack_instructors
from bot.turn import Attachment, Media, Reply, Turn

if TYPE_CHECKING:
    from bot.channels.slack.dedupe import DedupeStore
    from bot.router import Router
    from bot.settings import Settings

log = logging.getLogger(__name__)

from bot.errors import INTERNAL_ERROR as GENERIC_FAILURE  # the one failure sentence


class SlackChannel:
    """Turns Slack deliveries into turns for the router and posts the replies.

    Args:
        settings: coursebot settings (file size limit, Slack API URL).
        router: the one Router.
        dedupe: the seen-delivery store.
    """

    def __init__(self, settings: "Settings", router: "Router", dedupe: "DedupeStore"):
        self.settings = settings
        self.router = router
        self.dedupe = dedupe
        self.file_hosts = files.file_hosts(settings.slack_api_url)
        # instructors (COURSEBOT_SLACK_INSTRUCTORS) and the channel -> course map (COURSEBOT_SLACK_COURSES)
        self.audience = Audience(slack_instructors(settings), slack_course_map(settings))

    # -- dedupe --
    def claim(self, body: dict[str, Any]) -> bool:
        key = delivery_key(body)
        if key is None:
            return True
        try:
            return self.dedupe.claim(key)
        except Exception:  # answering twice beats never answering
            log.exception("dedupe store failed on claim; handling the delivery")
            return True

    def begin(self, body: dict[str, Any]) -> bool:
        key = delivery_key(body)
        if key is None:
            return True
        try:
            return self.dedupe.begin(key)
        except Exception:
            log.exception("dedupe store failed on begin; handling the delivery")
            return True

    # -- deliveries: the pure adapter reads the payload, these do the I/O --
    def on_event(self, body: dict[str, Any], client: Any, bot_user: str | None) -> None:
        """An ``app_mention`` in a channel or a ``message`` in a DM: answer in the thread."""
        if self.begin(body):
            self.handle(event_to_turn(body, bot_user, self.audience), client)

    def on_command(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """``/coursebot <question>``: answered to the user through the command's response_url."""
        if self.begin(body):
            self.handle(command_to_turn(body, self.audience), client, respond)

    def on_action(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """A button on an answer: Read aloud, Show sources, or a suggested follow-up."""
        if self.begin(body):
            self.handle(action_to_turn(body, self.audience), client, respond)

    def handle(self, incoming: Incoming | None, client: Any, respond: Callable[..., Any] | None = None) -> None:
        """Download the shared files, answer the turn (or show the sources) and post it."""
        if incoming is None:
            return
        target = replace(incoming.target, respond=respond) if incoming.private else incoming.target
        if incoming.sources is not None:
            text, blocks = sources_blocks(list(incoming.sources))
            self.post(client, target, text, blocks, ephemeral=True)
            return
        turn = incoming.turn
        if turn is None:
            return
        if incoming.files:
            try:
                turn = turn.with_(attachments=self.download(list(incoming.files), client))
            except CoursebotError as e:
                self.fail(client, target, e.user_message)
                return
        self.answer(client, target, turn)

    # -- doing the work --
    def answer(self, client: Any, target: Target, turn: Turn) -> None:
        """Route the turn and post the reply; any failure becomes a short message, never a traceback."""
        try:
            reply = self.router.handle(turn)
        except Exception:  # Router.handle never raises; this guards the channel anyway
            log.exception("router failed")
            self.fail(client, target, GENERIC_FAILURE)
            return
        self.deliver(client, target, reply)

    def deliver(self, client: Any, target: Target, reply: Reply) -> None:
        text, blocks = render(reply)
        if is_failure(reply):
            self.post(client, target, text, blocks, ephemeral=True)
            return
        if not self.post(client, target, text, blocks, ephemeral=target.respond is not None):
            return
        for m in reply.attachments:
            self.upload(client, target, m)

    def post(self, client: Any, target: Target, text: str, blocks: list[dict[str, Any]], ephemeral: bool) -> bool:
        """Post to the thread (or ephemerally to the user); returns whether it went out."""
        from slack_sdk.errors import SlackApiError

        try:
            if target.respond is not None and ephemeral:
                target.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            elif ephemeral and target.user and target.channel:
                client.chat_postEphemeral(channel=target.channel, user=target.user, thread_ts=target.thread_ts,
                                          text=text, blocks=blocks)
            elif target.channel:
                client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=text, blocks=blocks,
                                        unfurl_links=False, unfurl_media=False)
            else:
                return False
            return True
        except SlackApiError as e:
            error = e.response.get("error") if e.response is not None else "unknown"
            log.warning("Slack refused the answer: %s", error)
            if not ephemeral:
                self.fail(client, target, _posting_failure(error))
            return False
        except Exception:
            log.exception("could not post the answer to Slack")
            return False

    def fail(self, client: Any, target: Target, message: str) -> None:
        """A short failure note, ephemeral where Slack allows."""
        text, blocks = failure_blocks(message)
        self.post(client, target, text, blocks, ephemeral=True)

    def upload(self, client: Any, target: Target, media: Media) -> None:
        """Upload generated audio or an image into the thread; a link (or a note) if that fails."""
        try:
            files.upload(client, target.channel, target.thread_ts, media, self.settings.max_attachment_bytes)
        except files.UploadFailed as e:
            text, blocks = upload_failure_blocks(e.title, media.url)
            self.post(client, target, text, blocks, ephemeral=True)

    def download(self, shared: list[dict[str, Any]], client: Any) -> tuple[Attachment, ...]:
        """The files shared with a message, downloaded with the bot token (see :func:`files.download`)."""
        return files.download(shared, client, self.settings.max_attachment_bytes, self.file_hosts)


def _posting_failure(error: str | None) -> str:
    if error in ("not_in_channel", "channel_not_found"):
        return "I can't post in this channel. Invite me with /invite @coursebot, or ask me in a direct message."
    if error == "msg_too_long":
        return "My answer was too long for one Slack message."
    return "Slack didn't accept my answer. Please try again in a moment."


def require(settings: "Settings", *names: str) -> None:
    """Fail at start, naming the missing variable and where to get it."""
    where = {
        "SLACK_BOT_TOKEN": "the app's Bot User OAuth Token (xoxb-...), under OAuth & Permissions",
        "SLACK_SIGNING_SECRET": "the app's Signing Secret, under Basic Information",
        "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write, under Basic Information",
    }
    for name in names:
        if not getattr(settings, name.lower()):
            raise ConfigError(f"{name} is not set. Set it to {where[name]} (see README, 'Slack').")


def make_client(settings: "Settings") -> Any:
    """A WebClient with the bot token, COURSEBOT_SLACK_API_URL, and retries on ``ratelimited``."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    require(settings, "SLACK_BOT_TOKEN")
    kwargs: dict[str, Any] = {"token": settings.slack_bot_token, "timeout": 30}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    # Slack answers 429 + Retry-After (seconds) when a method's rate tier is exceeded
    kwargs["retry_handlers"] = [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)]
    return WebClient(**kwargs)


def _drop_client_warning(record: logging.LogRecord) -> bool:
    return "`token` will be unused" not in record.getMessage()


def default_workers(settings: "Settings") -> int:
    """COURSEBOT_SLACK_WORKERS, else: as many as CPUs on local (the engines are CPU-bound), 16 on aws."""
    if settings.slack_workers:
        return settings.slack_workers
    return 16 if settings.backend == "aws" else max(2, os.cpu_count() or 2)


def build_app(settings: "Settings", router: "Router", client: Any = None, *, dedupe: "DedupeStore | None" = None,
              workers: int | None = None, socket_mode: bool = False) -> Any:
    """The slack-bolt App shared by HTTP, Socket Mode and Lambda.

    Listeners ack first (in the request's own thread) and do the work in lazy listeners: on a thread
    pool of ``workers`` threads here, or in a second asynchronous invocation once
    the Lambda entry (:mod:`bot.channels.slack.aws_lambda`) swaps the runner. Signature verification stays on.

    Args:
        settings: needs slack_bot_token (unless ``client`` is given) and slack_signing_secret (HTTP).
        router: answers turns.
        client: a WebClient (tests point it at a local fake); default :func:`make_client`.
        dedupe: the seen-delivery store; default SQLite in COURSEBOT_HOME (DynamoDB on aws).
        workers: worker threads; default :func:`default_workers`.
        socket_mode: requests arrive over Socket Mode (no signing secret needed).
    """
    from slack_bolt import App, BoltResponse
    from slack_bolt.error import BoltError
    from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner

    from bot.channels.slack import dedupe as dedupe_stores

    if not socket_mode:
        require(settings, "SLACK_SIGNING_SECRET")
    client = client or make_client(settings)
    pool = ThreadPoolExecutor(max_workers=workers or default_workers(settings), thread_name_prefix="slack-worker")
    # App() also reads SLACK_BOT_TOKEN itself and warns that our client wins; it does, by design
    logging.getLogger("slack_bolt.App").addFilter(_drop_client_warning)
    try:  # App() calls auth.test: a wrong token fails here, at start
        app = App(client=client, signing_secret=settings.slack_signing_secret or "", process_before_response=True,
                  listener_executor=pool, name="coursebot")
    except BoltError as e:
        pool.shutdown(wait=False)
        raise ConfigError(f"Slack rejected SLACK_BOT_TOKEN ({e}). Check the token, or reinstall the app.") from None
    app.listener_runner.lazy_listener_runner = ThreadLazyListenerRunner(app.logger, pool)
    channel = SlackChannel(settings, router, dedupe or dedupe_stores.build(settings))
    app.coursebot = channel  # type: ignore[attr-defined]  # tests and the bench reach the channel here

    @app.middleware
    def drop_repeated_deliveries(req: Any, next: Callable[[], None]) -> Any:
        # Bolt handles Slack's retries (X-Slack-Retry-Num) like new requests; answer each delivery once.
        if req.lazy_only or channel.claim(req.body):
            return next()
        log.info("ignored a repeated delivery (%s, retry %s)", delivery_key(req.body),
                 (req.headers.get("x-slack-retry-num") or ["-"])[0])
        return BoltResponse(status=200, body="")

    def ack_now(ack: Callable[..., None]) -> None:
        ack()

    def work_event(body: dict[str, Any], client: Any, context: Any) -> None:
        channel.on_event(body, client, context.bot_user_id)

    def work_command(body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        channel.on_command(body, client, respond)

    def work_action(body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        channel.on_action(body, client, respond)

    app.event("app_mention")(ack=ack_now, lazy=[work_event])
    app.event("message")(ack=ack_now, lazy=[work_event])  # DMs; other message events are acked and dropped
    app.command(COMMAND)(ack=ack_now, lazy=[work_command])
    app.action(re.compile(r"^coursebot_"))(ack=ack_now, lazy=[work_action])

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s: %s", type(error).__name__, error)

    return app
