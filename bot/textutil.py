"""Plain-text helpers shared by summarizing and speech: cleaning, sentence splitting, size-bounded cuts, SSML."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Invisible characters that only confuse engines: zero-width space/joiners, word joiner, BOM, soft hyphen,
# and the bidi embedding/override/isolate controls (the RTL *letters* themselves are kept).
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]+")

# A sentence ends at . ! ? … (and CJK/Arabic/Devanagari enders) followed by space, or at a blank line.
_ABBREV = {"e.g", "i.e", "etc", "mr", "mrs", "ms", "dr", "prof", "vs", "fig", "no", "st", "jr", "sr", "inc", "ltd",
           "approx", "cf", "al", "u.s", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
           "nov", "dec", "p", "pp", "vol", "ch", "sec", "eq"}
_BOUNDARY = re.compile(r"(?<=[.!?…。！？؟।])[\"'”’)\]]*\s+|\n\s*\n+|(?<=[。！？])")


def clean(text: str) -> str:
    """NFC-normalized text without invisible/control characters and with runs of spaces collapsed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return re.sub(r" *\n *", "\n", text).strip()


@dataclass(frozen=True)
class Span:
    """A sentence and where it sits in the text it came from (``text[start:end] == sentence``)."""

    text: str
    start: int
    end: int


_CITATION_MARKERS = re.compile(r"[ \t]*\[\d{1,4}(?:\s*[,\u2013-]\s*\d{1,4})*\]")  # [1], [2, 3], [4-6]


def without_markers(text: str) -> str:
    """An answer's text without its citation markers ("[1]", "[2, 3]") and bold marks: what a text
    analysis should read (a marker is no quantity, ``**`` no word)."""
    text = _CITATION_MARKERS.sub("", text).replace("**", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def speakable(text: str) -> str:
    """Text as it should sound: no citation markers or markdown emphasis read aloud."""
    text = re.sub(r"(__|`)", "", without_markers(text))
    return re.sub(r"[ \t]+", " ", text).strip()


def sentence_spans(text: str) -> list[Span]:
    """Sentences of ``text`` as verbatim slices (stripped), in order. Abbreviations like 'e.g.' do not split."""
    spans: list[Span] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start()
        piece = text[start:end]
        last = re.search(r"(\S+)\.$", piece)
        if last and m.group(0).strip() == "" and "\n\n" not in m.group(0):
            word = last.group(1).lower().lstrip("(\"'")
            if word in _ABBREV or re.fullmatch(r"[a-z]", word):
                continue
        _add(spans, text, start, end)
        start = m.end()
    _add(spans, text, start, len(text))
    return spans


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append(Span(stripped, start + lead, start + lead + len(stripped)))


def sentences(text: str) -> list[str]:
    return [s.text for s in sentence_spans(text)]


def cut(text: str, max_chars: int) -> tuple[str, bool]:
    """``text`` cut to at most ``max_chars`` characters at a sentence (else word) boundary; (text, was_cut)."""
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    ends = [s.end for s in sentence_spans(head) if s.end < max_chars]  # the last span may be a cut sentence
    if ends and ends[-1] > max_chars // 2:
        return head[:ends[-1]].rstrip(), True
    space = head.rfind(" ")
    return (head[:space] if space > max_chars // 2 else head).rstrip(), True


def chunks(text: str, max_bytes: int, measure=lambda s: len(s.encode("utf-8"))) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` (by ``measure``), at sentence boundaries when possible,
    else at spaces, else anywhere. Joining the pieces with single spaces gives back the sentences."""
    out: list[str] = []
    current = ""
    for sentence in sentences(text):
        for piece in _split_long(sentence, max_bytes, measure):
            candidate = f"{current} {piece}" if current else piece
            if measure(candidate) <= max_bytes:
                current = candidate
            else:
                if current:
                    out.append(current)
                current = piece
    if current:
        out.append(current)
    return out


def _split_long(sentence: str, max_bytes: int, measure) -> list[str]:
    if measure(sentence) <= max_bytes:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for word in sentence.split(" "):
        while measure(word) > max_bytes:  # one huge "word": cut by characters
            n = len(word)
            while n > 1 and measure(word[:n]) > max_bytes:
                n = max(1, n * 3 // 4) if measure(word[:n]) > 2 * max_bytes else n - 1
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:n])
            word = word[n:]
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= max_bytes:
            current = candidate
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def ssml(text: str, lang: str | None = None) -> str:
    """``text`` as an SSML document that speaks it literally: every '<', '&', quote is escaped, so markup in
    the text (``</speak><break time="100s"/>``) is read out, never interpreted."""
    body = escape(text, {'"': "&quot;", "'": "&apos;"})
    if lang:
        return f'<speak><lang xml:lang="{escape(lang)}">{body}</lang></speak>'
    return f"<speak>{body}</speak>"


def ssml_length(text: str) -> int:
    return len(ssml(text))


LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese",
    "ja": "Japanese", "zh": "Chinese", "zh-TW": "Chinese (Traditional)", "ko": "Korean", "ar": "Arabic",
    "hi": "Hindi", "nl": "Dutch", "ru": "Russian", "pl": "Polish", "sv": "Swedish", "tr": "Turkish",
    "da": "Danish", "no": "Norwegian", "he": "Hebrew", "fa": "Persian", "uk": "Ukrainian", "cs": "Czech",
    "fi": "Finnish", "el": "Greek", "ro": "Romanian", "hu": "Hungarian", "id": "Indonesian", "vi": "Vietnamese",
    "th": "Thai", "ca": "Catalan",
}


def language_name(code: str | None) -> str:
    if not code:
        return "unknown"
    return LANGUAGE_NAMES.get(code) or LANGUAGE_NAMES.get(code.split("-")[0]) or code


# --- voice wishes ("with a british voice", "use a male voice", "Joanna") -------------------------------
_ACCENTS = {
    "british": "en-GB", "english": "en-GB", "uk": "en-GB", "scottish": "en-GB", "american": "en-US", "us": "en-US",
    "australian": "en-AU", "aussie": "en-AU", "indian": "en-IN", "irish": "en-IE", "welsh": "en-GB-WLS",
    "new zealand": "en-NZ", "kiwi": "en-NZ", "south african": "en-ZA", "canadian": "en-US",
}
_GENDERS = {"male": "Male", "man": "Male", "masculine": "Male", "deep": "Male",
            "female": "Female", "woman": "Female", "feminine": "Female"}


@dataclass(frozen=True)
class VoiceWish:
    """What the user asked for: a voice by name, an accent (BCP-47 code) and/or a gender."""

    name: str | None = None
    accent: str | None = None
    gender: str | None = None


def voice_wish(voice: str | None) -> VoiceWish:
    if not voice or not voice.strip():
        return VoiceWish()
    words = voice.strip().lower()
    accent = next((code for word, code in sorted(_ACCENTS.items(), key=lambda kv: -len(kv[0]))
                   if re.search(rf"\b{word}\b", words)), None)
    gender = next((g for word, g in _GENDERS.items() if re.search(rf"\b{word}\b", words)), None)
    if accent or gender:
        return VoiceWish(accent=accent, gender=gender)
    return VoiceWish(name=voice.strip())
