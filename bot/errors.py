"""Errors that carry the sentence a user will read; everything else is an internal failure."""

from __future__ import annotations


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
