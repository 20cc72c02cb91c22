"""No dead ends: every follow-up the bot suggests (reply suggestions, the questions its replies quote as
examples, the web page's greeting chips) is something it can answer. The sample course is ingested with
`coursebot kb ingest --sample` into a fresh COURSEBOT_HOME; each suggestion is sent as the next turn of
the conversation that produced it and must not get the fallback or a "couldn't find" answer."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.turn import Attachment, Turn

FIXTURES = Path(__file__).parent / "fixtures"
APP_JS = Path(__file__).resolve().parent.parent / "bot" / "channels" / "web" / "static" / "app.js"
DEAD_END = re.compile(r"couldn't find|could not find|not in the course|didn't catch|don't know|isn't covered|"
                      r"no information|nothing about", re.I)
QUOTED_QUESTION = re.compile(r"[\"“]([^\"”\n]{4,80}\?)[\"”]")  # 'e.g. "what topics are in x.pdf?"'


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    home = tmp_path_factory.mktemp("suggestions") / "home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}, "COURSEBOT_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "kb", "ingest", "--sample"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return Router(Services(load(home=home, backend="local")))


def _photo() -> Attachment:
    from PIL import Image
    from skimage import data as skdata

    buf = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buf, format="JPEG", quality=90)
    return Attachment(name="astronaut.jpg", mime="image/jpeg", data=buf.getvalue())


def _pdf() -> Attachment:
    data = (FIXTURES / "web" / "course-notes.pdf").read_bytes()
    return Attachment(name="course-notes.pdf", mime="application/pdf", data=data)


# conversations whose last reply carries suggestions: every intent that suggests something
SCRIPTS = {
    "greeting": [Turn("", text="hi")],
    "help": [Turn("", text="help")],
    "answer": [Turn("", text="What is Amazon Lex?")],
    "not-found": [Turn("", text="What does the course say about medieval falconry?")],
    "overview": [Turn("", text="What does the course cover?")],
    "fallback": [Turn("", text="zzkq wibble frobnicate")],
    "empty": [Turn("", text="   ")],
    "nothing-to-rate": [Turn("", text="helpful")],
    "rated-down": [Turn("", text="What is Amazon Polly?"), Turn("", text="not helpful")],
    "rated-up": [Turn("", text="What is Amazon Polly?"), Turn("", text="helpful")],
    "pdf-added": [Turn("", text="", attachments=(_pdf(),), role="student")],
    "photo": [Turn("", text="what's in this photo?", attachments=(_photo(),))],
}


def _play(router, name: str, turns: list[Turn], suffix: str = "") -> list:
    conversation = f"sugg-{name}{suffix}"
    return [router.handle(t.with_(conversation=conversation)) for t in turns]


def _web_greeting_chips() -> list[str]:
    """The chips of the page's greetings (local and Lex mode)."""
    found = re.findall(r"suggestions:\s*\[([^\]]*)\]", APP_JS.read_text())
    assert found, "the page's greeting has no suggestions"
    return list(dict.fromkeys(chip for group in found for chip in json.loads("[" + group + "]")))


def _offered(reply) -> list[str]:
    return list(dict.fromkeys([*reply.suggestions, *QUOTED_QUESTION.findall(reply.text or "")]))


def test_every_suggestion_is_answered(router):
    checked: dict[str, str] = {}
    failures = []
    for name, turns in SCRIPTS.items():
        last = _play(router, name, turns)[-1]
        offered = _offered(last)
        if name != "empty":  # a whitespace message gets its own sentence; the rest must suggest something
            assert offered, (name, last.text)
        for i, suggestion in enumerate(offered):
            if suggestion in (last.slots or {}).values():
                continue
            replies = _play(router, name, [*turns, Turn("", text=suggestion)], suffix=f"-{i}")
            reply = replies[-1]
            checked[f"{name}: {suggestion}"] = reply.intent
            if reply.intent == "Fallback" or reply.state == "failed" or DEAD_END.search(reply.text or ""):
                failures.append((name, suggestion, reply.intent, reply.state, (reply.text or "")[:200]))
    for chip in _web_greeting_chips():
        reply = router.handle(Turn(conversation="sugg-web-greeting", text=chip))
        checked[f"web greeting: {chip}"] = reply.intent
        if reply.intent == "Fallback" or reply.state == "failed" or DEAD_END.search(reply.text or ""):
            failures.append(("web greeting", chip, reply.intent, reply.state, (reply.text or "")[:200]))
    assert not failures, failures
    # the suggestions that lead somewhere particular do
    assert checked["answer: Read that aloud"] == "SpeakAnswer"
    assert checked["pdf-added: What topics does this PDF cover?"] == "AskCoursePdfs"
    assert checked["not-found: What does the course cover?"] == "AskCoursePdfs"
    assert len(checked) >= 15, checked
