"""Robustness: every bad input, through every channel that can carry it, gets a clear reply (or the
channel's proper rejection) with no traceback and no internals (ARNs, bucket names, env values)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import badinputs
from bot.files import attachment_from_path
from bot.turn import Turn

SECRET_ENV = {"COURSEBOT_PDF_BUCKET": "internal-bucket-7f3a", "COURSEBOT_KB_ID": "KBSECRET42",
              "COURSEBOT_SECRET_KEY": "do-not-leak-this-signing-key"}
LEAKS = re.compile(r"Traceback|File \"/|arn:aws|internal-bucket-7f3a|KBSECRET42|do-not-leak|botocore|"
                   r"Exception:|Error:|\.py\", line", re.I)

TEXTS = {
    "empty": "",
    "whitespace": " \n\t ",
    "huge": badinputs.HUGE_MESSAGE,
    "markup": "read this aloud: " + badinputs.MARKUP,
    "rtl-zero-width": badinputs.RTL_ZERO_WIDTH,
    "prompt-injection": badinputs.PROMPT_INJECTION,
    "summarize-markup": "summarize: " + badinputs.MARKUP,
    "control-chars": "hello\x00\x07\x1b[31m world",
    "lone-surrogate-ish": "what is lex \udcff?",
}
FILES = ["empty.jpg", "random.png", "page.html.jpg", "document.pdf.jpg", "bomb.png", "tiny.png", "corrupt.pdf",
         "truncated.pdf", "empty-text.pdf", "injection.pdf", "latin1.txt"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return badinputs.corpus_files(tmp_path_factory.mktemp("bad"))


@pytest.fixture
def secret_env(monkeypatch):
    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)


def assert_clean(reply: dict) -> None:
    text = reply.get("text") or ""
    assert text.strip(), reply
    assert len(text) < 20_000
    assert not LEAKS.search(json.dumps(reply, ensure_ascii=False)), reply


# --- the router, as every channel reaches it ---------------------------------------------------
@pytest.mark.parametrize("name", list(TEXTS))
def test_bad_text_through_router(name, secret_env, home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    reply = Router(Services(load())).handle(Turn(conversation="r", text=TEXTS[name]))
    assert_clean(reply.to_dict())


@pytest.mark.parametrize("name", FILES)
def test_bad_file_through_router(name, corpus, secret_env, home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    router = Router(Services(load()))
    for text in ("", "describe this photo", "summarize this"):
        reply = router.handle(Turn(conversation="r", text=text, attachments=(attachment_from_path(corpus[name]),)))
        assert_clean(reply.to_dict())


# --- the CLI, as a user drives it ----------------------------------------------------------------
def cli(*args, home):
    env = {**os.environ, **SECRET_ENV, "COURSEBOT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("name", ["empty", "markup", "rtl-zero-width", "prompt-injection", "control-chars"])
def test_bad_text_through_cli(name, tmp_path):
    text = TEXTS[name].replace("\x00", "")  # argv cannot carry NUL
    p = cli("turn", text, "--json", home=tmp_path)
    assert p.returncode == 0 and "Traceback" not in p.stderr
    assert_clean(json.loads(p.stdout))


def test_bad_files_through_cli(corpus, tmp_path):
    for name in FILES:
        p = cli("turn", "what is in this file?", "--attach", str(corpus[name]), "--json", home=tmp_path)
        assert p.returncode == 0, (name, p.stderr[-2000:])
        assert "Traceback" not in p.stderr, name
        assert_clean(json.loads(p.stdout))
