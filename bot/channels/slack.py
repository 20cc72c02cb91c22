"""Slack channel: a slack-bolt app (mentions, DMs, /coursebot, file shares, buttons) over HTTP, Socket Mode or Lambda.

Pure adapters turn Slack payloads into a :class:`~bot.turn.Turn` and a :class:`~bot.turn.Reply`
into Block Kit; :func:`build_app` wires them into Bolt. Every request is acknowledged at once and
the work runs after (a thread pool as a server, a second asynchronous invocation on Lambda); a
retried or replayed delivery is answered once. ``slack_bolt`` is imported only inside functions
of this module, so ``import bot`` never needs it.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlparse

from bot.errors import ConfigError, CoursebotError, InputError
from bot.files import attachment_from_bytes
from bot.turn import Attachment, Media, Reply, Turn

if TYPE_CHECKING:
    from bot.channels.slack_dedupe import DedupeStore
    from bot.router import Router
    from bot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
COMMAND = "/coursebot"
ACTION_READ_ALOUD = "coursebot_read_aloud"
ACTION_SOURCES = "coursebot_show_sources"
ACTION_SUGGEST = "coursebot_suggest"  # followed by the button's index: action_ids are unique per block

# Block Kit limits: section text 3000 chars, 50 blocks per message, 10 context elements, 25 buttons
# per actions block, button text 75 chars, button value 2000 chars.
SECTION_CHARS = 3000
MAX_BLOCKS = 50
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
MAX_SUGGESTIONS = 5
MAX_FILES = 5  # files handled per message; more get a clear reply
MAX_BODY_BYTES = 1_000_000  # Slack payloads are a few KB; refuse anything absurd before reading it
FILE_HOSTS = ("files.slack.com", "files-edge.slack.com")  # where url_private points; our token goes nowhere else

_NO_READ_ALOUD = ("SpeakAnswer", "Greeting", "Help", "Fallback")  # small talk and audio itself
GENERIC_FAILURE = "Sorry, something went wrong on my side while answering that. Please try again."


# ---------------------------------------------------------------------------------------------
# Pure adapters: Slack payload -> Turn, Reply -> Block Kit
# ---------------------------------------------------------------------------------------------

def escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control (``&``, ``<``, ``>``), so user text
    can never become a link, a mention or ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bold(text: str) -> str:
    """Markdown ``**bold**`` (the sentence of a passage that answers) as Slack mrkdwn ``*bold*``."""
    return re.sub(r"\*\*([^*\n]+?)\*\*", r"*\1*", text)


_ENTITY = re.compile(r"<([^<>]*)>")


def plain_text(text: str, bot_user: str | None = None) -> str:
    """Slack message text as plain text: the bot's own mention removed, ``<url|label>`` -> label (url),
    ``<@U1>`` -> @U1, ``<#C1|general>`` -> #general, ``<!here>`` -> @here, entities unescaped."""

    def entity(m: re.Match[str]) -> str:
        inner = m.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if bot_user and target[1:] == bot_user:
                return ""
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        if label and label != target:
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    out = _ENTITY.sub(entity, text or "")
    out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def conversation_key(team: str, channel: str, thread_ts: str | None = None, user: str | None = None,
                     dm: bool = False) -> str:
    """Where conversation state lives: team + channel + thread; in a DM, team + user."""
    if dm:
        return f"slack:{team}:dm:{user}"
    return f"slack:{team}:{channel}:{thread_ts or '-'}"


def delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery across Slack's retries: the Events API ``event_id``, else the
    ``trigger_id`` of a slash command or button click."""
    if not isinstance(body, dict):
        return None
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def is_dm(channel: str | None) -> bool:
    return bool(channel) and channel.startswith("D")


def _is_failure(reply: Reply) -> bool:
    return reply.state == "failed"


def _chunks(text: str, size: int) -> list[str]:
    """Split at paragraph or line ends where possible, never exceeding ``size``."""
    out = []
    while len(text) > size:
        cut = max(text.rfind("\n\n", 0, size), text.rfind("\n", 0, size))
        if cut < size // 2:
            cut = text.rfind(" ", 0, size)
        if cut < size // 2:
            cut = size
        amp = text.rfind("&", max(0, cut - 5), cut)  # never split an escaped entity such as &amp;
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        out.append(text)
    return out


def _safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for ``<url|label>``: characters that would end the link are percent-encoded."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")


def _link(url: str | None, label: str) -> str:
    safe = _safe_url(url)
    label = escape(label).replace("|", "¦")
    return f"<{safe}|{label}>" if safe else label


def _citation_label(i: int, source: str, page: int | None) -> str:
    return f"[{i}] {source}" + (f", p. {page}" if page else "")


def _uploadable(path: str | None) -> bool:
    return bool(path) and os.path.isfile(path)  # type: ignore[arg-type]


def _button(text: str, action_id: str, value: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text[:BUTTON_TEXT], "emoji": True},
                         "action_id": action_id, "value": _fit_value(value)}
    if style:
        b["style"] = style
    return b


def _fit_value(value: dict[str, Any]) -> str:
    """JSON for a button value, shortening its long strings until it fits Slack's 2000 chars."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(raw) <= BUTTON_VALUE:
        return raw
    v = dict(value)
    if isinstance(v.get("t"), str):
        over = len(raw) - BUTTON_VALUE
        v["t"] = v["t"][: max(0, len(v["t"]) - over - 1)] + "…"
    if isinstance(v.get("s"), list):
        v["s"] = [[s[0], s[1], s[2], (s[3] or "")[:200]] for s in v["s"]]
        while len(json.dumps(v, ensure_ascii=False, separators=(",", ":"))) > BUTTON_VALUE and len(v["s"]) > 1:
            v["s"] = v["s"][:-1]
    raw = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return raw[:BUTTON_VALUE]


def reply_blocks(reply: Reply, conversation: str, buttons: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """A Reply as (notification text, Block Kit blocks).

    The answer is mrkdwn-escaped; citations become context blocks with links; "Read aloud", "Show
    sources" and the suggestions become buttons. Media (audio, images) are not in the blocks: they
    are uploaded into the thread (:meth:`SlackChannel.upload`), which outlives an expiring link.
    """
    text = reply.text.strip() or "(no answer)"
    blocks: list[dict[str, Any]] = []
    for part in _chunks(_bold(escape(text)), SECTION_CHARS):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    if reply.citations:
        elements = [{"type": "mrkdwn", "text": "*Sources:*"}]
        for i, c in enumerate(reply.citations, 1):
            elements.append({"type": "mrkdwn", "text": _link(c.url, _citation_label(i, c.source, c.page))})
        for start in range(0, len(elements), CONTEXT_ELEMENTS):
            blocks.append({"type": "context", "elements": elements[start:start + CONTEXT_ELEMENTS]})
    if buttons and not _is_failure(reply):
        actions = []
        if reply.intent not in _NO_READ_ALOUD and reply.state == "fulfilled" and reply.error is None and len(text) > 1:
            actions.append(_button("Read aloud", ACTION_READ_ALOUD, {"c": conversation, "t": text}))
        if reply.citations:
            actions.append(_button("Show sources", ACTION_SOURCES, {
                "c": conversation, "s": [[c.source, c.page, c.url, c.quote] for c in reply.citations]}))
        for i, s in enumerate(reply.suggestions[:MAX_SUGGESTIONS]):
            if s.strip():
                actions.append(_button(s, f"{ACTION_SUGGEST}_{i}", {"c": conversation, "t": s}))
        if actions:
            blocks.append({"type": "actions", "block_id": "coursebot_actions", "elements": actions})
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[:MAX_BLOCKS - 1] + [{"type": "context", "elements": [
            {"type": "mrkdwn", "text": "_(answer shortened to fit in one Slack message)_"}]}]
    fallback = escape(text)
    if len(fallback) > SECTION_CHARS:
        fallback = _chunks(fallback, SECTION_CHARS - 1)[0] + "…"
    return fallback, blocks


def sources_blocks(sources: list[list[Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The "Show sources" answer: each citation with its link and the quoted passage."""
    blocks: list[dict[str, Any]] = []
    for i, s in enumerate(sources[:20], 1):
        source, page, url, quote_ = (list(s) + [None] * 4)[:4]
        line = "*" + _link(url, _citation_label(i, str(source), page if isinstance(page, int) else None)) + "*"
        if quote_:
            line += "\n>" + escape(str(quote_))[:SECTION_CHARS - len(line) - 4].replace("\n", "\n>")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:SECTION_CHARS]}})
    if not blocks:
        return "This answer has no sources.", [{"type": "section", "text": {"type": "mrkdwn", "text": "This answer has no sources."}}]
    return f"{len(blocks)} source(s)", blocks


def failure_blocks(message: str) -> tuple[str, list[dict[str, Any]]]:
    return escape(message), [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: " + escape(message)[:SECTION_CHARS - 12]}}]


# ---------------------------------------------------------------------------------------------
# The channel: what the workers do after the ack
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """Where an answer goes: a channel (and thread), the user for ephemeral notes, or a response_url."""

    channel: str | None
    thread_ts: str | None
    user: str | None
    respond: Callable[..., Any] | None = None  # slash commands answer through their response_url


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
        api = urlparse(settings.slack_api_url or "https://slack.com/api/")
        # url_private files come from files.slack.com; a configured API host (a proxy, a test fake) too
        self.file_hosts = set(FILE_HOSTS) | ({api.hostname} if settings.slack_api_url and api.hostname else set())

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

    # -- events --
    def on_event(self, body: dict[str, Any], client: Any, bot_user: str | None) -> None:
        """An ``app_mention`` in a channel or a ``message`` in a DM: answer in the thread."""
        if not self.begin(body):
            return
        event = body.get("event") or {}
        etype = event.get("type")
        channel = event.get("channel")
        if etype == "app_mention":
            if is_dm(channel):  # the DM's message event answers it
                return
        elif etype == "message":
            if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share"):
                return
        else:
            return
        user = event.get("user")
        if event.get("bot_id") or not user or user == bot_user:
            return  # never answer a bot, ourselves included (no loops)
        team = body.get("team_id") or event.get("team") or "-"
        dm = etype == "message"
        thread_ts = event.get("thread_ts") or (None if dm else event.get("ts"))
        key = conversation_key(team, channel, thread_ts, user, dm=dm)
        target = Target(channel, thread_ts, user)
        try:
            attachments = self.download(event.get("files") or [], client)
        except CoursebotError as e:
            self.fail(client, target, e.user_message)
            return
        text = plain_text(event.get("text", ""), bot_user)
        self.answer(client, target, Turn(conversation=key, text=text, user=f"{team}:{user}", channel="slack",
                                         attachments=attachments))

    def on_command(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """``/coursebot <question>``: answered to the user through the command's response_url."""
        if not self.begin(body):
            return
        team, channel, user = body.get("team_id", "-"), body.get("channel_id"), body.get("user_id")
        key = conversation_key(team, channel or "-", f"user-{user}")
        text = (body.get("text") or "").strip() or "help"
        target = Target(channel, None, user, respond)
        self.answer(client, target, Turn(conversation=key, text=plain_text(text), user=f"{team}:{user}", channel="slack"))

    def on_action(self, body: dict[str, Any], client: Any, respond: Callable[..., Any]) -> None:
        """A button on an answer: Read aloud, Show sources, or a suggested follow-up."""
        if not self.begin(body):
            return
        action = (body.get("actions") or [{}])[0]
        try:
            value = json.loads(action.get("value") or "{}")
        except ValueError:
            value = {}
        team = (body.get("team") or {}).get("id", "-")
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
        ephemeral = bool((body.get("container") or {}).get("is_ephemeral")) or not message
        target = Target(channel, thread_ts, user, respond if ephemeral else None)
        key = value.get("c") or conversation_key(team, channel or "-", thread_ts, user, dm=is_dm(channel))
        action_id = action.get("action_id", "")
        if action_id == ACTION_SOURCES:
            text, blocks = sources_blocks(value.get("s") or [])
            self.post(client, Target(channel, thread_ts, user, respond), text, blocks, ephemeral=True)
            return
        if action_id == ACTION_READ_ALOUD:
            said = plain_text(message.get("text") or "") or value.get("t") or ""
            turn = Turn(conversation=key, text="read that aloud", user=f"{team}:{user}", channel="slack",
                        intent="SpeakAnswer", slots={"text": said} if said else {})
        elif action_id.startswith(ACTION_SUGGEST):
            turn = Turn(conversation=key, text=str(value.get("t") or ""), user=f"{team}:{user}", channel="slack")
        else:
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
        conversation = reply.conversation or ""
        if _is_failure(reply):
            text, blocks = failure_blocks(reply.text)
            self.post(client, target, text, blocks, ephemeral=True)
            return
        text, blocks = reply_blocks(reply, conversation)
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
        """Upload generated audio or an image into the thread with files_upload_v2: the local file,
        else the bytes behind its URL (an expiring S3 or blob link); a link if that fails."""
        from slack_sdk.errors import SlackApiError

        ext = mimetypes.guess_extension(media.mime) or ""
        name = os.path.basename(media.path or "") or os.path.basename(urlparse(media.url or "").path) or media.kind + ext
        title = media.title or name
        try:
            if not target.channel:
                raise ValueError("no channel to upload into")
            if _uploadable(media.path):
                source: dict[str, Any] = {"file": media.path}
            elif _safe_url(media.url):
                source = {"content": _fetch_media(media.url, self.settings.max_attachment_bytes)}  # type: ignore[arg-type]
            else:
                raise ValueError("no file and no URL")
            client.files_upload_v2(channel=target.channel, thread_ts=target.thread_ts, filename=name, title=title,
                                   **source)
        except (SlackApiError, ValueError, OSError) as e:
            log.warning("upload of %s failed: %s", name, e)
            link = f" Here is a link instead: {_link(media.url, title)}" if _safe_url(media.url) else ""
            text = escape(f"I made '{title}' but couldn't upload it to Slack here.") + link
            self.post(client, Target(target.channel, target.thread_ts, target.user, target.respond), text,
                      [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: " + text}}], ephemeral=True)

    # -- files --
    def download(self, files: list[dict[str, Any]], client: Any) -> tuple[Attachment, ...]:
        """The files shared with a message, downloaded with the bot token; sizes checked first.

        Raises:
            InputError: too many or too large files, or a file Slack would not give us.
        """
        files = [f for f in files if f.get("mode") not in ("tombstone", "hidden_by_limit")]
        if len(files) > MAX_FILES:
            raise InputError(f"You shared {len(files)} files; I can handle up to {MAX_FILES} per message.",
                             code="too_many_files")
        limit = self.settings.max_attachment_bytes
        out = []
        for f in files:
            if f.get("file_access") == "check_file_info" or not (f.get("url_private_download") or f.get("url_private")):
                f = _files_info(client, f)
            name = f.get("name") or f.get("title") or f.get("id") or "upload"
            size = f.get("size")
            if isinstance(size, int) and size > limit:
                raise InputError(f"'{name}' is {size / 1e6:.1f} MB; the most I accept is {limit / 1e6:.0f} MB.",
                                 code="attachment_too_large")
            url = f.get("url_private_download") or f.get("url_private")
            data = self.fetch(url, client.token, limit, name)
            out.append(attachment_from_bytes(name, data))
        return tuple(out)

    def fetch(self, url: str | None, token: str | None, limit: int, name: str) -> bytes:
        """Download a url_private with the bot token, refusing other hosts and more than ``limit`` bytes."""
        parsed = urlparse(url or "")
        if parsed.hostname not in self.file_hosts or parsed.scheme not in ("https", "http") or (
                parsed.scheme == "http" and parsed.hostname in FILE_HOSTS):
            raise InputError(f"I couldn't download '{name}' from Slack.", code="attachment_unreadable")
        opener = urllib.request.build_opener(_SameHostsRedirect(self.file_hosts))
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]
        try:
            with opener.open(req, timeout=20) as resp:
                data = resp.read(limit + 1)
                ctype = resp.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as e:
            log.warning("download of a Slack file failed: %s", e)
            raise InputError(f"I couldn't download '{name}' from Slack. Please try again.",
                             code="attachment_unreadable") from e
        if len(data) > limit:
            raise InputError(f"'{name}' is larger than {limit / 1e6:.0f} MB, the most I accept.",
                             code="attachment_too_large")
        if ctype.startswith("text/html") and data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
            # Slack answers a sign-in page when the token may not read the file (scope files:read)
            raise InputError(f"Slack didn't let me read '{name}'. The app may be missing the files:read permission.",
                             code="attachment_forbidden")
        return data


class _SameHostsRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within Slack's file hosts: the bot token must not travel elsewhere."""

    def __init__(self, hosts: set[str]):
        self.hosts = hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        if urlparse(newurl).hostname not in self.hosts:
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch_media(url: str, limit: int) -> bytes:
    """The bytes behind a generated file's link (ours: S3 presigned or a local blob URL), size-capped."""
    with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 - http(s) checked by _safe_url
        data = resp.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"generated file larger than {limit} bytes")
    return data


def _files_info(client: Any, f: dict[str, Any]) -> dict[str, Any]:
    from slack_sdk.errors import SlackApiError

    try:
        return client.files_info(file=f.get("id"))["file"]
    except (SlackApiError, KeyError, TypeError) as e:
        raise InputError(f"I couldn't open '{f.get('name') or 'the file'}' from Slack.",
                         code="attachment_unreadable") from e


def _posting_failure(error: str | None) -> str:
    if error in ("not_in_channel", "channel_not_found"):
        return "I can't post in this channel. Invite me with /invite @coursebot, or ask me in a direct message."
    if error == "msg_too_long":
        return "My answer was too long for one Slack message."
    return "Slack didn't accept my answer. Please try again in a moment."


# ---------------------------------------------------------------------------------------------
# The Bolt app
# ---------------------------------------------------------------------------------------------

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
    :func:`make_lambda_handler` swaps the runner. Signature verification stays on.

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

    from bot.channels import slack_dedupe

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
    channel = SlackChannel(settings, router, dedupe or slack_dedupe.build(settings))
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


# ---------------------------------------------------------------------------------------------
# Running it: a threaded HTTP server, Socket Mode, Lambda
# ---------------------------------------------------------------------------------------------

class SlackHTTPServer(ThreadingHTTPServer):
    """Serves ``POST /slack/events`` (and ``GET /healthz``) with one thread per connection around
    ``app.dispatch``; the answers themselves run on the app's worker pool."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog; the default 5 resets connections when Slack sends a burst

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 3000):
        self.app = app
        self.timings: list[float] | None = None  # set to a list to record dispatch times (ms), as the bench does
        super().__init__((host, port), _BoltHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{EVENTS_PATH}"

    def start_background(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-http", daemon=True)
        t.start()
        return t


class _BoltHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may sit idle or trickle its body before it is dropped
    server: SlackHTTPServer

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    def _write(self, status: int, body: str = "", headers: dict[str, Any] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for k, values in (headers or {}).items():
            if k.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for v in values if isinstance(values, (list, tuple)) else [values]:
                self.send_header(k, str(v))
        if not any(k.lower() == "content-type" for k in (headers or {})):
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urlparse(self.path).path == "/healthz":
            self._write(200, "ok")
        else:
            self._write(404, "not found")

    def do_POST(self) -> None:
        from slack_bolt.request import BoltRequest

        parsed = urlparse(self.path)
        if parsed.path != EVENTS_PATH:
            self._write(404, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._write(413, "payload too large")
            self.close_connection = True
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        headers: dict[str, list[str]] = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        started = time.perf_counter()
        resp = self.server.app.dispatch(BoltRequest(body=body, query=parsed.query, headers=headers))
        self._write(resp.status, resp.body, resp.headers)
        if self.server.timings is not None:
            self.server.timings.append((time.perf_counter() - started) * 1000)


def serve_http(app: Any, host: str, port: int) -> SlackHTTPServer:
    return SlackHTTPServer(app, host, port)


def socket_mode_handler(app: Any, settings: "Settings") -> Any:
    """Bolt's Socket Mode handler for the app: ``.connect()`` returns at once, ``.start()`` blocks."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    require(settings, "SLACK_APP_TOKEN")
    return SocketModeHandler(app, settings.slack_app_token)


def run_socket_mode(app: Any, settings: "Settings") -> None:
    """Connect over Socket Mode (no public URL needed) and block."""
    socket_mode_handler(app, settings).start()


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
