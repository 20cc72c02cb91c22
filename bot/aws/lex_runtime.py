"""Lex V2 runtime for clients of the bot (the web chat's Lex mode): ``RecognizeText`` for typed turns,
``RecognizeUtterance`` for speech, and the one place that decodes and encodes the runtime's
compressed headers. AWS errors become a :class:`LexError` with a sentence safe to show.

RecognizeUtterance returns its results in HTTP headers, each gzip-compressed then base64-encoded
(``x-amz-lex-messages``, ``-session-state``, ``-interpretations``, ``-request-attributes``,
``-input-transcript``), and takes ``sessionState`` / ``requestAttributes`` the same way.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from bot.errors import InputError, ServiceError

log = logging.getLogger(__name__)

# --- Lex V2 runtime limits ------------------------------------------------------------------------
MAX_TEXT_CHARS = 1024  # RecognizeText text: 1-1024 characters
PCM_RATE = 16_000  # RecognizeUtterance takes 16 kHz, 16-bit, mono, little-endian PCM (audio/l16)
PCM_CONTENT_TYPE = "audio/l16; rate=16000; channels=1"
AUDIO_REPLY_TYPE = "audio/mpeg"  # Polly's voice, as MP3
MAX_SPEECH_SECONDS = 15  # the longest speech input a RecognizeUtterance call takes
MAX_PCM_BYTES = MAX_SPEECH_SECONDS * PCM_RATE * 2
MAX_AUDIO_REPLY_BYTES = 4_000_000  # a spoken answer is a few hundred KB; never read more than this

COMPRESSED_JSON_HEADERS = ("messages", "sessionState", "interpretations", "requestAttributes", "sessionAttributes")

_BOT_ID = re.compile(r"^[0-9A-Za-z]{10}$")  # lexv2-runtime botId: 10 letters or digits
_ALIAS_ID = re.compile(r"^[0-9A-Za-z]{10}$")  # alias ids are 10 too (TSTALIASID is the draft's test alias)
_LOCALE = re.compile(r"^[a-z]{2}_(?:[A-Z]{2}|419)$")  # en_US, en_GB, es_419, ...
_SESSION = re.compile(r"^[0-9A-Za-z._:-]{2,100}$")


# --- the compressed headers -------------------------------------------------------------------------
def decode_header(value: str | None, *, as_json: bool = True) -> Any:
    """A RecognizeUtterance header value: base64, then gzip (when the bytes are gzip), then JSON.

    ``as_json=False`` returns the text (``inputTranscript``). ``None`` or an empty value gives None;
    a value that cannot be decoded is logged and gives None (a broken header never breaks a turn).
    """
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
        return json.loads(text) if as_json else text
    except (binascii.Error, OSError, EOFError, UnicodeDecodeError, ValueError):
        log.warning("could not decode a Lex runtime header (%d characters)", len(value))
        return None


def encode_header(value: Any, *, as_json: bool = True) -> str:
    """The header form Lex expects for ``sessionState`` and ``requestAttributes``: JSON, gzip, base64."""
    text = json.dumps(value, separators=(",", ":")) if as_json else str(value)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


# --- results ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LexResult:
    """One runtime answer with every header decoded: what the bot said and, for speech, its audio."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    session_state: dict[str, Any] = field(default_factory=dict)
    interpretations: list[dict[str, Any]] = field(default_factory=list)
    request_attributes: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    input_mode: str | None = None  # Text | Speech | DTMF
    input_transcript: str | None = None  # what Lex heard (speech), or the text sent
    audio: bytes = b""
    audio_mime: str | None = None


def text_result(response: dict[str, Any]) -> LexResult:
    """A RecognizeText response (plain JSON) as a LexResult."""
    return LexResult(messages=_list(response.get("messages")), session_state=_dict(response.get("sessionState")),
                     interpretations=_list(response.get("interpretations")),
                     request_attributes=_dict(response.get("requestAttributes")),
                     session_id=response.get("sessionId"), input_mode="Text")


def utterance_result(response: dict[str, Any], max_audio_bytes: int = MAX_AUDIO_REPLY_BYTES) -> LexResult:
    """A RecognizeUtterance response: its compressed headers decoded, its audio stream read (at most
    ``max_audio_bytes``; a longer stream is dropped, the text still shown)."""
    audio = b""
    stream = response.get("audioStream")
    if stream is not None:
        try:
            audio = stream.read(max_audio_bytes + 1)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        if len(audio) > max_audio_bytes:
            log.warning("Lex returned more than %d bytes of audio; not played", max_audio_bytes)
            audio = b""
    transcript = decode_header(response.get("inputTranscript"), as_json=False)
    return LexResult(
        messages=_list(decode_header(response.get("messages"))),
        session_state=_dict(decode_header(response.get("sessionState"))),
        interpretations=_list(decode_header(response.get("interpretations"))),
        request_attributes=_dict(decode_header(response.get("requestAttributes"))),
        session_id=response.get("sessionId"), input_mode=response.get("inputMode"),
        input_transcript=transcript, audio=audio,
        audio_mime=(response.get("contentType") or AUDIO_REPLY_TYPE) if audio else None,
    )


def _list(value: Any) -> list[Any]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- errors ---------------------------------------------------------------------------------------------
class LexError(ServiceError):
    """A runtime call failed; ``user_message`` is one plain sentence (never AWS's error JSON)."""


_SENTENCES = {
    "ThrottlingException": ("The bot is busy right now. Please try again in a moment.", "throttled"),
    "DependencyFailedException": ("Something the bot relies on failed while answering that. "
                                  "Please try again, or ask in another way.", "hook_failed"),
    "BadGatewayException": ("The bot's answer could not be read. Please try again, or ask in another way.",
                            "hook_failed"),
    "ConflictException": ("That message crossed with another one in this conversation. Please send it again.",
                          "conflict"),
    "ValidationException": ("The bot could not take that message. Try saying or typing it differently.",
                            "bad_request"),
    "AccessDeniedException": ("The bot can't be reached from this server right now.", "not_available"),
    "ResourceNotFoundException": ("The bot can't be reached from this server right now.", "not_available"),
}
_OTHER = ("The bot couldn't answer that right now. Please try again in a moment.", "service_error")
_UNREACHABLE = ("I couldn't reach the bot. Please try again in a moment.", "unreachable")


def lex_error(exc: BaseException) -> LexError:
    """The LexError (plain sentence + stable code) for a botocore error; the details go to the log."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        sentence, short = _SENTENCES.get(code) or (_SENTENCES["ThrottlingException"] if status == 429 else _OTHER)
        log.warning("Lex runtime call failed (%s, HTTP %s): %s", code, status,
                    exc.response.get("Error", {}).get("Message", "")[:300])
    elif isinstance(exc, BotoCoreError):
        sentence, short = _UNREACHABLE
        log.warning("Lex runtime unreachable: %s", exc.__class__.__name__)
    else:
        sentence, short = _OTHER
        log.warning("Lex runtime call failed: %s", exc.__class__.__name__, exc_info=exc)
    error = LexError(sentence, code=short)
    error.__cause__ = exc
    return error


# --- the client -------------------------------------------------------------------------------------------
def check_bot(spec: str) -> tuple[str, str]:
    """``BOT_ID/ALIAS_ID`` -> ``(bot_id, alias_id)``; raises InputError (with the expected shape) otherwise."""
    bot_id, _, alias_id = (spec or "").strip().partition("/")
    if not _BOT_ID.match(bot_id) or not _ALIAS_ID.match(alias_id):
        raise InputError("Give the Lex bot as BOT_ID/ALIAS_ID: two ids of 10 letters or digits each, "
                         "e.g. ABCDE12345/FGHIJ67890 (the stack outputs LexBotId and LexBotAliasId).",
                         code="bad_bot_id")
    return bot_id, alias_id


def check_locale(locale: str) -> str:
    """A Lex locale id such as ``en_US``; raises InputError otherwise."""
    if not _LOCALE.match(locale or ""):
        raise InputError("A Lex locale looks like en_US (language_REGION).", code="bad_locale")
    return locale


class LexRuntime:
    """RecognizeText / RecognizeUtterance on one bot alias and locale.

    Args:
        bot_id / alias_id / locale: the bot alias to talk to (checked: see :func:`check_bot`).
        client: a ``lexv2-runtime`` boto3 client (tests hand in a stubbed one or one pointed at a
            local fake with ``endpoint_url``); default one from ``settings`` (bot.aws.clients).
        request_attributes: sent with every request (the code hook reads them as ``requestAttributes``).
    """

    def __init__(self, bot_id: str, alias_id: str, locale: str = "en_US", *, client: Any = None,
                 settings: Any = None, request_attributes: dict[str, str] | None = None):
        self.bot_id, self.alias_id = check_bot(f"{bot_id}/{alias_id}")
        self.locale = check_locale(locale)
        self.request_attributes = dict(request_attributes or {})
        if client is None:
            from bot.aws.clients import make_client

            if settings is None:
                from bot import settings as settings_module

                settings = settings_module.get()
            client = make_client("lexv2-runtime", settings)
        self.client = client

    def _where(self, session_id: str) -> dict[str, str]:
        if not isinstance(session_id, str) or not _SESSION.match(session_id):
            raise InputError("That conversation id cannot be sent to Lex.", code="bad_session")
        return {"botId": self.bot_id, "botAliasId": self.alias_id, "localeId": self.locale, "sessionId": session_id}

    def text(self, session_id: str, text: str) -> LexResult:
        """Send one typed message (1-1024 characters). Raises InputError or LexError."""
        text = (text or "").strip()
        if not text:
            raise InputError("Type a message first.", code="empty_message")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"That message is {len(text):,} characters; the bot takes at most {MAX_TEXT_CHARS:,}. "
                             "Please shorten it.", code="message_too_long")
        params: dict[str, Any] = {**self._where(session_id), "text": text}
        if self.request_attributes:
            params["requestAttributes"] = self.request_attributes
        try:
            return text_result(self.client.recognize_text(**params))
        except Exception as e:  # botocore errors -> one plain sentence
            if isinstance(e, (InputError, LexError)):
                raise
            raise lex_error(e) from e

    def utterance(self, session_id: str, pcm: bytes) -> LexResult:
        """Send 16 kHz 16-bit mono PCM (at most 15 s); the result carries Lex's MP3 reply. Raises
        InputError or LexError."""
        if len(pcm) > MAX_PCM_BYTES:
            raise InputError(f"That recording is longer than {MAX_SPEECH_SECONDS} seconds, the most the bot "
                             "takes. Please keep it shorter.", code="speech_too_long")
        if len(pcm) < PCM_RATE // 5 or len(pcm) % 2:  # under 0.1 s, or not whole 16-bit samples
            raise InputError("I didn't hear anything. Hold the button while you speak.", code="nothing_heard")
        params: dict[str, Any] = {**self._where(session_id), "requestContentType": PCM_CONTENT_TYPE,
                                  "responseContentType": AUDIO_REPLY_TYPE, "inputStream": pcm}
        if self.request_attributes:
            params["requestAttributes"] = encode_header(self.request_attributes)
        try:
            response = self.client.recognize_utterance(**params)
            return utterance_result(response)
        except Exception as e:
            if isinstance(e, (InputError, LexError)):
                raise
            raise lex_error(e) from e
