"""DescribePhoto: labels, faces (age, emotions, eye direction), text, celebrities and known faces."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from bot.capabilities import PhotoDescription
from bot.conversation import Conversation, conversation_hash
from bot.errors import CoursebotError, InputError
from bot.specs import IntentContext, IntentSpec, Slots, SlotSpec
from bot.turn import Attachment, Reply, Turn
from bot.vision_words import count_phrase, join, position_words

log = logging.getLogger(__name__)


def _a_photo(turn: Turn) -> bool:
    """A plausible answer to "Please attach the photo": an attachment or an ``s3://`` link."""
    return bool(turn.attachments) or (turn.text or "").strip().startswith("s3://")


def extract(text: str, instruction: str, payload: str | None) -> Slots:
    """An ``s3://`` link in the message names the photo (Lex and the CLI send photos that way)."""
    link = re.search(r"s3://[^\s\"'<>]+", text or "")
    return Slots({"image": link.group(0)} if link else {})


SPEC = IntentSpec(
    name="DescribePhoto",
    description="Describes an attached photo (or the last one): objects, faces, eye direction, text, celebrities.",
    samples=(
        "what's in this photo", "describe this picture", "describe this image", "what do you see in this image",
        "tell me about this photo", "analyze this picture", "who is in this photo", "is this person famous",
        "is this a celebrity", "how old does she look", "how old is the person in the picture",
        "where is he looking", "what about her eyes", "which direction are they looking",
        "is the person smiling", "what emotions do you see on their face", "are their eyes open",
        "how many faces are in this picture", "detect the faces in this photo", "read the text in this image",
        "what does the sign say", "what's written on the t-shirt", "what objects are in the picture",
        "label this image", "what animal is this", "is this image safe", "do you recognize anyone here",
        "who does this look like", "check this photo", "look at this", "here is a photo", "what about this one",
        "identify what's in the photo", "can you see the picture I sent", "classify this image",
        "is the arrow pointing up or down", "describe the scene",
    ),
    slots=(
        SlotSpec("image", "AMAZON.AlphaNumeric", "Please attach the photo you want me to describe.", required=True,
                 description="The photo: an attachment, or the last photo of the conversation.", accepts=_a_photo),
    ),
    keywords=("photo", "photos", "picture", "pictures", "pic", "pics", "image", "images", "selfie", "snapshot",
              "screenshot", "face", "faces", "eyes", "looking", "smiling", "celebrity", "famous", "foto", "imagen",
              "imagem", "bild", "photographie"),
    lead_verbs=("describe", "analyze", "analyse", "identify", "label", "classify", "describe", "describir",
                "décris", "decris", "beschreibe", "descreva", "describa"),
    help=("Attach a photo (the paper-clip button in the web chat, or upload it in Slack) and I describe it: objects, "
          "faces, where people are looking, and any text in it. Then ask follow-ups like \"where is she looking?\"."),
    extract=extract,
    uses_last_image=True,
)


# A question about the text in the last photo ("what does the text say?", "is there any text in it?"),
# which the NLU alone would read as a request to summarize or to read something aloud.
_TEXT_FOLLOW_UP = re.compile(r"\b(text|written|writing|words?|letters?|sign)\b.*\b(say|says|read|it|there|photo|picture|image)\b"
                             r"|\b(say|says|read|written|any)\b.*\b(text|writing|words?|letters?|sign)\b", re.I)
_NOT_ABOUT_THE_PHOTO = re.compile(r"\b(aloud|out loud|summar\w*|draw|generate)\b|:", re.I)


def follow_up(turn: Turn, conversation: Conversation) -> bool:
    """Right after a photo was described, a short question about its text is about that photo."""
    text = turn.text or ""
    return (not turn.attachments and bool(conversation.last_image) and len(text.split()) <= 10
            and bool(_TEXT_FOLLOW_UP.search(text)) and not _NOT_ABOUT_THE_PHOTO.search(text))


def fill_slots(turn: Turn, slots: Slots, conversation: Conversation) -> Slots:
    """The photo: an attachment, else the slot's value (a Lex ``s3://`` link), else the last photo."""
    slots = Slots.of(slots)
    for a in turn.attachments:
        if a.kind == "image":
            return slots.with_({"image": a.name}, from_attachment=True)
    if turn.attachments:  # a PDF or text file sent as "the photo": the handler explains
        return slots.with_({"image": turn.attachments[0].name}, from_attachment=True)
    if slots.get("image"):
        return slots
    if conversation.last_image:
        return slots.with_({"image": conversation.last_image})
    return slots


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    """Describe the attached photo, or the conversation's last one, answering the question asked."""
    data, name, key, notes, stored = _image(turn, ctx)
    fresh = any(a.kind == "image" for a in turn.attachments)
    description = _describe(ctx, data, key, stored, lookup=not fresh)
    if notes:  # what input handling did (first frame of an animation, scaled down)
        description = dataclasses.replace(description, notes=(*notes, *description.notes))
    if stored:
        ctx.conversation.last_image = key
    text = compose(description, turn.text, input_notes=notes)
    details = {
        "backend": ctx.settings.backend,
        "image": {"key": key, "name": name, "bytes": len(data)},
        "labels": list(description.labels),
        "faces": list(description.faces),
        "text": list(description.text),
        "celebrities": list(description.celebrities),
        "known_faces": list(description.known_faces),
        "moderation": list(description.moderation),
        "notes": [n for n in description.notes if n != "declined"],
    }
    declined = "declined" in description.notes
    if stored and not declined:  # a link in details, not a Media: channels would re-post the user's own photo
        details["image"]["url"] = _url(ctx, key)
    return Reply(text=text, intent=SPEC.name, details=details, slots={"image": key},
                 error="unsafe_image" if declined else None,
                 suggestions=() if declined else _suggestions(description, turn.text))


# -- where the photo comes from --------------------------------------------------------------------
def _image(turn: Turn, ctx: IntentContext) -> tuple[bytes, str, str, tuple[str, ...], bool]:
    """(bytes, name, blob key, notes, stored) of the photo to describe; a new attachment is validated
    and stored (``stored`` is False when the blob store failed: describing still works)."""
    from bot import images

    limit = ctx.settings.max_attachment_bytes
    attachment = next((a for a in turn.attachments if a.kind == "image"), None)
    if attachment is None:
        other = next((a for a in turn.attachments), None)
        if other is not None:  # a PDF or text file sent with "describe this photo"
            images.check_kind(_read(other, limit, ctx), other.name)
        named = str(ctx.slots.get("image") or "").strip()
        if named.startswith("s3://"):  # Lex carries no files: a photo uploaded to S3 comes as its link
            attachment = Attachment(name=named.rsplit("/", 1)[-1] or "photo", url=named)
        elif named and named != ctx.conversation.last_image:
            raise InputError(f"I can't find a photo called '{named[:80]}'. Attach the photo (in the web chat or "
                             "Slack), or send its S3 link (s3://bucket/key).", code="no_image")
        else:
            data, name, key = _last_image(ctx)
            return data, name, key, (), not key.startswith("/")
    data = _read(attachment, limit, ctx)
    mime = images.check_kind(data, attachment.name)
    # validate (and shrink) before storing: nothing unusable is kept, nothing is sent to a paid API
    prepared = images.prepare(data, name=attachment.name, max_pixels=ctx.settings.vision_max_pixels)
    digest = hashlib.sha256(prepared.data).hexdigest()[:24]
    ext = "png" if prepared.mime == "image/png" else "jpg"
    key = f"photos/{conversation_hash(turn.conversation)}/{digest}.{ext}"
    stored = True
    try:
        ctx.services.blobs.put(key, prepared.data, prepared.mime)
    except CoursebotError as e:  # describing works without storage; only follow-ups need it
        stored = False
        log.warning("could not store the photo (%s); follow-up questions about it won't work", e.code)
    log.debug("stored photo %s (%s, %d -> %d bytes)", key, mime, len(data), len(prepared.data))
    return prepared.data, attachment.name, key, prepared.notes, stored


def _read(a: Attachment, limit: int, ctx: IntentContext) -> bytes:
    if a.data is None and a.path is None and a.url and a.url.startswith("s3://"):
        return ctx.services.remote_files.read(a.url, limit, what="photo")
    return a.read(limit)


def _last_image(ctx: IntentContext) -> tuple[bytes, str, str]:
    key = ctx.conversation.last_image
    if not key:
        raise InputError("Please attach the photo you want me to describe.", code="no_image")
    try:
        if key.startswith("/"):  # an older state recorded a local path
            data = Path(key).read_bytes()
        else:
            data = ctx.services.blobs.get(key)
    except (OSError, CoursebotError) as e:
        ctx.conversation.last_image = None
        raise InputError("I no longer have the last photo of this conversation. Please attach it again.",
                         code="no_image") from e
    return data, key.rsplit("/", 1)[-1], key


def _url(ctx: IntentContext, key: str) -> str | None:
    """An expiring link to the described photo (channels may show which photo the answer is about)."""
    try:
        return ctx.services.blobs.url(key)
    except CoursebotError:
        return None


# -- describing, with a cache so follow-up questions don't pay twice ------------------------------
def _describe(ctx: IntentContext, data: bytes, key: str, stored: bool, lookup: bool) -> PhotoDescription:
    """The photo's description; follow-ups (``lookup``) reuse the one stored beside the photo."""
    mime = "image/png" if key.endswith(".png") else "image/jpeg"
    if not stored:
        return ctx.services.vision.describe(data, mime)
    cache_key = f"{key.rsplit('.', 1)[0]}.{ctx.settings.backend}.json"
    blobs = ctx.services.blobs
    if lookup:
        try:
            cached = json.loads(blobs.get(cache_key))
            return PhotoDescription(**{k: tuple(v) if isinstance(v, list) else v for k, v in cached.items()})
        except Exception:  # not cached (an older photo, or a generated one) or unreadable: describe it
            pass
    description = ctx.services.vision.describe(data, mime)
    try:
        blobs.put(cache_key, json.dumps(description.__dict__, default=list).encode(), "application/json")
    except Exception:
        log.warning("could not cache a photo description", exc_info=True)
    return description


# -- answering what was asked -----------------------------------------------------------------------
_ASKS = (
    ("eyes", re.compile(r"\b(eyes?|looking|looks? (at|to|toward)|gaz\w*|star(e|ing)|direction|glanc\w*)\b"
                        r"|\bwhere\b.*\blook", re.I)),
    ("age", re.compile(r"\b(old|age|young)\b", re.I)),
    ("text", re.compile(r"\b(text|say|says|written|writing|read|sign|words?|letters?)\b", re.I)),
    ("who", re.compile(r"\b(who|famous|celebrit\w*|recogni[sz]e|look like|looks like|identify)\b", re.I)),
    ("mood", re.compile(r"\b(smil\w*|emotion\w*|happy|sad|mood|feel\w*|expression)\b", re.I)),
    ("count", re.compile(r"\bhow many\b", re.I)),
)


def compose(d: PhotoDescription, question: str = "", input_notes: tuple[str, ...] = ()) -> str:
    """The reply text: a direct answer to the question when there is one (with what was done to
    the input), otherwise the whole description with every note (including what the engine can't see)."""
    if "declined" in d.notes:
        return d.summary
    asks = [name for name, rx in _ASKS if rx.search(question or "")]
    lead = [s for s in (_answer(name, d) for name in asks) if s]
    if lead:
        return " ".join([*lead, *input_notes])
    return " ".join([d.summary, *(n for n in d.notes if n != "declined")])


def _answer(ask: str, d: PhotoDescription) -> str | None:
    faces = list(d.faces)
    if ask in ("eyes", "age", "mood") and not faces:
        return "I don't see a face in this photo, so I can't tell."
    if ask == "eyes":
        bits = []
        for i, f in enumerate(faces[:5]):
            gaze = (f.get("eye_direction") or {}).get("words")
            if len(faces) == 1:
                if f.get("eyes_open") is False:
                    bits.append("Their eyes are closed.")
                elif gaze:
                    bits.append(("Their eyes are open and they are " if f.get("eyes_open") else "They are ") + gaze + ".")
                else:
                    bits.append("I couldn't make out their eyes.")
                continue
            who = f"Person {i + 1} ({position_words(f['box'])})" if f.get("box") else f"Person {i + 1}"
            if f.get("eyes_open") is False:
                bits.append(f"{who}: eyes closed.")
            else:
                bits.append(f"{who}: {gaze or 'eyes not clear'}.")
        return " ".join(bits)
    if ask == "age":
        ages = [f"{f['age_range']['low']}–{f['age_range']['high']}" for f in faces if f.get("age_range")]
        if not ages:
            return None
        return ("They look about " + ages[0] + " years old." if len(ages) == 1
                else "Estimated ages: " + join(ages) + " years.")
    if ask == "mood":
        moods = []
        for f in faces:
            m = [x for x in ((f.get("emotion") or ""), "smiling" if f.get("smile") else "") if x]
            moods.append(" and ".join(m) if m else "no clear expression")
        if not any(f.get("emotion") or "smile" in f for f in faces):
            return None
        return "Expression: " + "; ".join(moods) + "."
    if ask == "text":
        if d.text:
            return "The text reads: \"" + " / ".join(d.text)[:400] + "\"."
        return "I don't see any readable text in this photo."
    if ask == "who":
        names = [f"{c['name']} ({c['confidence']:.0f}% match)" for c in d.celebrities]
        names += [f"{k['name']} from your face collection ({k['similarity']:.0f}% similar)" for k in d.known_faces]
        if names:
            return "This looks like " + join(names) + "."
        if faces:
            return None  # the summary and the notes say what could be checked
        return "I don't see a face in this photo."
    if ask == "count":
        return f"I count {count_phrase(len(faces), 'face')}."
    return None


def _suggestions(d: PhotoDescription, question: str = "") -> tuple[str, ...]:
    """Follow-ups about what the photo has, except the one just asked."""
    asked = {name for name, rx in _ASKS if rx.search(question or "")}
    out = []
    if d.faces and "eyes" not in asked:
        out.append("where are they looking?")
    if d.text and "text" not in asked:
        out.append("what does the text say?")
    return tuple(out)
