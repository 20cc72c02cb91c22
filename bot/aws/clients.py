"""boto3 clients with retries, timeouts and error wrapping: the only place clients are configured."""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from bot.errors import CoursebotError, ServiceError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors that mean "try again later" rather than "your request is wrong".
_BUSY = {
    "ThrottlingException", "Throttling", "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "ServiceUnavailableException", "ServiceQuotaExceededException", "ModelNotReadyException",
    "RequestLimitExceeded", "SlowDown", "LimitExceededException", "ModelTimeoutException",
}


def make_client(service: str, settings: Any, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` with adaptive retries (backoff with jitter) and timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.aws_region,
        retries={"total_max_attempts": settings.aws_max_attempts, "mode": "adaptive"},  # first try included
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
        user_agent_extra="coursebot",
    )
    if "config" in kwargs:  # a caller's extra settings (e.g. S3 signature version) on top of ours
        config = config.merge(kwargs.pop("config"))
    if settings.aws_endpoint_url and "endpoint_url" not in kwargs:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    return boto3.client(service, config=config, **kwargs)


def call(fn: Callable[..., T], /, *args: Any, what: str = "the AWS service", **kwargs: Any) -> T:
    """Call a boto3 operation; AWS errors become a ServiceError with a sentence safe to show.

    The user never sees AWS error JSON, ARNs or bucket names; the original error is chained and logged.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(*args, **kwargs)
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        log.warning("AWS call %s failed: %s", getattr(fn, "__name__", fn), e)
        if code in _BUSY or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 429:
            raise ServiceError(f"{what[:1].upper()}{what[1:]} is busy right now. Please try again in a moment.", code="throttled") from e
        if code in {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "ExpiredTokenException"}:
            raise ServiceError(f"I'm not allowed to use {what} with the current AWS credentials.", code="access_denied") from e
        if code in {"ResourceNotFoundException", "NoSuchBucket", "NoSuchKey"}:
            raise ServiceError(f"{what[:1].upper()}{what[1:]} is not set up (a resource it needs was not found).", code="not_found") from e
        raise ServiceError(f"{what[:1].upper()}{what[1:]} could not handle that request.", code="service_error") from e
    except BotoCoreError as e:
        log.warning("AWS call %s failed: %s", getattr(fn, "__name__", fn), e)
        if e.__class__.__name__ == "NoCredentialsError":
            raise ServiceError("No AWS credentials are configured. Set them up, or use COURSEBOT_BACKEND=local.", code="no_credentials") from e
        raise ServiceError(f"I couldn't reach {what}. Please try again in a moment.", code="unreachable") from e
    except CoursebotError:
        raise
