"""Feedback on Slack answers: the 👍 / 👎 buttons under a course answer, the "what was wrong?" modal, and
reading their clicks and submissions. Pure: a payload in, what to rate and show out (the app does the I/O,
bot.insight does the storing and checks the answer belongs to the conversation).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import bot.keys as keys
from bot.channels.slack.blocks import BUTTON_VALUE, SECTION_CHARS, button, escape, plain
from bot.turn import ANSWER_ID_CHARS, Reply

ACTION_UP = "coursebot_feedback_up"
ACTION_DOWN = "coursebot_feedback_down"
ACTION_PATTERN = re.compile(r"^coursebot_feedback_(up|down)$")
FEEDBACK_BLOCK = "coursebot_feedback"  # the block of the two buttons, replaced by the thanks once clicked
VIEW_COMMENT = "coursebot_feedback_comment"  # callback_id of the "what was wrong?" modal
COMMENT_BLOCK = "coursebot_feedback_why"
COMMENT_ACTION = "comment"
COMMENT_CHARS = 500  # bot.insight keeps comments up to this long

# Modal limits (api.slack.com/reference/surfaces/views): title, submit and close 24 chars, private_metadata
# 3000 chars; plain_text_input max_length up to 3000, its label 2000 and placeholder 150 chars.
METADATA_CHARS = 3000

THANKS_UP = ":+1: Thanks for the feedback."
THANKS_DOWN = ":-1: Thanks for the feedback, I've noted it for your instructor."
NOT_RECORDED = "I couldn't record that feedback: I don't know that answer in this conversation."
_ANSWER_ID = re.compile(r"^[A-Za-z0-9_-]{%d}$" % ANSWER_ID_CHARS)


def is_answer_id(value: Any) -> bool:
    """Whether ``value`` has an answer id's shape (bot.turn.new_answer_id)."""
    return isinstance(value, str) and bool(_ANSWER_ID.match(value))


def invites_feedback(reply: Reply) -> bool:
    """Whether an answer gets 👍 / 👎: a fulfilled answer of an intent whose spec invites a rating
    (the course's answers), with an answer id to rate."""
    from intents import registry

    intent = registry().get(reply.intent or "")
    return (intent is not None and intent.spec.invites_rating and reply.state == "fulfilled" and reply.error is None
            and is_answer_id(reply.answer_id))


def feedback_block(answer_id: str, conversation: str) -> dict[str, Any]:
    """The 👍 / 👎 buttons of one answer; each names the answer and its conversation."""
    value = {"a": answer_id, "c": conversation}
    if len(json.dumps(value)) > BUTTON_VALUE:  # a key is at most 200 chars (bot.keys): never in practice
        value = {"a": answer_id}
    return {"type": "actions", "block_id": FEEDBACK_BLOCK, "elements": [
        button("👍 Helpful", ACTION_UP, value), button("👎 Not helpful", ACTION_DOWN, value)]}


def thanked(blocks: Any, rating: str) -> list[dict[str, Any]] | None:
    """The answer's blocks with its buttons replaced by the thanks (``None`` if it has no buttons)."""
    if not isinstance(blocks, list) or not any(isinstance(b, dict) and b.get("block_id") == FEEDBACK_BLOCK
                                               for b in blocks):
        return None
    note = {"type": "context", "block_id": FEEDBACK_BLOCK,
            "elements": [{"type": "mrkdwn", "text": THANKS_UP if rating == "up" else THANKS_DOWN}]}
    return [note if isinstance(b, dict) and b.get("block_id") == FEEDBACK_BLOCK else b for b in blocks]


@dataclass(frozen=True)
class Click:
    """A click on 👍 or 👎.

    Attributes:
        answer_id: the answer the button names (checked by bot.insight, which stores nothing for a bad one).
        rating: ``up`` or ``down``, from which button was clicked (never from its value).
        conversation: the button's conversation when it is the clicking user's here, else the one the click is in.
        message_ts: the answer's message, when it is a normal (not ephemeral) message the app can update.
        blocks: that message's blocks as Slack sent them.
    """

    answer_id: str
    rating: str
    conversation: str
    team: str
    channel: str | None
    user: str | None
    thread_ts: str | None
    trigger_id: str | None
    message_ts: str | None
    text: str
    blocks: tuple[dict[str, Any], ...]


def click(body: dict[str, Any]) -> Click | None:
    """A ``block_actions`` body on a feedback button as a :class:`Click`; ``None`` for any other action."""
    actions = body.get("actions")
    action = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    m = ACTION_PATTERN.match(str(action.get("action_id") or ""))
    if m is None:
        return None
    try:
        value = _dict(json.loads(action.get("value") or "{}"))
    except (TypeError, ValueError):
        value = {}
    container = _dict(body.get("container"))
    team = _str(_dict(body.get("team")).get("id")) or "-"
    user = _str(_dict(body.get("user")).get("id"))
    channel = _str(_dict(body.get("channel")).get("id")) or _str(container.get("channel_id"))
    message = _dict(body.get("message"))
    ephemeral = bool(container.get("is_ephemeral")) or not message
    thread_ts = _str(message.get("thread_ts")) or _str(message.get("ts")) or _str(container.get("thread_ts"))
    conversation = (keys.slack_button(value.get("c"), team, channel or "-", user)
                    or keys.slack(team, channel or "-", thread_ts, user, dm=bool(channel and channel.startswith("D"))))
    blocks = [b for b in message.get("blocks") or [] if isinstance(b, dict)] if isinstance(message.get("blocks"), list) else []
    return Click(_str(value.get("a")) or "", m.group(1), conversation, team, channel, user,
                 None if ephemeral else _str(message.get("thread_ts")), _str(body.get("trigger_id")),
                 None if ephemeral else _str(message.get("ts")), _str(message.get("text")) or "", tuple(blocks))


def comment_view(c: Click) -> dict[str, Any]:
    """The modal 👎 opens: an optional one-line "what was wrong?" (the rating is stored already)."""
    metadata = json.dumps({"a": c.answer_id, "c": c.conversation, "ch": c.channel or "-"}, separators=(",", ":"))
    return {
        "type": "modal", "callback_id": VIEW_COMMENT, "private_metadata": metadata[:METADATA_CHARS],
        "title": plain("Feedback"), "submit": plain("Send"), "close": plain("Skip"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Thanks, I've noted that this answer didn't help. "
                                         "Tell your instructor what was wrong, if you like."}},
            {"type": "input", "block_id": COMMENT_BLOCK, "optional": True, "label": plain("What was wrong?"),
             "element": {"type": "plain_text_input", "action_id": COMMENT_ACTION, "multiline": False,
                         "max_length": COMMENT_CHARS,
                         "placeholder": plain("e.g. it cites the wrong page")}},
        ],
    }


def note_view(text: str) -> dict[str, Any]:
    """A modal that only says ``text`` (the submission could not be recorded)."""
    return {"type": "modal", "callback_id": VIEW_COMMENT, "title": plain("Feedback"), "close": plain("OK"),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)[:SECTION_CHARS]}}]}


@dataclass(frozen=True)
class Comment:
    """A submitted "what was wrong?": the answer, the submitter's conversation (``None`` when the modal's
    conversation is not theirs), and the comment as typed (``None`` when left empty)."""

    answer_id: str
    conversation: str | None
    comment: Any


def comment(body: dict[str, Any]) -> Comment | None:
    """A ``view_submission`` of the feedback modal as a :class:`Comment`; ``None`` for any other view."""
    view = _dict(body.get("view"))
    if body.get("type") != "view_submission" or view.get("callback_id") != VIEW_COMMENT:
        return None
    try:
        meta = _dict(json.loads(view.get("private_metadata") or "{}"))
    except (TypeError, ValueError):
        meta = {}
    team = _dict(body.get("team")).get("id") or "-"
    user = _dict(body.get("user")).get("id")
    conversation = keys.slack_button(meta.get("c"), team, meta.get("ch") or "-", user)
    typed = _dict(_dict(_dict(_dict(view.get("state")).get("values")).get(COMMENT_BLOCK)).get(COMMENT_ACTION)).get("value")
    answer_id = meta.get("a") if isinstance(meta.get("a"), str) else ""
    return Comment(answer_id, conversation, typed)


def _str(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a payload's parts are read, never trusted)."""
    return value if isinstance(value, dict) else {}
