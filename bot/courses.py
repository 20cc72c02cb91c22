"""Which course a conversation uses: course names, the Slack channel map, the choice a conversation remembers."""

from __future__ import annotations

import re
from typing import Any

from bot.errors import InputError

DEFAULT_COURSE = "default"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def check_course(name: Any) -> str:
    """A valid course name (lower case letters, digits, - and _; at most 40), else InputError."""
    if not isinstance(name, str) or not _NAME.match(name.strip().lower()):
        raise InputError("A course name is 1 to 40 lower-case letters, digits, '-' or '_' (for example ml101).",
                         code="bad_course")
    return name.strip().lower()


def is_course_name(name: Any) -> bool:
    return isinstance(name, str) and bool(_NAME.match(name))


def slack_course_map(settings: Any) -> dict[str, str]:
    """COURSEBOT_SLACK_COURSES ("C0123=ml101,C0456=stats") as {channel id: course}; bad entries are skipped."""
    out: dict[str, str] = {}
    for part in (settings.slack_courses or "").split(","):
        channel, _, course = part.partition("=")
        channel, course = channel.strip(), course.strip().lower()
        if channel and is_course_name(course):
            out[channel] = course
    return out


def course_of(turn: Any, conversation: Any) -> str | None:
    """The course a turn asks about: the channel's choice, else the conversation's remembered one."""
    if turn.course:
        return turn.course
    remembered = (conversation.extra or {}).get("course")
    return remembered if is_course_name(remembered) else None
