"""Errors that carry the sentence a user will read; everything else is an internal failure."""

from __future__ import annotations

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
    """A capability the current backend or install does not have; says which setting enables it."""

    code = "not_available"


class ServiceError(CoursebotError):
    """A backing service (AWS, an offline engine) failed; the original error is chained."""

    code = "service_error"


class ConfigError(CoursebotError):
    """An invalid setting; the message names the variable and the allowed values."""

    code = "config_error"


def missing_extra(extra: str, package: str, what: str) -> NotAvailable:
    """The error for an optional engine that is not installed, with the exact install hint."""
    return NotAvailable(
        f"{what} needs the optional '{package}' package, which is not installed. "
        f"Install it with: pip install 'coursebot[{extra}]'",
        code="missing_extra",
    )


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

    return Reply(text=getattr(exc, "user_message", INTERNAL_ERROR), intent=intent, state="failed",
                 error=getattr(exc, "code", "internal"))


@error_reply(BaseException)
def _internal(exc: BaseException, intent: str) -> "Reply":
    from bot.turn import Reply

    return Reply(text=INTERNAL_ERROR, intent=intent, state="failed", error="internal")
