"""Short links on AWS: items ``link#<id>`` in the conversation state table (TTL attribute
``expires``), written with a conditional put so an id is never reused; opening one redirects to a
freshly presigned S3 URL (``lambda_handler``, behind the stack's HTTP API route ``GET /l/{id}``,
deployed under the handler path ``bot.channels.links.lambda_handler``)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from bot import shortlinks
from bot.aws.clients import call, make_client
from bot.errors import ServiceError
from bot.local.blobs import check_key
from bot.shortlinks import EXPIRED, GONE, HEADERS, LinkError, ShortLink, redirect

log = logging.getLogger(__name__)

PK_PREFIX = "link#"  # conversation keys never start with this (bot.channels.lex refuses such keys)
WHAT = "Amazon DynamoDB"
INTERNAL = "Something went wrong on our side while opening this link. Please try again."


class DynamoLinkStore:
    """Short links to objects in the media bucket (under its prefix) and the course-PDF bucket.

    Args:
        client: a boto3 ``dynamodb`` client.
        table: the conversation state table (COURSEBOT_STATE_TABLE).
        s3: a boto3 ``s3`` client presigning with SigV4, or a zero-argument callable that builds it
            (the Lex function never needs it: it only writes links).
        base_url: what goes in front of ``/l/<id>`` (COURSEBOT_SHORT_LINK_BASE_URL: the HTTP API).
        areas: ``{bucket: key prefix}`` the links may point into.
        media_bucket / media_prefix: where a bare blob key lives.
        expiry: default lifetime of a link in seconds; url_expiry: of the presigned URL a redirect hands out.
    """

    def __init__(self, client: Any, table: str, s3: Any, base_url: str | None, areas: dict[str, str],
                 media_bucket: str | None = None, media_prefix: str = "media/", expiry: int = 86400,
                 url_expiry: int = 3600):
        self.client = client
        self.table = table
        self._s3 = s3
        self.base_url = base_url
        self.areas = {b: p for b, p in areas.items() if b}
        self.media_bucket = media_bucket
        self.media_prefix = media_prefix.strip("/") + "/" if media_prefix.strip("/") else ""
        self.expiry = expiry
        self.url_expiry = url_expiry

    @property
    def s3(self) -> Any:
        if callable(self._s3) and not hasattr(self._s3, "generate_presigned_url"):
            self._s3 = self._s3()
        return self._s3

    # --- LinkStore ----------------------------------------------------------------------------------
    def shorten(self, key_or_url: str, expires_in: int | None = None) -> str:
        """A short URL for a media blob key or an S3 URL of one of our buckets (presigned or not).

        Raises:
            InputError: ``not_linkable`` for a URL of anything else, ``bad_key`` for an unsafe key.
            ServiceError: DynamoDB failed.
        """
        target = self.target_of(key_or_url)
        shortlinks.short_url(self.base_url, "x" * shortlinks.ID_CHARS)  # NotAvailable before paying for a write
        seconds = shortlinks.lifetime(expires_in, self.expiry)
        now = int(time.time())
        for _ in range(shortlinks.MAX_ATTEMPTS):
            link_id = shortlinks.new_id()
            item = {"pk": {"S": PK_PREFIX + link_id}, "target": {"S": json.dumps(target)},
                    "created": {"N": str(now)}, "expires": {"N": str(now + seconds)}}
            if call(self._put_new, item, what=WHAT):
                return shortlinks.short_url(self.base_url, link_id)
            log.warning("short link id collision; drawing another")
        raise ServiceError("I couldn't make a short link right now. Please try again.", code="link_collision")

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Put ``item`` unless its key exists (True), or False when it does."""
        try:
            self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def resolve(self, link_id: str) -> ShortLink:
        """The stored link. Raises LinkError (``link_not_found``, ``link_expired``) or ServiceError.

        DynamoDB deletes expired items up to a few days late, so the expiry is checked here too.
        """
        shortlinks.check_id(link_id)
        item = call(self.client.get_item, what=WHAT, TableName=self.table, Key={"pk": {"S": PK_PREFIX + link_id}},
                    ConsistentRead=True).get("Item")  # a link may be opened the moment it is made
        if not item or "target" not in item:
            raise LinkError(shortlinks.NOT_FOUND, code="link_not_found")
        try:
            target = json.loads(item["target"]["S"])
            expires = float(item["expires"]["N"])
        except (KeyError, TypeError, ValueError):
            log.warning("malformed short link item %s", link_id)
            raise LinkError(shortlinks.NOT_FOUND, code="link_not_found") from None
        link = ShortLink(link_id, target, expires)
        if link.expired():
            raise LinkError(EXPIRED, code="link_expired")
        return link

    def target_url(self, link: ShortLink) -> str:
        """A freshly presigned GET URL of the link's object (fragment kept, e.g. ``#page=3``).

        Raises:
            LinkError: ``link_expired`` when the object is gone (the media bucket's lifecycle deletes it).
            InputError: ``not_linkable`` when the stored target is outside our buckets.
        """
        bucket, key = str(link.target.get("bucket", "")), str(link.target.get("key", ""))
        if not self._allowed(bucket, key):
            raise shortlinks.not_ours()
        try:
            call(self.s3.head_object, what="Amazon S3", Bucket=bucket, Key=key)
        except ServiceError as e:
            status = (getattr(e.__cause__, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (403, 404):  # without s3:ListBucket a missing key is a 403
                log.warning("short link %s: s3 HEAD answered %s; treating the file as gone", link.id, status)
                raise LinkError(GONE, code="link_expired") from e
            raise
        url = call(self.s3.generate_presigned_url, what="Amazon S3", ClientMethod="get_object",
                   Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(self.url_expiry))
        fragment = link.target.get("fragment")
        return f"{url}#{fragment}" if fragment else url

    # --- what a link may point at ---------------------------------------------------------------------
    def target_of(self, key_or_url: str) -> dict[str, Any]:
        """``{"bucket", "key"[, "fragment"]}`` for a media key or an S3 URL of one of our buckets."""
        if not shortlinks.is_url(key_or_url):
            if not self.media_bucket:
                raise shortlinks.not_ours()
            return {"bucket": self.media_bucket, "key": self.media_prefix + check_key(key_or_url)}
        url, fragment = shortlinks.split_fragment(key_or_url)
        located = s3_location(url, self.areas)
        if located is None or not self._allowed(*located):
            raise shortlinks.not_ours()
        target: dict[str, Any] = {"bucket": located[0], "key": located[1]}
        if fragment:
            target["fragment"] = fragment
        return target

    def _allowed(self, bucket: str, key: str) -> bool:
        prefix = self.areas.get(bucket)
        return prefix is not None and key.startswith(prefix) and bool(key) and ".." not in key.split("/")


def s3_location(url: str, buckets: Any) -> tuple[str, str] | None:
    """``(bucket, key)`` of an S3 object URL (virtual-hosted or path style, any endpoint) when the
    bucket is one of ``buckets``; None otherwise. The query (a presigned signature) is ignored."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    for bucket in buckets:
        if host.startswith(f"{bucket.lower()}.s3.") or host.startswith(f"{bucket.lower()}.s3-"):
            key = path.lstrip("/")
        elif path.startswith(f"/{bucket}/"):
            key = path[len(bucket) + 2:]
        else:
            continue
        return (bucket, key) if key else None
    return None


def build(settings: Any, services: Any) -> DynamoLinkStore:
    from botocore.config import Config

    def folder(prefix: str) -> str:
        return prefix.strip("/") + "/" if prefix.strip("/") else ""

    areas = {settings.pdf_bucket or "": folder(settings.pdf_prefix),
             settings.media_bucket or "": folder(settings.media_prefix)}
    if settings.media_bucket and settings.media_bucket == settings.pdf_bucket:  # one bucket for both
        areas = {settings.media_bucket: ""}
    return DynamoLinkStore(
        make_client("dynamodb", settings), settings.state_table,
        # Presigned URLs must be SigV4 (botocore still presigns SigV2 in us-east-1).
        lambda: make_client("s3", settings, config=Config(signature_version="s3v4")),
        settings.short_link_base_url, areas, settings.media_bucket, settings.media_prefix,
        settings.short_link_expiry_seconds, settings.url_expiry_seconds)


# --- the redirect Lambda ------------------------------------------------------------------------------
def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """HTTP API (payload format 2.0) handler for ``GET /l/{id}``. Always returns a response: 302 to
    the file, 404 unknown, 410 expired, 503 unavailable, 500 with a plain sentence otherwise."""
    try:
        link_id = _link_id(event)
        from bot import services

        status, value = redirect(services.default().links, link_id)
    except Exception:
        log.exception("short link redirect failed")
        status, value = 500, INTERNAL
    if status == 302:
        return {"statusCode": 302, "headers": {**HEADERS, "Location": value}, "body": ""}
    return {"statusCode": status, "headers": {**HEADERS, "Content-Type": "text/plain; charset=utf-8"},
            "body": value + "\n"}


def _link_id(event: Any) -> str:
    event = event if isinstance(event, dict) else {}
    params = event.get("pathParameters") if isinstance(event.get("pathParameters"), dict) else {}
    value = params.get("id")
    if not isinstance(value, str):
        path = event.get("rawPath") if isinstance(event.get("rawPath"), str) else ""
        value = path.rsplit("/l/", 1)[1] if "/l/" in path else ""
    return value.strip("/")


def warm() -> None:
    """Our log level, and both clients built during the Lambda's init phase, not per request."""
    from bot import services, settings

    logging.getLogger().setLevel(settings.get().log_level)
    getattr(services.default().links, "s3", None)
