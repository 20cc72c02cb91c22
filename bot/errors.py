"""Errors that carry the sentence a user will read; everything else is an internal failure."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from bot.turn import Reply


class CoursebotError(Exception):
    """Base class. ``user_message`` is safe to show: no paths, ARNs, bucket names or stack traces.

    Args:
        user_message: the sentence the user reads.
        code: a short stable machine code (``Reply.error``).
    """

    code = "error"

    def __init__(self, user_message: str, *, code: str | None = None):
        super().__init__(user_message)
        self.user_message = user_message
        if code:
            self.code = code


class InputError(CoursebotError):
    """The user's input cannot be used (empty, too large, wrong file type, corrupt file)."""

    code = "bad_input"


class NotAvailable(CoursebotError):
    """A capability the current backend or install does not have.

    ``user_message`` is the operator's sentence (which setting or install enables it: the CLI and
    ``coursebot doctor`` print it); students read ``student_sentence`` instead (see reply_for_error).

    Args:
        capability: the capability name in bot/providers.py, when known.
    """

    code = "not_available"

    def __init__(self, user_message: str, *, code: str | None = None, capability: str | None = None):
        super().__init__(user_message, code=code)
        self.capability = capability


class ServiceError(CoursebotError):
    """A backing service (AWS, an offline engine) failed; the original error is chained."""

    code = "service_error"


class ConfigError(CoursebotError):
    """An invalid setting; the message names the variable and the allowed values."""

    code = "config_error"


def missing_extra(extra: str, package: str, what: str, capability: str | None = None) -> NotAvailable:
    """The error for an optional engine that is not installed, with the exact install hint."""
    return NotAvailable(
        f"{what} needs the optional '{package}' package, which is not installed. "
        f"Install it with: pip install 'coursebot[{extra}]'",
        code="missing_extra", capability=capability,
    )


# --- what students read when something is not set up here -----------------------------------------
log = logging.getLogger("coursebot.setup")

# operator wording: install commands, setting and environment variable names (FOO_BAR), packages
# setup words an operator acts on; file names a student sent (IMG_0001.jpg) are not among them
OPERATOR_JARGON = re.compile(r"pip install|make install|apt-get|--no-deps|\b(?:COURSEBOT|AWS|SLACK)_[A-Z0-9_]*")

# one plain sentence per capability (bot/providers.py names), then per intent when no capability is known
STUDENT_SENTENCES = {
    "imagegen": "I can't draw pictures on this server.",
    "speech": "Reading answers aloud isn't set up on this server.",
    "translator": "I can't translate on this server.",
    "vision": "I can't look at photos on this server.",
    "text": "Text analysis isn't set up on this server.",
    "language": "Language detection isn't set up on this server.",
    "summarizer": "Summarizing isn't set up on this server.",
    "kb": "The course materials aren't set up on this server.",
    "embedder": "The course search isn't set up on this server.",
    "remote_files": "I can't open linked files on this server.",
    "blobs": "Storing files isn't set up on this server.",
    "links": "Links to files aren't set up on this server.",
}
INTENT_CAPABILITY = {"GenerateImage": "imagegen", "SpeakAnswer": "speech", "DescribePhoto": "vision",
                     "SummarizeText": "text", "AskCoursePdfs": "kb"}
NOT_SET_UP = "That isn't set up on this server."
_logged: set[str] = set()


def operator_hint(key: str, hint: str) -> None:
    """Log an operator's hint (what to install or set) once per ``key`` per process (info level: a
    one-shot `coursebot turn` stays quiet on stderr; `coursebot doctor` lists every hint)."""
    if key not in _logged:
        _logged.add(key)
        log.info("%s (run `coursebot doctor` for the full picture)", hint)


def is_operator_text(text: str) -> bool:
    return bool(OPERATOR_JARGON.search(text or ""))


def student_sentence(exc: BaseException, intent: str = "Fallback") -> str:
    """The sentence a student reads for ``exc``: its own when it is plain; otherwise one plain sentence
    about what this server can't do, and the operator's sentence goes to the log (once)."""
    message = getattr(exc, "user_message", INTERNAL_ERROR)
    if not is_operator_text(message):
        return message
    capability = getattr(exc, "capability", None) or INTENT_CAPABILITY.get(intent)
    operator_hint(capability or intent or "setup", message)
    return STUDENT_SENTENCES.get(capability or "", NOT_SET_UP)


# --- failures -> replies: one table, matched through the class hierarchy ---------------------------
INTERNAL_ERROR = "Sorry, something went wrong on my side while answering that. Please try again."

ErrorRenderer = Callable[[BaseException, str], "Reply"]
_RENDERERS: dict[type, ErrorRenderer] = {}


def error_reply(exc_type: type[BaseException]) -> Callable[[ErrorRenderer], ErrorRenderer]:
    """Register ``fn(exc, intent) -> Reply`` as the reply for ``exc_type`` and its subclasses
    (the most specific registered class wins, as with powertools' ``exception_handler``)."""

    def register(fn: ErrorRenderer) -> ErrorRenderer:
        _RENDERERS[exc_type] = fn
        return fn

    return register


def reply_for_error(exc: BaseException, intent: str = "Fallback") -> "Reply":
    """The failed Reply a user reads for ``exc``: a CoursebotError's own sentence and code; any
    other exception is an internal failure (never its text: it may hold paths or ARNs).

    Args:
        exc: what was raised while answering.
        intent: the intent the turn was routed to (``Fallback`` when not known yet).
    """
    for cls in type(exc).__mro__:
        renderer = _RENDERERS.get(cls)
        if renderer is not None:
            return renderer(exc, intent)
    return _internal(exc, intent)


@error_reply(CoursebotError)
def _user_error(exc: BaseException, intent: str) -> "Reply":
    from bot.turn import Reply

    return Reply(text=student_sentence(exc, intent), intent=intent, state="failed",
                 error=getattr(exc, "code", "internal"))


@error_reply(BaseException)
def _internal(exc: BaseException, intent: str) -> "Reply":
    from bot.turn import Reply

    return Reply(text=INTERNAL_ERROR, intent=intent, state="failed", error="internal")
