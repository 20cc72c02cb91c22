"""Offline speech: espeak-ng (Debian package) renders WAV, soundfile encodes it to OGG Vorbis or MP3.

The text goes to espeak-ng on stdin without its SSML flag (-m), so markup in the text is spoken
literally, never interpreted, and text that starts with '-' cannot pass as an option.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import tempfile
from typing import Any

from bot import textutil
from bot.capabilities import Audio
from bot.errors import InputError, NotAvailable, ServiceError, missing_extra

_MIME = {"ogg": "audio/ogg", "mp3": "audio/mpeg"}
_FORMAT = {"ogg": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III")}
_GENDER_VARIANT = {"Male": "+m3", "Female": "+f3"}
_ALIASES = {"zh": "cmn", "no": "nb", "iw": "he"}  # ISO codes espeak-ng names differently
TIMEOUT_S = 60
_BLOCK = 16_384  # frames per encoder write


@functools.lru_cache(maxsize=4)
def espeak_languages(binary: str) -> frozenset[str]:
    """Language codes of the installed espeak-ng voices (lower case, e.g. 'en-us', 'es', 'fr-fr')."""
    out = subprocess.run([binary, "--voices"], capture_output=True, text=True, timeout=10, check=False).stdout
    return frozenset(line.split()[1].lower() for line in out.splitlines()[1:] if len(line.split()) > 1)


class EspeakSpeech:
    """Speech with espeak-ng, encoded to ``fmt`` (``ogg`` or ``mp3``).

    Args:
        binary: the espeak-ng executable (COURSEBOT_ESPEAK_BINARY).
        default_voice: espeak-ng voice for English (COURSEBOT_ESPEAK_VOICE).
        fmt: output container, ``ogg`` (Vorbis) or ``mp3``.
    """

    def __init__(self, binary: str = "espeak-ng", default_voice: str = "en-us", fmt: str = "ogg",
                 words_per_minute: int = 165):
        self.binary = binary
        self.default_voice = default_voice
        self.fmt = fmt
        self.wpm = words_per_minute

    def voice_for(self, voice: str | None, language: str | None) -> str:
        """The espeak-ng voice (language + optional gender variant) for the user's wish."""
        langs = espeak_languages(self._exe())
        wish = textutil.voice_wish(voice)
        if wish.name:
            if wish.name.lower() in langs:
                return wish.name.lower()
            from bot.errors import operator_hint

            operator_hint("speech.named_voices", "Named voices such as Joanna need COURSEBOT_BACKEND=aws (Amazon Polly).")
            raise InputError(f"The speech engine on this server has no voice called '{wish.name[:40]}'. Ask for an "
                             "accent (British, American, Indian...) or a male or female voice.", code="unknown_voice")
        base = self.default_voice
        if language:
            code = _ALIASES.get(language.lower(), language.lower())
            accent = wish.accent.lower() if wish.accent else None
            if accent and accent.split("-")[0] == code and accent in langs:
                base = accent
            elif code == "en":
                base = self.default_voice
            elif code in langs:
                base = code
            elif f"{code}-{code}" in langs:  # fr -> fr-fr rather than fr-be
                base = f"{code}-{code}"
            else:
                base = next((lang for lang in sorted(langs) if lang.split("-")[0] == code), "")
                if not base:
                    raise InputError(f"The offline speech engine has no {textutil.language_name(language)} voice.",
                                     code="unsupported_language")
        elif wish.accent and wish.accent.lower() in langs:
            base = wish.accent.lower()
        elif wish.accent == "en-GB":
            base = "en-gb"
        return base + _GENDER_VARIANT.get(wish.gender or "", "")

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Audio:
        try:
            import soundfile
        except ImportError as e:
            raise missing_extra("speech", "soundfile", "Speech") from e
        espeak_voice = self.voice_for(voice, language)
        with tempfile.TemporaryDirectory(prefix="coursebot-tts-") as tmp:
            wav = os.path.join(tmp, "speech.wav")
            try:
                proc = subprocess.run([self._exe(), "--stdin", "-v", espeak_voice, "-s", str(self.wpm), "-w", wav],
                                      input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired as e:
                raise ServiceError("Speaking that took too long; try a shorter text.", code="tts_timeout") from e
            if proc.returncode != 0 or not os.path.exists(wav):
                raise ServiceError("The offline speech engine failed on that text.", code="tts_failed")
            samples, rate = soundfile.read(wav, dtype="float32")
        if len(samples) == 0:
            raise InputError("There was nothing speakable in that text.", code="nothing_to_say")
        buf = io.BytesIO()
        container, subtype = _FORMAT[self.fmt]
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        with soundfile.SoundFile(buf, "w", rate, channels, format=container, subtype=subtype) as out:
            # libsndfile's Vorbis encoder crashes on one very large write (minutes of audio): write in blocks
            for i in range(0, len(samples), _BLOCK):
                out.write(samples[i:i + _BLOCK])
        return Audio(data=buf.getvalue(), mime=_MIME[self.fmt], duration_s=round(len(samples) / rate, 2),
                     voice=f"espeak-ng {espeak_voice}")

    def _exe(self) -> str:
        exe = shutil.which(self.binary)
        if exe is None:
            raise NotAvailable("Offline speech needs the espeak-ng program, which is not installed "
                               "(Debian/Ubuntu: apt-get install espeak-ng; `make install` does it).",
                               code="missing_engine")
        return exe


def build(settings: Any, services: Any) -> EspeakSpeech:
    return EspeakSpeech(settings.espeak_binary, settings.espeak_voice, settings.speech_format)
