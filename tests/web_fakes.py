"""Fake capability intents for the web chat tests: they return Replies with citations, an image and
an audio Media backed by real files in the blob store, so the page's rendering of each is tested
for real. They keep the real specs and slot fillers, so the real NLU routes to them."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

from bot.files import sniff
from bot.specs import Intent, IntentContext
from bot.turn import Citation, Media, Reply, Turn

FIXTURES = Path(__file__).parent / "fixtures" / "web"
PDF_KEY = "course/course-notes.pdf"
# An answer that tries to inject markup: the page must show it as text, never run it.
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def ask_course_pdfs(turn: Turn, ctx: IntentContext) -> Reply:
    blobs = ctx.services.blobs
    if not blobs.exists(PDF_KEY):
        blobs.put(PDF_KEY, (FIXTURES / "course-notes.pdf").read_bytes(), "application/pdf")
    question = ctx.slots.get("question") or turn.text
    text = (f"**Amazon Lex** builds conversational bots (you asked: *{question}*).\n"
            f"- intents and slots are on page 2\n- see [the notes]({blobs.url(PDF_KEY)})\n"
            f"{HOSTILE} [bad link](javascript:window.__pwned=3)")
    citations = (Citation(source="course-notes.pdf", page=2, url=blobs.url(PDF_KEY) + "#page=2",
                          quote="Page 2: intents, slots and utterances in Lex"),
                 Citation(source="course-notes.pdf", page=1, url=blobs.url(PDF_KEY)))
    return Reply(text=text, intent="AskCoursePdfs", citations=citations)


def describe_photo(turn: Turn, ctx: IntentContext) -> Reply:
    image = next(a for a in turn.attachments if a.kind == "image")
    data = image.read()
    width, height = png_size(data)
    stored = ctx.services.blobs.put(f"described/{Path(image.path or image.name).stem}.png", data, image.mime)
    return Reply(text=f"A {width}×{height} {sniff(data[:16]).split('/')[1].upper()} photo ({len(data)} bytes).",
                 intent="DescribePhoto",
                 attachments=(Media(kind="image", mime=image.mime, url=stored.url, title="your photo"),))


def speak_answer(turn: Turn, ctx: IntentContext) -> Reply:
    text = ctx.slots["text"]
    seconds = min(3.0, 0.4 + 0.05 * len(text.split()))
    stored = ctx.services.blobs.put(f"speech/{abs(hash(text)) % 10**8}.wav", tone_wav(seconds), "audio/wav")
    return Reply(text=f"Here is the answer read aloud ({seconds:.1f} s).", intent="SpeakAnswer",
                 attachments=(Media(kind="audio", mime="audio/wav", url=stored.url, title="answer audio",
                                    expires_at=stored.expires_at),))


def fake_intents() -> dict[str, Intent]:
    from intents import registry

    intents = dict(registry())
    for name, handler in (("AskCoursePdfs", ask_course_pdfs), ("DescribePhoto", describe_photo),
                          ("SpeakAnswer", speak_answer)):
        intents[name] = Intent(spec=intents[name].spec, handle=handler, fill_slots=intents[name].fill_slots)
    return intents


def tone_wav(seconds: float, rate: int = 16000, hz: float = 440.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                               for i in range(frames)))
    return buf.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    return (0, 0)
