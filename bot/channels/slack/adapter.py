"""Slack payloads to Turns and Replies to Block Kit: pure functions, no I/O (the Bolt app does that around them).

``event_to_turn``, ``command_to_turn`` and ``action_to_turn`` read one Events API, slash-command or
``block_actions`` body and say what to answer and where (:class:`Incoming`); :func:`render` turns
the router's Reply into the message Slack shows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from bot.channels.slack.blocks import (ACTION_READ_ALOUD, ACTION_SOURCES, ACTION_SUGGEST, Blocks, failure_blocks,
                                       is_failure, reply_blocks)
from bot.roles import INSTRUCTOR, STUDENT
from bot.turn import Reply, Turn

COMMAND = "/coursebot"

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
    return bool(channel) and channel.startswith("D")  # type: ignore[union-attr]


@dataclass(frozen=True)
class Target:
    """Where an answer goes: a channel (and thread), the user for ephemeral notes, or a response_url."""

    channel: str | None
    thread_ts: str | None
    user: str | None
    respond: Callable[..., Any] | None = None  # slash commands answer through their response_url


@dataclass(frozen=True)
class Incoming:
    """What one Slack delivery asks for.

    Attributes:
        turn: the turn for the router; ``None`` when no turn is needed ("Show sources").
        target: where the answer goes (``respond`` is bound by the app, which holds the callable).
        files: the shared files (Slack's file objects) to download and attach to ``turn`` first.
        private: answer through the delivery's response_url, to the user only.
        sources: the citations of a "Show sources" click, ``[source, page, url, quote]`` each.
    """

    turn: Turn | None
    target: Target
    files: tuple[dict[str, Any], ...] = ()
    private: bool = False
    sources: tuple[list[Any], ...] | None = None


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
    """An ``app_mention`` in a channel or a ``message`` in a DM, answered in its thread; ``None`` for
    events the bot does not answer (other messages, bots, itself, a mention inside a DM)."""
    event = body.get("event") or {}
    etype = event.get("type")
    channel = event.get("channel")
    if etype == "app_mention":
        if is_dm(channel):  # the DM's message event answers it
            return None
    elif etype == "message":
        if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share"):
            return None
    else:
        return None
    user = event.get("user")
    if event.get("bot_id") or not user or user == bot_user:
        return None  # never answer a bot, ourselves included (no loops)
    team = body.get("team_id") or event.get("team") or "-"
    dm = etype == "message"
    thread_ts = event.get("thread_ts") or (None if dm else event.get("ts"))
    turn = Turn(conversation=conversation_key(team, channel, thread_ts, user, dm=dm),
                text=plain_text(event.get("text", ""), bot_user), user=f"{team}:{user}", channel="slack",
                role=audience.role(user), course=audience.course(channel))
    return Incoming(turn, Target(channel, thread_ts, user), files=tuple(event.get("files") or ()))


def command_to_turn(body: dict[str, Any], audience: Audience = Audience()) -> Incoming:
    """``/coursebot <question>``: answered to the user through the command's response_url."""
    team, channel, user = body.get("team_id", "-"), body.get("channel_id"), body.get("user_id")
    text = (body.get("text") or "").strip() or "help"
    turn = Turn(conversation=conversation_key(team, channel or "-", f"user-{user}"), text=plain_text(text),
                user=f"{team}:{user}", channel="slack", role=audience.role(user), course=audience.course(channel))
    return Incoming(turn, Target(channel, None, user), private=True)


def action_to_turn(body: dict[str, Any], audience: Audience = Audience()) -> Incoming | None:
    """A button on an answer: Read aloud, Show sources, or a suggested follow-up; ``None`` for others."""
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
    target = Target(channel, thread_ts, user)
    key = value.get("c") or conversation_key(team, channel or "-", thread_ts, user, dm=is_dm(channel))
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


def render(reply: Reply) -> Blocks:
    """The router's Reply as Slack's (notification text, blocks): the warning note for a failed reply,
    else the answer with its sources and buttons (media are uploaded separately)."""
    if is_failure(reply):
        return failure_blocks(reply.text)
    return reply_blocks(reply, reply.conversation or "")
