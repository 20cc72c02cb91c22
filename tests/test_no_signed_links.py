"""No reply shows a raw signed URL (``…?expires=…&sig=…``, an S3 presigned ``X-Amz-Signature``) as text in
any channel: the link lives in the reply's structured fields (media, citations) and each channel shows it
its own way (web: a player and labelled links; Slack: an upload or ``<url|label>``; Lex: a short link;
the terminal: a file path). A corpus of turns over every intent, rendered by every channel adapter."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from bot.turn import Attachment, Turn
from conftest import has_program, require_engine

SIGNED = re.compile(r"expires=|sig=|X-Amz-Signature|X-Amz-Credential", re.I)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


class FakeImages:
    """An image generator (the local backend has none): a real PNG through the real blob store."""

    model_id = "fake.image-model"

    def generate(self, prompt, **_):
        from bot.capabilities import GeneratedImage

        return GeneratedImage(data=PNG, mime="image/png", seed=7)


@pytest.fixture
def corpus_router(settings, tmp_path):
    from bot.router import Router
    from bot.services import Services
    from kb.sample import build as build_sample

    services = Services(settings, overrides={"imagegen": FakeImages()})
    pdfs = [p for p in build_sample(tmp_path / "sample") if p.name.startswith(("01-", "10-"))]
    services.kb.ingest([str(p) for p in pdfs])
    return Router(services)


def _photo() -> Attachment:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 120, 200)).save(buf, format="PNG")
    return Attachment(name="photo.png", mime="image/png", data=buf.getvalue())


LONG = " ".join(f"Sentence {i} explains how Amazon Lex uses intents, slots and code hooks." for i in range(250))
# (conversation, turn) in order: follow-ups use the previous answers of their conversation
CORPUS = [
    ("c1", Turn("", text="hi")),
    ("c1", Turn("", text="help")),
    ("c2", Turn("", text="What is Amazon Lex?")),
    ("c2", Turn("", text="read that aloud")),
    ("c2", Turn("", text="summarize that")),
    ("c2", Turn("", text="helpful")),
    ("c3", Turn("", text="How do presigned URLs work?")),
    ("c3", Turn("", text="What does the course cover?")),
    ("c4", Turn("", text="read this aloud: the exam is on Monday")),
    ("c5", Turn("", text="describe this photo", attachments=(_photo(),))),
    ("c6", Turn("", text="draw a lighthouse at sunset")),
    ("c7", Turn("", text="zzkq wibble frobnicate")),
    ("c8", Turn("", text="summarize: " + LONG)),
]


def _replies(router) -> list[tuple[Turn, Any]]:
    out = []
    for conversation, turn in CORPUS:
        turn = turn.with_(conversation=f"links-{conversation}")
        out.append((turn, router.handle(turn)))
    return out


def _slack_visible(blocks: list[dict[str, Any]]) -> list[str]:
    """What a person reads in Block Kit: text objects, with ``<url|label>`` shown as its label (button
    values are data the app reads back, not text)."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                texts.append(re.sub(r"<([^|>]+)\|([^>]*)>", r"\2", node["text"]))
            for key, value in node.items():
                if key != "value":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return texts


def _lex_visible(messages: list[dict[str, Any]]) -> list[str]:
    """PlainText and SSML contents and card titles (a CustomPayload is data for the client, not shown)."""
    out = []
    for m in messages:
        if m.get("contentType") in ("PlainText", "SSML"):
            out.append(m["content"])
        card = m.get("imageResponseCard")
        if card:
            out += [card.get("title", ""), card.get("subtitle", "")] + [b.get("text", "") for b in card.get("buttons", [])]
    return out


def test_no_channel_shows_a_signed_url_as_text(corpus_router):
    require_engine("espeak-ng", has_program("espeak-ng"))
    from bot.channels.lex import adapter as lex_adapter
    from bot.channels.lex.handler import post_steps
    from bot.channels.lex.poststeps import apply
    from bot.channels.slack.blocks import reply_blocks, upload_failure_blocks
    from bot.channels.web.adapter import to_web

    services = corpus_router.services
    base = services.settings.public_url
    replies = _replies(corpus_router)
    intents = {r.intent for _, r in replies}
    assert {"Greeting", "Help", "AskCoursePdfs", "SpeakAnswer", "SummarizeText", "Feedback", "DescribePhoto",
            "GenerateImage", "Fallback"} <= intents, intents
    # the corpus does carry signed links, in the structured fields
    structured = [m.url for _, r in replies for m in r.attachments] + [c.url for _, r in replies for c in r.citations]
    assert sum(bool(u and SIGNED.search(u)) for u in structured) >= 3, structured
    spoken = next(r for _, r in replies if r.intent == "SpeakAnswer" and r.attachments)
    assert spoken.attachments[0].kind == "audio" and SIGNED.search(spoken.attachments[0].url)

    seen = []
    for turn, reply in replies:
        where = f"{reply.intent} ({turn.text[:30]!r})"
        # web chat: the text the page renders (media become players and images; citations labelled links)
        web = to_web(reply, services, base)
        seen.append((f"web {where}", web["text"]))
        seen += [(f"web media title {where}", m.get("title") or "") for m in web["attachments"]]
        # Slack: the answer's blocks and notification text, and the note when an upload fails
        fallback, blocks = reply_blocks(reply, turn.conversation)
        seen.append((f"slack text {where}", fallback))
        seen += [(f"slack blocks {where}", t) for t in _slack_visible(blocks)]
        for m in reply.attachments:
            note, note_blocks = upload_failure_blocks(m.title or "file", m.url)
            seen += [(f"slack upload note {where}", t) for t in _slack_visible(note_blocks)]
        # Lex, typed and spoken: after the channel's post-steps (short links, full-text link)
        for mode in ("text", "speech"):
            lex_turn = turn.with_(input_mode=mode)
            shown = apply(reply, post_steps(services, lex_turn))
            messages = lex_adapter.text_messages(shown) if mode == "text" else lex_adapter.speech_messages(shown)
            seen += [(f"lex {mode} {where}", t) for t in _lex_visible(messages)]
        # `coursebot turn --json`: its text field
        seen.append((f"json text {where}", reply.to_dict()["text"]))
    bad = [(where, text[:160]) for where, text in seen if SIGNED.search(text or "")]
    assert not bad, bad
    from test_student_replies import JARGON

    jargon = [(where, JARGON.findall(text)) for where, text in seen if JARGON.search(text or "")]
    assert not jargon, jargon  # nor an install command or a setting's name
    assert any(where.startswith("lex text SpeakAnswer") and "/l/" in text for where, text in seen)  # a short link


def test_turn_json_keeps_the_audio_url_in_its_fields_not_its_text(tmp_path):
    require_engine("espeak-ng", has_program("espeak-ng"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")},
           "COURSEBOT_HOME": str(tmp_path / "home")}
    p = subprocess.run([sys.executable, "-m", "bot.cli", "turn", "read this aloud: good morning class", "--json"],
                       capture_output=True, text=True, env=env, timeout=180)
    assert p.returncode == 0, p.stderr
    reply = json.loads(p.stdout)
    assert reply["intent"] == "SpeakAnswer" and not SIGNED.search(reply["text"]), reply["text"]
    (audio,) = reply["attachments"]
    assert audio["kind"] == "audio" and SIGNED.search(audio["url"]) and audio["path"].endswith(".ogg")
    assert SIGNED.search(reply["details"]["audio"]["url"])
