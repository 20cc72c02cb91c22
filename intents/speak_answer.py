"""SpeakAnswer: speaks a text or the previous answer and returns the audio as media with an expiring link."""

from __future__ import annotations

import re
import uuid
from typing import Any

from bot import keys, textinput, textutil
from bot.conversation import Conversation
from bot.errors import InputError, NotAvailable
from bot.nlu import POLITE, is_reference, mentions_previous, normalize, strip_trailing
from bot.specs import IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Media, Reply, Turn

_TRIGGER = re.compile(rf"^{POLITE}(?:say|read|speak|pronounce|narrate|voice|recite)\b\s*(?:(?:this|the following|out loud|aloud|to me|for me|back|again|it|that)\b\s*)*", re.I)
LANGUAGES = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it", "portuguese": "pt",
    "japanese": "ja", "chinese": "zh", "korean": "ko", "arabic": "ar", "hindi": "hi", "dutch": "nl",
    "russian": "ru", "polish": "pl", "swedish": "sv", "turkish": "tr", "danish": "da", "norwegian": "no",
}
_LANG = re.compile(r"\bin (" + "|".join(LANGUAGES) + r")\b", re.I)
_VOICE = re.compile(r"\b(?:with|using|in) (?:a |an |the )?([\w-]+(?: [\w-]+)?) (?:voice|accent)\b", re.I)


def extract(text: str, instruction: str, payload: str | None) -> Slots:
    """"say hello world" -> its text; "read that aloud" -> the previous answer; language and voice."""
    slots = Slots()
    if payload:
        slots["text"] = payload
        slots.explicit_payload = True
    else:
        m = _TRIGGER.match(instruction.strip())
        if m:
            rest = strip_trailing(instruction.strip()[m.end():])
            if is_reference(rest):
                slots.refers_to_previous = True
            else:
                slots["text"] = rest
                slots.explicit_payload = True
        if "text" not in slots and len(instruction.split()) <= 8 and mentions_previous(normalize(instruction)):
            slots.refers_to_previous = True
    lang = _LANG.search(instruction)
    if lang:
        slots["language"] = LANGUAGES[lang.group(1).lower()]
    voice = _VOICE.search(instruction)
    if voice:
        slots["voice"] = voice.group(1)
    return slots


SPEC = IntentSpec(
    name="SpeakAnswer",
    description="Reads a text or the previous answer aloud and returns a link to the audio.",
    samples=(
        "read that aloud", "read it aloud", "read this aloud", "read the answer out loud", "say it out loud",
        "say that again out loud", "can you read this to me", "read this to me", "speak the answer",
        "speak this text", "convert this text to speech", "text to speech please", "turn this into audio",
        "I want to hear that", "let me hear it", "play that as audio", "give me an audio version of the answer",
        "read the last answer aloud", "pronounce this", "how do you pronounce this", "narrate this paragraph",
        "say it in spanish", "read it in french", "read that with a british voice", "use a male voice to read this",
        "read it again", "can I listen to that", "make an mp3 of this", "record this as speech",
        "voice this for me", "say hello world", "lee esto en voz alta", "lis ceci à voix haute",
        "say good morning class", "say the cat sat on the mat", "say welcome to the course",
        "say the following sentence", "read this sentence out", "speak these words", "read this in a female voice",
    ),
    slots=(
        SlotSpec("text", "AMAZON.FreeFormInput", "What should I read aloud?", required=True,
                 description="The text to speak; the previous answer when the user says 'that'."),
        SlotSpec("voice", "AMAZON.AlphaNumeric", "Which voice would you like?", description="A voice name, e.g. Joanna."),
        SlotSpec("language", "AMAZON.Language", "Which language should I speak?", description="Target language."),
    ),
    keywords=("aloud", "out loud", "read aloud", "speak", "say", "pronounce", "narrate", "voice", "audio", "mp3",
              "listen", "hear", "text to speech", "tts", "talk", "en voz alta", "à voix haute", "a voix haute",
              "vorlesen", "laut", "em voz alta", "ad alta voce", "lee", "lis", "lies"),
    lead_verbs=("say", "read", "speak", "pronounce", "narrate", "recite", "voice", "lee", "leer", "lis", "lire",
                "lies", "sag", "leia", "di", "dis"),
    help=("\"Read that aloud\" speaks my last answer; \"read this aloud: <text>\" speaks your text "
          "(\"say it in Spanish\" translates first)."),
    extract=extract,
)


def fill_slots(turn: Turn, slots: Slots, conversation: Conversation) -> Slots:
    slots = Slots.of(slots)
    if slots.get("text"):
        return slots
    if any(a.kind in ("text", "pdf") for a in turn.attachments):
        return slots.with_(from_attachment=True)
    if conversation.last_answer and (slots.refers_to_previous or not slots.explicit_payload):
        previous = conversation.last_answer
        # "read it again" after a spoken answer repeats what was spoken, not the reply holding the link
        if conversation.last_intent == SPEC.name and conversation.extra.get(_SPOKEN):
            previous = conversation.extra[_SPOKEN]
        return slots.with_({"text": speakable(previous)}, previous_answer=True)
    return slots


speakable = textutil.speakable  # an answer as it should sound


_SPOKEN = "spoken_text"
LEX_MESSAGE_CHARS = 1000  # Lex V2 messages are 1-1024 characters; the SSML must fit in one


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    settings = ctx.settings
    source = _input(turn, ctx)
    if not source.text:
        raise InputError("There is nothing to read aloud: the text has no readable characters.", code="empty_text")
    text = source.text
    notes: list[str] = []
    language = _language_code(ctx.slots.get("language"))
    translated = False
    if language and language.split("-")[0].lower() != (_detect(ctx, text) or "").split("-")[0]:
        text = _translate(ctx, text, language)
        translated = True
        text, cut_again = textutil.cut(textutil.clean(text), settings.speech_max_chars)
        source = source if not cut_again else textinput.InputText(text, source.total_chars, True, source.source)
    if source.truncated:
        notes.append(f"The {source.source} has {source.total_chars:,} characters; I read only the first "
                     f"{len(text):,} (the limit is {settings.speech_max_chars:,} per request).")

    blobs = ctx.services.blobs  # fails early (e.g. no media bucket) before paying for synthesis
    audio = ctx.services.speech.synthesize(text, voice=ctx.slots.get("voice") or None, language=language)
    ext = "mp3" if audio.mime == "audio/mpeg" else "ogg" if audio.mime == "audio/ogg" else "wav"
    key = f"audio/{keys.conversation_hash(turn.conversation)}/{uuid.uuid4().hex}.{ext}"
    blob = blobs.put(key, audio.data, audio.mime)
    ctx.conversation.extra[_SPOKEN] = text

    minutes = max(1, round(settings.url_expiry_seconds / 60))
    expiry = f"{minutes // 60} hour{'s' if minutes >= 120 else ''}" if minutes % 60 == 0 else f"{minutes} minutes"
    duration = f"{audio.duration_s:.1f} s, " if audio.duration_s is not None else ""
    # the link travels in the reply's media (player, upload, short link): never as text a student reads
    lines = [f"Here is the audio ({duration}voice {audio.voice}).", f"The link expires in {expiry}."]
    if translated:
        lines.insert(0, f"In {textutil.language_name(language)}: {textutil.cut(text, 300)[0]}")
    lines.extend(f"Note: {n}" for n in notes)
    media = Media(kind="audio", mime=audio.mime, url=blob.url, path=blob.path,
                  title=f"Spoken text ({len(text):,} characters)", expires_at=blob.expires_at)
    return Reply(text="\n".join(lines), intent=SPEC.name, attachments=(media,), ssml=_voice_ssml(text),
                 details={"audio": {"key": blob.key, "url": blob.url, "path": blob.path, "mime": audio.mime,
                                    "duration_s": audio.duration_s, "voice": audio.voice, "bytes": len(audio.data),
                                    "expires_at": blob.expires_at},
                          "chars_spoken": len(text), "chars_total": source.total_chars, "truncated": source.truncated,
                          "translated_to": language if translated else None, "notes": notes})


def _input(turn: Turn, ctx: IntentContext) -> textinput.InputText:
    settings = ctx.settings
    previous = getattr(ctx.slots, "previous_answer", False) and not getattr(ctx.slots, "explicit_payload", False)
    source = textinput.message_or_attachment(ctx.slots.get("text"), "previous answer" if previous else "text",
                                             turn.attachments, max_chars=settings.speech_max_chars,
                                             max_bytes=settings.max_attachment_bytes)
    if source is not None:
        return source
    raise InputError("What should I read aloud? Type the text, or ask me a question first and say "
                     "\"read that aloud\".", code="empty_text")


def _language_code(value: Any) -> str | None:
    """An ISO code from the slot: 'es' as is, 'Spanish' (Lex's AMAZON.Language gives names) mapped."""
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip()
    if v.lower() in LANGUAGES:
        return LANGUAGES[v.lower()]
    if re.fullmatch(r"[a-zA-Z]{2,3}(-[A-Za-z]{2,4})?", v):
        return v.split("-")[0].lower() + v[len(v.split("-")[0]):]
    raise InputError(f"I don't know the language '{v[:40]}'. Try a name like Spanish or a code like 'es'.",
                     code="bad_language")


def _detect(ctx: IntentContext, text: str) -> str | None:
    """The text's language when the offline detector is installed (avoids translating English to English)."""
    try:
        lang, prob = ctx.services.language.detect(text)
        return lang if prob >= 0.8 else None
    except Exception:  # the `text` extra is not installed: translate whatever the target
        return None


def _translate(ctx: IntentContext, text: str, language: str) -> str:
    name = textutil.language_name(language)
    try:
        translator = ctx.services.translator
    except NotAvailable as e:
        from bot.errors import operator_hint

        operator_hint("translator", e.user_message)
        raise NotAvailable(f"I can't say it in {name} on this server: translation isn't set up here. "
                           "I can read it aloud as it is, if you ask.",
                           code="translation_not_available", capability="translator") from e
    return translator.translate(text, language)


def _voice_ssml(text: str) -> str:
    """SSML of the spoken text for voice channels, cut to fit one Lex message; the text is escaped."""
    limit = LEX_MESSAGE_CHARS
    spoken = text
    while len(textutil.ssml(spoken)) > LEX_MESSAGE_CHARS and limit > 20:
        limit = limit * 4 // 5
        spoken, _ = textutil.cut(text, limit)
    return textutil.ssml(spoken)
