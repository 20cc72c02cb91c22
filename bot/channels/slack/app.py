"""The Slack app: Bolt wiring and a thin handler per delivery (payload -> Turn -> router -> Block Kit -> post).

Every request is acknowledged at once and the work runs after (a thread pool as a server, a second
asynchronous invocation on Lambda); a retried or replayed delivery is answered once. 👍 / 👎 and the
feedback form are the exception: a rating is one read and one write, done before the response, so
👎 can open its form with the click's short-lived trigger_id. ``slack_bolt``
is imported only inside functions, so ``import bot`` never needs it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

from bot.channels.slack import feedback, files
from bot.channels.slack import insights as slack_insights
from bot.channels.slack.adapter import (COMMAND, SHORTCUT_ASK, Audience, HomeOpened, Incoming, Target, action_to_turn,
                                        command_to_turn, delivery_key, event_to_turn, home_opened, permalink,
                                        placeholder_text, render, shortcut_to_turn)
from bot.channels.slack.blocks import (failure_blocks, home_view, is_failure, placeholder_blocks, progress_blocks,
                                       sources_blocks, upload_failure_blocks)
from bot.channels.slack.threads import Question
from bot.errors import INTERNAL_ERROR, ConfigError, CoursebotError
from bot.courses import DEFAULT_COURSE, slack_course_map
from bot.roles import INSTRUCTOR, slack_instructors
from bot.turn import Attachment, Media, Reply, Turn

if TYPE_CHECKING:
    from bot.channels.slack.dedupe import DedupeStore
    from bot.channels.slack.threads import ThreadStore
    from bot.router import Router
    from bot.settings import Settings

log = logging.getLogger(__name__)

GENERIC_FAILURE = INTERNAL_ERROR  # the one failure sentence (bot.errors)

PROGRESS_EVERY_S = 8.0  # long work (PDF ingest, image generation) refreshes the placeholder this often
NOTICE_THREADS = 8  # placeholders are I/O only: a pool of their own, so busy answer workers never delay them
HOME_QUESTIONS = 5


@dataclass
class Placeholder:
    """The first post in a thread, replaced in place by the answer; ``refused`` when Slack would not post."""

    channel: str
    ts: str | None
    text: str
    started: float
    refused: str | None = None
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True)
class Prepared:
    incoming: Incoming
    placeholder: Placeholder | None


class _Progress:
    """Refreshes the placeholder every ``channel.progress_every`` seconds until stopped."""

    def __init__(self, channel: "SlackChannel", client: Any, spot: Placeholder):
        self._stop = threading.Event()
        self._args = (channel, client, spot)
        self._thread = threading.Thread(target=self._run, name="slack-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        channel, client, spot = self._args
        while not self._stop.wait(channel.progress_every):
            channel.progress(client, spot)

    def stop(self) -> None:
        self._stop.set()


class SlackChannel:
    """Turns Slack deliveries into turns for the router and posts the replies.

    A message answer goes out in two steps: a placeholder in the thread at once (from a small pool of
    its own, so a busy answer pool never delays it), then ``chat.update`` of that same message with
    the answer; long work updates the placeholder with its progress meanwhile.

    Args:
        settings: coursebot settings (file size limit, Slack API URL).
        router: the one Router.
        dedupe: the seen-delivery store.
        threads: the threads the bot is in and people's recent questions.
    """

    progress_every = PROGRESS_EVERY_S
    early_placeholder = True  # post it from the ack (servers); on Lambda the work invocation posts it

    def __init__(self, settings: "Settings", router: "Router", dedupe: "DedupeStore", threads: "ThreadStore"):
        self.settings = settings
        self.router = router
        self.dedupe = dedupe
        self.threads = threads
        self.file_hosts = files.file_hosts(settings.slack_api_url)
        self._notices = ThreadPoolExecutor(max_workers=NOTICE_THREADS, thread_name_prefix="slack-notice")
        self._prepared: dict[str, Future[Prepared | None]] = {}
        self._prepared_lock = threading.Lock()
        self._workspace_url: str | None = None
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

    # -- the first post: decided and sent while the request is acknowledged --
    def acknowledged(self, body: dict[str, Any], client: Any, bot_user: str | None) -> None:
        """Start the placeholder for a message event on the notice pool (never blocks the ack)."""
        key = delivery_key(body)
        if not self.early_placeholder or key is None:
            return
        future = self._notices.submit(self.prepare, body, client, bot_user)
        with self._prepared_lock:
            self._prepared[key] = future

    def prepare(self, body: dict[str, Any], client: Any, bot_user: str | None) -> Prepared | None:
        """Whether to answer this event, and the placeholder posted in its thread (``None``: no answer)."""
        incoming = event_to_turn(body, bot_user, self.audience)
        if incoming is None:
            return None
        if incoming.follow_up and not self._in_thread(incoming.thread):
            return None  # a thread the bot is not part of: people talking among themselves
        return Prepared(incoming, self.placeholder(client, incoming))

    def _take_prepared(self, body: dict[str, Any], client: Any, bot_user: str | None) -> Prepared | None:
        key = delivery_key(body)
        with self._prepared_lock:
            future = self._prepared.pop(key, None) if key else None
        if future is not None:
            try:
                return future.result(timeout=60)
            except Exception:
                log.exception("placeholder step failed; answering without it")
                incoming = event_to_turn(body, bot_user, self.audience)
                return Prepared(incoming, None) if incoming else None
        return self.prepare(body, client, bot_user)

    def _in_thread(self, thread: str | None) -> bool:
        if not thread:
            return False
        try:
            return self.threads.joined(thread)
        except Exception:  # not answering beats answering every conversation in the channel
            log.exception("thread store failed; not answering a reply without a mention")
            return False

    def _join(self, incoming: Incoming) -> None:
        if incoming.thread:
            try:
                self.threads.join(incoming.thread)
            except Exception:
                log.exception("thread store failed; replies in this thread will need a mention")

    def placeholder(self, client: Any, incoming: Incoming) -> Placeholder | None:
        """Post "Looking in the course PDFs…" in the thread; ``None`` if it could not be posted."""
        from slack_sdk.errors import SlackApiError

        target = incoming.target
        if incoming.private or incoming.turn is None or not target.channel:
            return None
        self._join(incoming)
        text = placeholder_text(incoming)
        note, blocks = placeholder_blocks(text)
        try:
            resp = client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=note, blocks=blocks,
                                           unfurl_links=False, unfurl_media=False)
            return Placeholder(resp["channel"] or target.channel, resp["ts"], text, time.monotonic())
        except SlackApiError as e:
            error = e.response.get("error") if e.response is not None else "unknown"
            log.warning("Slack refused the placeholder: %s", error)
            if error in ("not_in_channel", "channel_not_found", "is_archived"):
                return Placeholder(target.channel, None, text, time.monotonic(), refused=error)
            return None
        except Exception:
            log.exception("could not post the placeholder to Slack")
            return None

    # -- deliveries: the pure adapter reads the payload, these do the I/O --
    def on_event(self, body: dict[str, Any], client: Any, bot_user: str | None) -> None:
        """An ``app_mention``, a DM, or a reply in a thread the bot is in: answer in the thread."""
        if not self.begin(body):
            return
        prepared = self._take_prepared(body, client, bot_user)
        if prepared is None:
            return
        if prepared.placeholder is not None and prepared.placeholder.refused:
            self.fail(client, prepared.incoming.target, _posting_failure(prepared.placeholder.refused))
            return
        self.handle(prepared.incoming, client, placeholder=prepared.placeholder)

    def on_command(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """``/coursebot <question>``: answered to the user through the command's response_url."""
        if self.begin(body):
            self.handle(command_to_turn(body, self.audience), client, respond)

    def on_action(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """A button on an answer: Read aloud, Show sources, or a suggested follow-up."""
        if self.begin(body):
            self.handle(action_to_turn(body, self.audience), client, respond)

    def on_shortcut(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """"Ask coursebot about this" on a message: the course's answer in that message's thread."""
        if not self.begin(body):
            return
        incoming = shortcut_to_turn(body, self.audience)
        if incoming is None:
            return
        if incoming.notice:
            self.fail(client, replace(incoming.target, respond=respond), incoming.notice)
            return
        incoming = replace(incoming, target=replace(incoming.target, respond=respond))
        spot = self.placeholder(client, incoming)
        if spot is not None and spot.refused:
            self.fail(client, incoming.target, _posting_failure(spot.refused))
            return
        self.handle(incoming, client, respond, placeholder=spot)

    # -- 👍 / 👎 on an answer: rated through bot.insight, as the web chat's POST /api/feedback --
    def on_feedback(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """A click on 👍 or 👎: store the rating, open "what was wrong?" for 👎, thank in place.

        Runs before the response (not in a lazy listener): the rating is one read and one write, and
        views.open must use the click's trigger_id within 3 s of the click.
        """
        c = feedback.click(body)
        if c is None:
            return
        target = Target(c.channel, c.thread_ts, c.user, respond=respond, team=c.team)
        if not self._rate(client, target, c.conversation, c.answer_id, c.rating):
            return
        if c.rating == "down" and c.trigger_id:
            from slack_sdk.errors import SlackApiError

            try:
                client.views_open(trigger_id=c.trigger_id, view=feedback.comment_view(c))
            except SlackApiError as e:  # the 👎 is stored; only the optional comment is lost
                log.warning("Slack refused the feedback form: %s",
                            e.response.get("error") if e.response is not None else "unknown")
            except Exception:
                log.exception("could not open the feedback form")
        self._thank(client, target, c)

    def on_feedback_comment(self, body: dict[str, Any]) -> dict[str, Any]:
        """The "what was wrong?" form was sent: store the comment with the 👎. Returns the ack's arguments
        (nothing closes the form; an error shows in it)."""
        from bot.insight import FeedbackError, rate

        sent = feedback.comment(body)
        if sent is None:
            return {}
        if sent.conversation is None or not feedback.is_answer_id(sent.answer_id):
            return {"response_action": "update", "view": feedback.note_view(feedback.NOT_RECORDED)}
        try:
            rate(self.router.services, sent.conversation, sent.answer_id, "down", sent.comment)
        except FeedbackError as e:
            if e.code == "bad_feedback":  # the id was checked above: the comment is what is wrong
                return {"response_action": "errors", "errors": {feedback.COMMENT_BLOCK: e.user_message}}
            return {"response_action": "update", "view": feedback.note_view(feedback.NOT_RECORDED)}
        except CoursebotError as e:
            return {"response_action": "update", "view": feedback.note_view(e.user_message)}
        except Exception:
            log.exception("could not store the feedback comment")
            return {"response_action": "update", "view": feedback.note_view(GENERIC_FAILURE)}
        return {}

    def _rate(self, client: Any, target: Target, conversation: str, answer_id: str, rating: str) -> bool:
        """Store a rating; a short private note (and False) when it cannot be stored."""
        from bot.insight import rate

        if not feedback.is_answer_id(answer_id):
            self.fail(client, target, feedback.NOT_RECORDED)
            return False
        try:
            rate(self.router.services, conversation, answer_id, rating)
            return True
        except CoursebotError as e:  # unknown or malformed answer ids, the store being down
            self.fail(client, target, e.user_message)
        except Exception:
            log.exception("could not store the rating")
            self.fail(client, target, GENERIC_FAILURE)
        return False

    def _thank(self, client: Any, target: Target, c: "feedback.Click") -> None:
        """Replace the buttons with the thanks in the answer itself; a private thanks where that cannot be done."""
        from slack_sdk.errors import SlackApiError

        blocks = feedback.thanked(list(c.blocks), c.rating)
        if blocks is not None and c.message_ts and c.channel:
            try:
                client.chat_update(channel=c.channel, ts=c.message_ts, text=c.text or "coursebot", blocks=blocks)
                return
            except SlackApiError as e:
                log.warning("Slack refused to update the rated answer: %s",
                            e.response.get("error") if e.response is not None else "unknown")
            except Exception:
                log.exception("could not update the rated answer")
        note = feedback.THANKS_UP if c.rating == "up" else feedback.THANKS_DOWN
        self.post(client, target, note, [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}],
                  ephemeral=True)

    def on_home(self, body: dict[str, Any], client: Any) -> None:
        """The App Home tab: what the bot can do, the course, the person's recent questions."""
        opened = home_opened(body)
        if opened is None:
            return
        from slack_sdk.errors import SlackApiError

        try:
            client.views_publish(user_id=opened.user, view=self.home(opened, client))
        except SlackApiError as e:
            log.warning("Slack refused the Home tab: %s", e.response.get("error") if e.response is not None else e)

    def home(self, opened: HomeOpened, client: Any) -> dict[str, Any]:
        from intents.help import capabilities

        documents: list[str] | None
        note = None
        try:
            documents = sorted(str(d.get("name") or d.get("source") or "") for d in self.router.services.kb.list())
            documents = [d for d in documents if d]
        except CoursebotError as e:
            documents, note = None, e.user_message
        except Exception:
            log.exception("could not list the course documents for the Home tab")
            documents = None
        try:
            asked = self.threads.recent(opened.team, opened.user, HOME_QUESTIONS)
        except Exception:
            log.exception("thread store failed; the Home tab shows no recent questions")
            asked = []
        url = self.workspace_url(client)
        questions = [(q.text, permalink(url, q.channel, q.thread_ts or q.ts, None)) for q in asked]
        extra = self.insight_blocks() if self.audience.role(opened.user) == INSTRUCTOR else None
        return home_view(capabilities(), None, documents, questions, documents_note=note,
                         channel_courses=self.audience.courses, instructor_blocks=extra)

    def courses(self) -> list[str]:
        """The courses this workspace uses: the default one and each mapped channel's."""
        return sorted({DEFAULT_COURSE, *(self.audience.courses or {}).values()})

    def insight_blocks(self) -> list[dict[str, Any]]:
        """The Insights summary of each course of this workspace (an instructor's Home tab)."""
        from bot.insight import report

        reports = []
        for course in self.courses():
            try:
                reports.append(report.build(self.router.services, course=course))
            except Exception:
                log.exception("could not build the insights of %s for the Home tab", course)
        return slack_insights.home_blocks(reports)

    def on_open_report(self, body: dict[str, Any], client: Any) -> None:
        """"Open the full report" on an instructor's Home tab: the course's report in a modal."""
        from bot.insight import report

        user = body.get("user")
        user = user.get("id") if isinstance(user, dict) else None
        trigger = body.get("trigger_id")
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        course = action.get("value")
        if not isinstance(trigger, str) or not trigger:
            return
        from slack_sdk.errors import SlackApiError

        if self.audience.role(user if isinstance(user, str) else None) != INSTRUCTOR:
            note = "Only the course's instructors can open its report."
        elif not slack_insights.is_course(course) or course not in self.courses():
            note = "I don't know that course."
        else:
            note = None
        try:
            # Slack's trigger expires 3 s after the click, a long history takes longer to add up: the modal
            # opens at once saying it is being built, and the report replaces it when it is ready.
            opened = client.views_open(trigger_id=trigger, view=slack_insights.note_view(
                note or slack_insights.BUILDING.format(course=course), closing="OK" if note else "Close"))
        except SlackApiError as e:
            log.warning("Slack refused the report: %s", e.response.get("error") if e.response is not None else e)
            return
        if note is not None:
            return
        try:
            view = slack_insights.report_view(report.build(self.router.services, course=course))
        except Exception:
            log.exception("could not build the report of %s", course)
            view = slack_insights.note_view(GENERIC_FAILURE)
        shown = opened.get("view") if hasattr(opened, "get") else None
        view_id = shown.get("id") if isinstance(shown, dict) else None
        if not isinstance(view_id, str) or not view_id:
            log.warning("Slack opened the report modal without a view id; the report is not shown")
            return
        try:
            client.views_update(view_id=view_id, hash=shown.get("hash"), view=view)
        except SlackApiError as e:  # the instructor closed it, or it changed meanwhile: nothing to show
            log.info("the report modal was not updated: %s", e.response.get("error") if e.response is not None else e)

    def workspace_url(self, client: Any) -> str | None:
        """``https://<workspace>.slack.com/`` from auth.test, asked once."""
        if self._workspace_url is None:
            try:
                self._workspace_url = str(client.auth_test().get("url") or "")
            except Exception:
                log.warning("auth.test failed; the Home tab shows questions without links")
                return None
        return self._workspace_url or None

    def handle(self, incoming: Incoming | None, client: Any, respond: Callable[..., Any] | None = None,
               placeholder: Placeholder | None = None) -> None:
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
        self._remember(incoming, placeholder)
        if incoming.files:
            try:
                turn = turn.with_(attachments=self.download(list(incoming.files), client))
            except CoursebotError as e:
                self.retract(client, placeholder)
                self.fail(client, target, e.user_message)
                return
        self.answer(client, target, turn, private=incoming.private, placeholder=placeholder)

    def _remember(self, incoming: Incoming, placeholder: Placeholder | None) -> None:
        t, turn = incoming.target, incoming.turn
        if incoming.private or turn is None or not t.channel or not t.user or not (turn.text or incoming.files):
            return
        ts = t.thread_ts or (placeholder.ts if placeholder else None)
        if not ts:
            return
        what = turn.text or ", ".join(str(f.get("name") or "a file") for f in incoming.files)
        try:
            self.threads.asked(t.team or "-", t.user, Question(what, t.channel, ts, t.thread_ts, time.time()))
        except Exception:
            log.exception("thread store failed; the question is not listed in the Home tab")

    # -- doing the work --
    def answer(self, client: Any, target: Target, turn: Turn, private: bool = False,
               placeholder: Placeholder | None = None) -> None:
        """Route the turn and post the reply; any failure becomes a short message, never a traceback."""
        ticker = _Progress(self, client, placeholder) if placeholder and placeholder.ts else None
        try:
            reply = self.router.handle(turn)
        except Exception:  # Router.handle never raises; this guards the channel anyway
            log.exception("router failed")
            reply = None
        finally:
            if ticker:
                ticker.stop()
        if reply is None:
            self.retract(client, placeholder)
            self.fail(client, target, GENERIC_FAILURE)
            return
        self.deliver(client, target, reply, private=private, placeholder=placeholder)

    def deliver(self, client: Any, target: Target, reply: Reply, private: bool | None = None,
                placeholder: Placeholder | None = None) -> None:
        text, blocks = render(reply)
        if is_failure(reply):
            self.retract(client, placeholder)
            self.post(client, target, text, blocks, ephemeral=True)
            return
        private = target.respond is not None if private is None else private
        if placeholder and placeholder.ts and not private:
            if not self.update(client, placeholder, text, blocks) and not self.post(client, target, text, blocks, False):
                return
        elif not self.post(client, target, text, blocks, ephemeral=private):
            return
        for m in reply.attachments:
            self.upload(client, target, m)

    def update(self, client: Any, spot: Placeholder, text: str, blocks: list[dict[str, Any]]) -> bool:
        """Replace the placeholder with the answer (same ``ts``); False if Slack would not."""
        from slack_sdk.errors import SlackApiError

        with spot.lock:
            spot.done = True
            try:
                client.chat_update(channel=spot.channel, ts=spot.ts, text=text, blocks=blocks)
                return True
            except SlackApiError as e:
                log.warning("Slack refused to update the placeholder: %s",
                            e.response.get("error") if e.response is not None else "unknown")
            except Exception:
                log.exception("could not update the placeholder")
        self.retract(client, spot)
        return False

    def progress(self, client: Any, spot: Placeholder) -> None:
        """Long work: say so in the placeholder, with the time so far."""
        with spot.lock:
            if spot.done or not spot.ts:
                return
            text, blocks = progress_blocks(spot.text, time.monotonic() - spot.started)
            try:
                client.chat_update(channel=spot.channel, ts=spot.ts, text=text, blocks=blocks)
            except Exception as e:  # progress is a courtesy; the answer still replaces it
                log.warning("could not update the placeholder with progress: %s", e)

    def retract(self, client: Any, spot: Placeholder | None) -> None:
        """Remove the placeholder when the outcome is a private note (a failure is not shown to the channel)."""
        if spot is None or not spot.ts:
            return
        with spot.lock:
            spot.done = True
            try:
                client.chat_delete(channel=spot.channel, ts=spot.ts)
            except Exception as e:
                log.warning("could not remove the placeholder: %s", e)

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
              threads: "ThreadStore | None" = None, workers: int | None = None, socket_mode: bool = False) -> Any:
    """The slack-bolt App shared by HTTP, Socket Mode and Lambda.

    Listeners ack first (in the request's own thread) and do the work in lazy listeners: on a thread
    pool of ``workers`` threads here, or in a second asynchronous invocation once
    the Lambda entry (:mod:`bot.channels.slack.aws_lambda`) swaps the runner. Signature verification stays on.

    Args:
        settings: needs slack_bot_token (unless ``client`` is given) and slack_signing_secret (HTTP).
        router: answers turns.
        client: a WebClient (tests point it at a local fake); default :func:`make_client`.
        dedupe: the seen-delivery store; default SQLite in COURSEBOT_HOME (DynamoDB on aws).
        threads: the threads the bot is in and people's questions; default SQLite (DynamoDB on aws).
        workers: worker threads; default :func:`default_workers`.
        socket_mode: requests arrive over Socket Mode (no signing secret needed).
    """
    from slack_bolt import App, BoltResponse
    from slack_bolt.error import BoltError
    from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner

    from bot.channels.slack import dedupe as dedupe_stores
    from bot.channels.slack import threads as thread_stores

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
    channel = SlackChannel(settings, router, dedupe or dedupe_stores.build(settings),
                           threads or thread_stores.build(settings))
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

    def ack_event(ack: Callable[..., None], body: dict[str, Any], client: Any, context: Any) -> None:
        ack()
        channel.acknowledged(body, client, context.bot_user_id)  # the placeholder starts now, on its own pool

    def work_event(body: dict[str, Any], client: Any, context: Any) -> None:
        channel.on_event(body, client, context.bot_user_id)

    def work_home(body: dict[str, Any], client: Any) -> None:
        channel.on_home(body, client)

    def work_shortcut(body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        channel.on_shortcut(body, client, respond)

    def work_command(body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        channel.on_command(body, client, respond)

    def work_action(body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        channel.on_action(body, client, respond)

    def feedback_click(ack: Callable[..., None], body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        ack()
        channel.on_feedback(body, client, respond)  # before the response: views.open needs the fresh trigger_id

    def open_report(ack: Callable[..., None], body: dict[str, Any], client: Any) -> None:
        ack()
        channel.on_open_report(body, client)  # before the response: views.open needs the fresh trigger_id

    def feedback_comment(ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack(**channel.on_feedback_comment(body))  # the ack closes the form, or shows what is wrong in it

    app.event("app_mention")(ack=ack_event, lazy=[work_event])
    app.event("message")(ack=ack_event, lazy=[work_event])  # DMs and thread replies; others are acked and dropped
    app.event("app_home_opened")(ack=ack_now, lazy=[work_home])
    app.shortcut(SHORTCUT_ASK)(ack=ack_now, lazy=[work_shortcut])
    app.command(COMMAND)(ack=ack_now, lazy=[work_command])
    app.action(feedback.ACTION_PATTERN)(feedback_click)  # before the other buttons: the first match handles a click
    app.view(feedback.VIEW_COMMENT)(feedback_comment)
    app.action(slack_insights.ACTION_OPEN_REPORT)(open_report)
    app.action(re.compile(r"^coursebot_(?!feedback_|report_)"))(ack=ack_now, lazy=[work_action])

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s: %s", type(error).__name__, error)

    return app
