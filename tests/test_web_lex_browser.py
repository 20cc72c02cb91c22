"""Lex mode end to end in headless Chromium: ``coursebot serve --lex BOT/ALIAS`` (its own process) in
front of a local fake of the Lex V2 runtime over HTTP (bot/testing/lex_runtime.py; boto3 reaches it through ``endpoint_url``, so requests are
signed and responses parsed for real, and our code hook answers). A typed question and a spoken
one are answered; the microphone is Chromium's fake device playing a WAV of espeak-ng speech, the
fake checks the request is 16 kHz 16-bit mono PCM of about the length the button was held, and
the spoken answer (espeak-ng MP3 from the fake) plays. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import pytest
from conftest import require_engine, require_module

require_module("fastapi", "fastapi (the `web` extra)")
require_module("boto3")
require_module("selenium", "selenium (the `dev` extra)")

from web_fakes import fake_intents  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ESPEAK = shutil.which("espeak-ng")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "web"
BOT, ALIAS = "ABCDE12345", "FGHIJ67890"

require_engine("Chromium and chromium-driver", os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
               "scripts/apt-packages-test.txt, installed by `make test`")
require_engine("espeak-ng", ESPEAK is not None, "scripts/apt-packages.txt, installed by `make install`")

pytestmark = pytest.mark.slow


@pytest.fixture
def speech_wav(tmp_path) -> Path:
    """A WAV of espeak-ng saying a question, with a second of silence after it (the fake microphone loops it)."""
    raw = tmp_path / "raw.wav"
    subprocess.run([ESPEAK, "-v", "en-us", "-s", "150", "-w", str(raw), "What is Amazon Lex?"], check=True, timeout=30)
    with wave.open(str(raw)) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    out = tmp_path / "question.wav"
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(frames + b"\x00\x00" * params.framerate)
    return out


@pytest.fixture
def lex(home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.testing.lex_runtime import FakeLexRuntime

    services = Services(load(home=home, backend="local"))
    with FakeLexRuntime(Router(services, intents=fake_intents())) as fake:
        yield fake


@contextlib.contextmanager
def serve_lex(home: Path, lex, **env: str):
    """``coursebot serve --port 0 --lex BOT/ALIAS`` in its own process, boto3 pointed at the fake runtime."""
    environ = {**os.environ, "COURSEBOT_HOME": str(home), "COURSEBOT_AWS_ENDPOINT_URL": lex.url,
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
               **env}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--lex", f"{BOT}/{ALIAS}"],
                            cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("coursebot web chat: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        assert f"Lex bot {BOT}" in proc.stdout.readline()
        url = line.split()[3]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "coursebot serve did not answer /healthz"
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def server(home, lex):
    with serve_lex(home, lex) as url:
        yield url


def _chromium(tmp_path, speech_wav, *, grant_microphone: bool = True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1100,900", "--autoplay-policy=no-user-gesture-required",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={speech_wav}",
            f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    if grant_microphone:
        args.append("--use-fake-ui-for-media-stream")  # accepts the permission prompt
    for arg in args:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(20)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return driver


@pytest.fixture
def browser(tmp_path, monkeypatch, speech_wav):
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium must never try to download a driver or browser
    driver = _chromium(tmp_path, speech_wav)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser_without_microphone(tmp_path, monkeypatch, speech_wav):
    monkeypatch.setenv("SE_OFFLINE", "true")
    driver = _chromium(tmp_path, speech_wav, grant_microphone=False)
    try:
        yield driver
    finally:
        driver.quit()


def bot_messages(driver):
    return driver.find_elements("css selector", "#messages .msg.bot")


def wait_for_bot(driver, count: int, timeout: float = 40):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: len(bot_messages(d)) >= count)
    WebDriverWait(driver, timeout).until(lambda d: not d.find_element("id", "working").is_displayed())
    return bot_messages(driver)[count - 1]


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_typed_and_spoken_questions_answered_by_lex(server, browser, lex):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from bot.testing.lex_runtime import pcm_rms

    d = browser
    d.get(server + "/")
    wait_for_bot(d, 1)
    talk = d.find_element("id", "talk")
    WebDriverWait(d, 10).until(lambda _: talk.is_displayed())  # Lex mode takes speech
    assert not d.find_element("id", "attach").is_displayed()  # and no files
    shot(d, "lex-01-opened")

    # 1. typed: the answer comes from the Lex bot (our code hook behind the fake runtime), with citations
    box = d.find_element("id", "text")
    box.send_keys("What is Amazon Lex?")
    box.send_keys(Keys.ENTER)
    answer = wait_for_bot(d, 2)
    assert "Amazon Lex" in answer.text
    assert answer.find_elements("css selector", ".citations a"), "the Lex answer has no citation links"
    assert d.execute_script("return window.__pwned") is None
    assert lex.requests[-1].op == "text" and lex.requests[-1].text == "What is Amazon Lex?"
    shot(d, "lex-02-typed-answer")

    # 2. spoken: hold the button while the fake microphone plays the espeak-ng question
    lex.heard = "what is amazon lex"
    held = 2.5
    ActionChains(d).click_and_hold(talk).perform()
    WebDriverWait(d, 10).until(lambda _: talk.get_attribute("data-state") == "recording")
    shot(d, "lex-03-listening")
    time.sleep(held)
    ActionChains(d).release(talk).perform()
    spoken = wait_for_bot(d, 3)
    heard = d.find_elements("css selector", "#messages .msg.user.voice")
    assert heard and heard[-1].text.endswith("what is amazon lex")  # the transcript Lex heard, [h.text for h in heard]
    assert "Amazon Lex" in spoken.text, spoken.text

    call = lex.requests[-1]
    assert call.op == "utterance" and lex.errors == []
    assert call.headers["content-type"] == "audio/l16; rate=16000; channels=1"
    assert len(call.pcm) % 2 == 0
    assert held - 0.8 <= call.seconds <= held + 1.5, call.seconds  # 16 kHz: 32,000 bytes a second
    assert pcm_rms(call.pcm) > 100, "the recording is silence: the fake microphone's speech did not arrive"

    # 3. the spoken answer (the fake's espeak-ng MP3) plays
    WebDriverWait(d, 20).until(lambda _: d.execute_script(
        "const a = document.querySelector('#messages .msg.bot:last-child audio.voice-reply');"
        "return !!a && (a.currentTime > 0 || a.ended);"))
    shot(d, "lex-04-spoken-answer")
    assert d.execute_script("return document.querySelector('audio.voice-reply').src").startswith("blob:")


def test_nothing_heard_is_a_plain_line(server, browser, lex):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(server + "/")
    wait_for_bot(d, 1)
    talk = d.find_element("id", "talk")
    WebDriverWait(d, 10).until(lambda _: talk.is_displayed())

    # nothing heard: Lex's recognizer found no words in the recording
    lex.heard = ""
    ActionChains(d).click_and_hold(talk).perform()
    WebDriverWait(d, 10).until(lambda _: talk.get_attribute("data-state") == "recording")
    time.sleep(1.0)
    ActionChains(d).release(talk).perform()
    line = wait_for_bot(d, 2)
    assert "didn't hear anything" in line.text and "error" in line.get_attribute("class")
    assert not line.find_elements("css selector", "audio")
    assert lex.requests[-1].op == "utterance"
    shot(d, "lex-05-nothing-heard")



def test_a_recording_over_the_limit_is_not_sent(home, lex, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    # a click starts recording; at the limit /api/config gives, it stops by itself and sends nothing
    with serve_lex(home, lex, COURSEBOT_WEB_MAX_SPEECH_SECONDS="1.5") as server:
        d = browser
        d.get(server + "/")
        wait_for_bot(d, 1)
        assert d.execute_script("return fetch('/api/config').then(r => r.json()).then(c => c.max_speech_seconds)") == 1.5
        talk = d.find_element("id", "talk")
        WebDriverWait(d, 10).until(lambda _: talk.is_displayed())
        talk.click()
        line = wait_for_bot(d, 2, timeout=20)
        assert "too long" in line.text and "1.5 seconds" in line.text and lex.requests == []
        shot(d, "lex-06-too-long")


def test_no_microphone_permission_is_a_plain_line(server, browser_without_microphone, lex):
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser_without_microphone
    d.get(server + "/")
    d.execute_cdp_cmd("Browser.setPermission", {"permission": {"name": "microphone"}, "setting": "denied",
                                                 "origin": server})
    wait_for_bot(d, 1)
    talk = d.find_element("id", "talk")
    WebDriverWait(d, 10).until(lambda _: talk.is_displayed())
    talk.click()
    line = wait_for_bot(d, 2)
    assert "allow it for this page" in line.text and lex.requests == []
    shot(d, "lex-07-no-microphone")
