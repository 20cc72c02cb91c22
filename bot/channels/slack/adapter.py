"""Slack payloads to Turns and Replies to Block Kit: pure functions, no I/O (the Bolt app does that around them).

``event_to_turn``, ``command_to_turn``, ``action_to_turn`` and ``shortcut_to_turn`` read one Events
API, slash-command, ``block_actions`` or message-shortcut body and say what to answer and where
(:class:`Incoming`); ``home_opened`` reads ``app_home_opened``; :func:`placeholder_text` says what the
first post shows while the answer is worked out; :func:`render` turns the router's Reply into the
message Slack shows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

import bot.keys as keys
from bot.channels.slack.blocks import (ACTION_READ_ALOUD, ACTION_SOURCES, ACTION_SUGGEST, Blocks, failure_blocks,
                                       is_failure, reply_blocks)
from bot.channels.slack.feedback import feedback_block, invites_feedback
from bot.roles import INSTRUCTOR, STUDENT
from bot.turn import Reply, Turn

COMMAND = "/coursebot"
SHORTCUT_ASK = "coursebot_ask_about"  # the message shortcut "Ask coursebot about this" (callback_id)

_ENTITY = re.compile(r"<([^<>]*)>")
_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^<>]*)?>")
_THREAD_SUBTYPES = (None, "file_share", "thread_broadcast")  # people's own messages; edits, joins, bots are others


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
    """Where conversation state lives: team + channel + thread; in a DM, team + user (bot.keys)."""
    return keys.slack(team, channel, thread_ts, user, dm=dm)


def delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery across Slack's retries: the Events API ``event_id``, else the
    ``trigger_id`` of a slash command or button click (bot.keys)."""
    return keys.slack_delivery(body)


def is_dm(channel: str | None) -> bool:
    return bool(channel) and channel.startswith("D")  # type: ignore[union-attr]


@dataclass(frozen=True)
class Target:
    """Where an answer goes: a channel (and thread), the user for ephemeral notes, or a response_url."""

    channel: str | None
    thread_ts: str | None
    user: str | None
    respond: Callable[..., Any] | None = None  # slash commands answer through their response_url
    team: str | None = None


@dataclass(frozen=True)
class Incoming:
    """What one Slack delivery asks for.

    Attributes:
        turn: the turn for the router; ``None`` when no turn is needed ("Show sources").
        target: where the answer goes (``respond`` is bound by the app, which holds the callable).
        files: the shared files (Slack's file objects) to download and attach to ``turn`` first.
        private: answer through the delivery's response_url, to the user only.
        sources: the citations of a "Show sources" click, ``[source, page, url, quote]`` each.
        follow_up: a plain message in a channel thread: answered only if the bot is in that thread.
        notice: a short note for the user instead of a turn (a shortcut on a message with no text).
    """

    turn: Turn | None
    target: Target
    files: tuple[dict[str, Any], ...] = ()
    private: bool = False
    sources: tuple[list[Any], ...] | None = None
    follow_up: bool = False
    notice: str | None = None

    @property
    def thread(self) -> str | None:
        """The key of the channel thread this answer goes into (``None`` in a DM or privately)."""
        t = self.target
        if self.private or is_dm(t.channel) or not t.channel or not t.thread_ts:
            return None
        return thread_key(t.team or "-", t.channel, t.thread_ts)


def thread_key(team: str, channel: str, thread_ts: str) -> str:
    """Which channel thread: the same key its conversation has."""
    return conversation_key(team, channel, thread_ts)


def mentions(text: str) -> set[str]:
    """The user ids mentioned in Slack message text (``<@U1>``, ``<@U1|name>``)."""
    return set(_USER_MENTION.findall(text or ""))


@dataclass(frozen=True)
class Audience:
    """Who is an instructor and which channel is which course (from settings, read by the app)."""

    instructors: frozenset[str] = frozenset()
    courses: dict[str, str] | None = None

    def role(self, user: str | None) -> str:
        return INSTRUCTOR if user and user in self.instructors else STUDENT

    def course(self, channel: str | None) -> str | None:
        """The channel's course; ``None`` in a DM (the conversation asks once and remembers)."""
        if is_dm(channel):
            return None
        return (self.courses or {}).get(channel or "", "default")


def event_to_turn(body: dict[str, Any], bot_user: str | None, audience: Audience = Audience()) -> Incoming | None:
    """An ``app_mention`` in a channel, a ``message`` in a DM, or a plain reply in a channel thread
    (``follow_up``: answered only where the bot already is), answered in its thread; ``None`` for
    events the bot does not answer (bots, itself, edits, channel messages outside a thread, replies
    that mention only someone else, a mention inside a DM)."""
    event = body.get("event") or {}
    etype = event.get("type")
    channel = event.get("channel")
    follow_up = False
    if etype == "app_mention":
        if is_dm(channel):  # the DM's message event answers it
            return None
    elif etype == "message":
        if event.get("subtype") not in _THREAD_SUBTYPES:
            return None
        if event.get("channel_type") != "im":
            thread_ts, ts = event.get("thread_ts"), event.get("ts")
            if not thread_ts or thread_ts == ts:
                return None  # a channel message outside a thread: only a mention asks the bot
            named = mentions(event.get("text", ""))
            if named:  # the app_mention event answers a reply that names the bot; others talk among themselves
                return None
            follow_up = True
        elif event.get("subtype") == "thread_broadcast":
            return None
    else:
        return None
    user = event.get("user")
    if event.get("bot_id") or not user or user == bot_user:
        return None  # never answer a bot, ourselves included (no loops)
    team = body.get("team_id") or event.get("team") or "-"
    dm = etype == "message" and not follow_up
    thread_ts = event.get("thread_ts") or (None if dm else event.get("ts"))
    turn = Turn(conversation=conversation_key(team, channel, thread_ts, user, dm=dm),
                text=plain_text(event.get("text", ""), bot_user), user=f"{team}:{user}", channel="slack",
                role=audience.role(user), course=audience.course(channel))
    return Incoming(turn, Target(channel, thread_ts, user, team=team), files=tuple(event.get("files") or ()),
                    follow_up=follow_up)


def command_to_turn(body: dict[str, Any], audience: Audience = Audience()) -> Incoming:
    """``/coursebot <question>``: answered to the user through the command's response_url."""
    team, channel, user = body.get("team_id", "-"), body.get("channel_id"), body.get("user_id")
    text = (body.get("text") or "").strip() or "help"
    turn = Turn(conversation=keys.slack_command(team, channel or "-", user), text=plain_text(text),
                user=f"{team}:{user}", channel="slack", role=audience.role(user), course=audience.course(channel))
    return Incoming(turn, Target(channel, None, user, team=team), private=True)


def action_to_turn(body: dict[str, Any], audience: Audience = Audience()) -> Incoming | None:
    """A button on an answer: Read aloud, Show sources, or a suggested follow-up; ``None`` for others."""
    action = (body.get("actions") or [{}])[0]
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        value = {}
    if not isinstance(value, dict):
        value = {}
    team = (body.get("team") or {}).get("id", "-")
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or message.get("ts")
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral")) or not message
    target = Target(channel, thread_ts, user, team=team)
    # a button names its conversation; honoured only when it is the clicking user's, in this team and channel
    key = (keys.slack_button(value.get("c"), team, channel or "-", user)
           or conversation_key(team, channel or "-", thread_ts, user, dm=is_dm(channel)))
    action_id = action.get("action_id", "")
    if action_id == ACTION_SOURCES:
        return Incoming(None, target, private=True, sources=tuple(value.get("s") or ()))
    if action_id == ACTION_READ_ALOUD:
        said = plain_text(message.get("text") or "") or value.get("t") or ""
        turn = Turn(conversation=key, text="read that aloud", user=f"{team}:{user}", channel="slack",
                    intent="SpeakAnswer", slots={"text": said} if said else {})
    elif action_id.startswith(ACTION_SUGGEST):
        turn = Turn(conversation=key, text=str(value.get("t") or ""), user=f"{team}:{user}", channel="slack")
    else:
        return None
    turn = turn.with_(role=audience.role(user), course=audience.course(channel))
    return Incoming(turn, target, private=ephemeral)


def shortcut_to_turn(body: dict[str, Any], audience: Audience = Audience()) -> Incoming | None:
    """The message shortcut "Ask coursebot about this": the message's text asked of the course PDFs,
    answered in that message's thread; ``None`` for other shortcuts."""
    if body.get("type") != "message_action" or body.get("callback_id") != SHORTCUT_ASK:
        return None
    team = (body.get("team") or {}).get("id") or "-"
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or message.get("ts")
    dm = is_dm(channel)
    target = Target(channel, None if dm and not message.get("thread_ts") else thread_ts, user, team=team)
    text = plain_text(message.get("text") or "")
    if not text:
        return Incoming(None, target, private=True, notice="That message has no text I can ask the course about.")
    turn = Turn(conversation=conversation_key(team, channel or "-", thread_ts, user, dm=dm), text=text,
                user=f"{team}:{user}", channel="slack", intent="AskCoursePdfs",
                role=audience.role(user), course=audience.course(channel))
    return Incoming(turn, target)


@dataclass(frozen=True)
class HomeOpened:
    """Someone opened the app's Home tab."""

    team: str
    user: str


def home_opened(body: dict[str, Any]) -> HomeOpened | None:
    """``app_home_opened`` on the Home tab (not the Messages tab)."""
    event = body.get("event") or {}
    if event.get("type") != "app_home_opened" or event.get("tab", "home") != "home" or not event.get("user"):
        return None
    return HomeOpened(body.get("team_id") or event.get("team") or "-", event["user"])


def placeholder_text(incoming: Incoming) -> str:
    """What the first post in the thread says while the answer is worked out."""
    shared = [f for f in incoming.files if f.get("mode") not in ("tombstone", "hidden_by_limit")]
    pdfs = [f.get("name") or "the PDF" for f in shared
            if f.get("mimetype") == "application/pdf" or str(f.get("name", "")).lower().endswith(".pdf")]
    if pdfs:
        return f"Adding {', '.join(pdfs[:3])} to the course…"
    if any(str(f.get("mimetype", "")).startswith("image/") for f in shared):
        return "Looking at your photo…"
    return "Looking in the course PDFs…"


def permalink(workspace_url: str | None, channel: str, ts: str, thread_ts: str | None = None) -> str | None:
    """A link to a message the way Slack builds them (``https://<team>.slack.com/archives/C1/p1700000000000100``)."""
    if not workspace_url or not workspace_url.startswith("https://") or not channel or not ts:
        return None
    link = f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def render(reply: Reply) -> Blocks:
    """The router's Reply as Slack's (notification text, blocks): the warning note for a failed reply,
    else the answer with its sources and buttons, and 👍 / 👎 under a course answer (media are uploaded
    separately)."""
    if is_failure(reply):
        return failure_blocks(reply.text)
    conversation = reply.conversation or ""
    tail = (feedback_block(reply.answer_id, conversation),) if conversation and invites_feedback(reply) else ()
    return reply_blocks(reply, conversation, tail=tail)
