"""Amazon Polly speech: escaped SSML, the neural engine where the voice has it, long text split and joined."""

from __future__ import annotations

import io
import threading
from typing import Any

from bot import textutil
from bot.aws.clients import call, make_client
from bot.capabilities import Audio
from bot.errors import InputError

# SynthesizeSpeech: at most 3,000 billed characters and 6,000 characters of input including SSML markup.
MAX_SSML_CHARS = 5_800
MAX_TEXT_CHARS = 2_900
# Polly's language codes for ISO 639-1 codes that are not a prefix of them.
_POLLY_LANG = {"ar": ("arb", "ar-AE"), "zh": ("cmn-CN",), "yue": ("yue-CN",), "no": ("nb-NO",), "nb": ("nb-NO",),
               "cy": ("cy-GB",)}


def _measure(s: str) -> int:
    # one number for both limits: SSML length ≤ 5,800 and plain text ≤ 2,900 characters
    return max(textutil.ssml_length(s), 2 * len(s))


class PollySpeech:
    """Speech on Amazon Polly, MP3 out.

    Args:
        client: a boto3 ``polly`` client.
        default_voice: voice id used when the user names none (COURSEBOT_POLLY_VOICE).
    """

    def __init__(self, client: Any, default_voice: str = "Joanna"):
        self.client = client
        self.default_voice = default_voice
        self._voices: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def voices(self) -> list[dict[str, Any]]:
        """All Polly voices (describe_voices, every page), fetched once."""
        with self._lock:
            if self._voices is None:
                voices: list[dict[str, Any]] = []
                kwargs: dict[str, Any] = {}
                while True:
                    page = call(self.client.describe_voices, what="Amazon Polly", **kwargs)
                    voices.extend(page.get("Voices", []))
                    if not page.get("NextToken"):
                        break
                    kwargs["NextToken"] = page["NextToken"]
                self._voices = voices
            return self._voices

    def choose(self, voice: str | None, language: str | None) -> tuple[dict[str, Any], str]:
        """(voice, engine) for what the user asked: a voice name, an accent/gender, a language, or the default."""
        voices = self.voices()
        wish = textutil.voice_wish(voice)
        if wish.name:
            match = next((v for v in voices if v["Id"].lower() == wish.name.lower()
                          or v.get("Name", "").lower() == wish.name.lower()), None)
            if match is None:
                names = ", ".join(sorted({v["Id"] for v in voices if v.get("LanguageCode", "").startswith("en")})[:12])
                raise InputError(f"I don't know a voice called '{wish.name[:40]}'. English voices include: {names}.",
                                 code="unknown_voice")
            return match, _engine(match)
        candidates = voices
        if language:
            codes = _POLLY_LANG.get(language.lower(), (language,))
            candidates = [v for v in voices if any(_lang_matches(v, c) for c in codes)]
            if not candidates:
                raise InputError(f"Amazon Polly has no voice for {textutil.language_name(language)}.",
                                 code="unsupported_language")
            if wish.accent and wish.accent.split("-")[0] == language.split("-")[0]:
                candidates = [v for v in candidates if v.get("LanguageCode") == wish.accent] or candidates
        elif wish.accent:
            candidates = [v for v in voices if v.get("LanguageCode") == wish.accent] or candidates
        if wish.gender:
            candidates = [v for v in candidates if v.get("Gender") == wish.gender] or candidates
        if not language and not wish.accent and not wish.gender:
            default = next((v for v in voices if v["Id"] == self.default_voice), None)
            if default:
                return default, _engine(default)
        if not candidates:
            raise InputError("Amazon Polly returned no voices.", code="no_voices")
        default_lang = next((v.get("LanguageCode") for v in voices if v["Id"] == self.default_voice), None)
        best = max(candidates, key=lambda v: ("neural" in v.get("SupportedEngines", ()),
                                              v.get("LanguageCode") == default_lang, v["Id"] == self.default_voice))
        return best, _engine(best)

    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Audio:
        chosen, engine = self.choose(voice, language)
        parts = []
        for piece in textutil.chunks(text, MAX_SSML_CHARS, measure=_measure):
            r = call(self.client.synthesize_speech, what="Amazon Polly", Text=textutil.ssml(piece), TextType="ssml",
                     OutputFormat="mp3", VoiceId=chosen["Id"], Engine=engine)
            stream = r["AudioStream"]
            try:
                parts.append(stream.read())
            finally:
                stream.close()
        data = b"".join(parts)  # MP3 is a sequence of frames: the parts play back to back
        return Audio(data=data, mime="audio/mpeg", duration_s=_duration(data), voice=f"{chosen['Id']} ({engine})")


def _lang_matches(voice: dict[str, Any], code: str) -> bool:
    langs = [voice.get("LanguageCode", "")] + list(voice.get("AdditionalLanguageCodes", []))
    return any(lc.lower() == code.lower() or lc.lower().startswith(code.lower() + "-") for lc in langs)


def _engine(voice: dict[str, Any]) -> str:
    engines = voice.get("SupportedEngines") or ["standard"]
    for e in ("neural", "standard"):
        if e in engines:
            return e
    return engines[0]


def _duration(mp3: bytes) -> float | None:
    """Seconds of audio, when soundfile (the `speech` extra) can decode MP3; None otherwise."""
    try:
        import soundfile

        info = soundfile.info(io.BytesIO(mp3))
        return round(info.frames / info.samplerate, 2) if info.samplerate else None
    except Exception:  # not installed, or bytes that are not MP3 (a stub in tests)
        return None


def build(settings: Any, services: Any) -> PollySpeech:
    return PollySpeech(make_client("polly", settings), settings.polly_voice)
