"""The web chat's Lex mode: typed turns go to the Lex bot alias with RecognizeText, spoken ones with
RecognizeUtterance, and Lex's answers come back as the same Reply the page renders in local mode.

The Lex session id is the conversation key of the browser's signed session (``web-<32 hex>``,
bot.keys): never an id the client chose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.aws import lex_runtime
from bot.channels.lex.adapter import CLIENT_ATTRIBUTE, WEB_CLIENT
from bot.channels.lex.replies import from_runtime
from bot.errors import CoursebotError, student_sentence
from bot.turn import Reply

log = logging.getLogger(__name__)

NOTHING_HEARD = "I didn't hear anything. Hold the button while you speak, then let go."


@dataclass(frozen=True)
class VoiceAnswer:
    """A spoken turn's result: the Reply, what Lex heard, and Lex's audio (MP3) when it sent one."""

    reply: Reply
    transcript: str
    audio: bytes = b""
    audio_mime: str | None = None


class LexChat:
    """Turns of the web chat answered by a Lex V2 bot alias.

    Args:
        runtime: a :class:`bot.aws.lex_runtime.LexRuntime` (tests build one on a stubbed client or a
            local fake of the runtime).
    """

    speech = True  # RecognizeUtterance takes 16 kHz PCM
    uploads = False  # Lex carries no files
    max_speech_seconds = lex_runtime.MAX_SPEECH_SECONDS
    max_speech_bytes = lex_runtime.MAX_PCM_BYTES
    sample_rate = lex_runtime.PCM_RATE

    def __init__(self, runtime: Any, max_speech_seconds: float | None = None):
        self.runtime = runtime
        if max_speech_seconds is not None:  # shorter than Lex's limit (COURSEBOT_WEB_MAX_SPEECH_SECONDS)
            seconds = min(float(max_speech_seconds), lex_runtime.MAX_SPEECH_SECONDS)
            self.max_speech_seconds = seconds
            self.max_speech_bytes = int(seconds * lex_runtime.PCM_RATE) * 2
        runtime.request_attributes = {**getattr(runtime, "request_attributes", {}), CLIENT_ATTRIBUTE: WEB_CLIENT}

    @classmethod
    def connect(cls, bot: str, locale: str = "en_US", *, settings: Any = None, client: Any = None) -> "LexChat":
        """``bot`` is ``BOT_ID/ALIAS_ID`` (checked); the client comes from the usual AWS chain."""
        bot_id, alias_id = lex_runtime.check_bot(bot)
        return cls(lex_runtime.LexRuntime(bot_id, alias_id, locale, settings=settings, client=client),
                   max_speech_seconds=getattr(settings, "web_max_speech_seconds", None))

    def text(self, conversation: str, text: str) -> Reply:
        """One typed message; a failure is a failed Reply with one plain sentence."""
        try:
            result = self.runtime.text(conversation, text)
        except CoursebotError as e:
            return _failed(e, conversation)
        return from_runtime(result.messages, result.session_state, result.interpretations, conversation=conversation)

    def voice(self, conversation: str, pcm: bytes) -> VoiceAnswer:
        """One spoken message (16 kHz 16-bit mono PCM); nothing heard is a failed Reply saying so."""
        if len(pcm) > self.max_speech_bytes:
            return VoiceAnswer(reply=Reply(text=f"That recording is too long: keep it under "
                                                f"{self.max_speech_seconds:g} seconds.", state="failed",
                                           error="speech_too_long", conversation=conversation), transcript="")
        try:
            result = self.runtime.utterance(conversation, pcm)
        except CoursebotError as e:
            return VoiceAnswer(reply=_failed(e, conversation), transcript="")
        transcript = (result.input_transcript or "").strip()
        if not transcript:  # Lex heard no words (its fallback's answer would only confuse)
            return VoiceAnswer(reply=Reply(text=NOTHING_HEARD, state="failed", error="nothing_heard",
                                           conversation=conversation), transcript="")
        reply = from_runtime(result.messages, result.session_state, result.interpretations, conversation=conversation)
        return VoiceAnswer(reply=reply, transcript=transcript, audio=result.audio, audio_mime=result.audio_mime)


def _failed(error: CoursebotError, conversation: str) -> Reply:
    return Reply(text=student_sentence(error), state="failed", error=error.code, conversation=conversation)
