"""S3 blob store for generated media: server-side encrypted objects under a prefix, presigned GET URLs."""

from __future__ import annotations

import time
from typing import Any

from bot.aws.clients import call, make_client
from bot.capabilities import StoredBlob
from bot.errors import InputError
from bot.local.blobs import check_key


class S3BlobStore:
    """BlobStore on S3. Keys are checked like local ones (safe relative segments) and put under ``prefix``.

    Args:
        client: a boto3 ``s3`` client.
        bucket: the media bucket (COURSEBOT_MEDIA_BUCKET).
        prefix: key prefix inside the bucket (COURSEBOT_MEDIA_PREFIX).
        expiry: default lifetime of presigned URLs in seconds (COURSEBOT_URL_EXPIRY_SECONDS).
        kms_key_id: SSE-KMS key; None means SSE-S3 (AES256).
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "media/", expiry: int = 3600,
                 kms_key_id: str | None = None):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.expiry = expiry
        self.kms_key_id = kms_key_id

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes, mime: str) -> StoredBlob:
        extra: dict[str, Any] = {"ServerSideEncryption": "AES256"}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        call(self.client.put_object, what="Amazon S3", Bucket=self.bucket, Key=self.object_key(key), Body=data,
             ContentType=mime, **extra)
        return StoredBlob(key=key, url=self.url(key), path=None, expires_at=float(int(time.time()) + self.expiry))

    def get(self, key: str) -> bytes:
        try:
            r = call(self.client.get_object, what="Amazon S3", Bucket=self.bucket, Key=self.object_key(key))
        except Exception as e:
            if getattr(e, "code", None) == "not_found":
                raise InputError("That file no longer exists.", code="not_found") from e
            raise
        body = r["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def url(self, key: str, expires_in: int | None = None) -> str:
        return call(self.client.generate_presigned_url, what="Amazon S3", ClientMethod="get_object",
                    Params={"Bucket": self.bucket, "Key": self.object_key(key)},
                    ExpiresIn=int(expires_in or self.expiry))


class S3Files:
    """RemoteFiles for ``s3://bucket/key`` links (Lex carries no files: an uploaded photo comes as its link)."""

    def __init__(self, client: Any):
        self.client = client

    def read(self, url: str, limit: int, *, what: str = "file") -> bytes:
        """The object's bytes, its size checked before it is downloaded."""
        bucket, _, key = url.removeprefix("s3://").partition("/") if url.startswith("s3://") else ("", "", "")
        if not bucket or not key:
            raise InputError(f"That {what} link is not a valid S3 link.", code="bad_link")
        head = call(self.client.head_object, Bucket=bucket, Key=key, what=f"the {what} storage")
        if head.get("ContentLength", 0) > limit:
            raise InputError(f"That {what} is {head['ContentLength'] / 1e6:.1f} MB; the most I accept is "
                             f"{limit / 1e6:.0f} MB.", code="attachment_too_large")
        body = call(self.client.get_object, Bucket=bucket, Key=key, what=f"the {what} storage")["Body"]
        try:
            return body.read(limit + 1)[:limit]
        finally:
            body.close()


def build_files(settings: Any, services: Any) -> S3Files:
    return S3Files(make_client("s3", settings))


def build(settings: Any, services: Any) -> S3BlobStore:
    from botocore.config import Config

    # Presigned URLs must be SigV4 (botocore still presigns SigV2 in us-east-1; SSE-KMS objects need SigV4).
    client = make_client("s3", settings, config=Config(signature_version="s3v4"))
    return S3BlobStore(client, settings.media_bucket, settings.media_prefix, settings.url_expiry_seconds,
                       settings.media_kms_key_id)
