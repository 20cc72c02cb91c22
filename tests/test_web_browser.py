"""End to end in headless Chromium (Debian's chromium + chromium-driver, driven by selenium):
ask a course question and see a cited answer, upload a photo (button and drag-and-drop) and see it
described, ask to hear the answer and get a playable <audio>. Screenshots go to test-artifacts/web/.

Capability intents are fakes (tests/web_fakes.py) that return real files through the blob store,
so the assertions are on structure (citation links, loaded images, playable audio), not wording.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import require_engine, require_module

require_module("fastapi", "fastapi (the `web` extra)")
selenium = require_module("selenium", "selenium (the `dev` extra)")

from web_fakes import FIXTURES, fake_intents  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"

require_engine("Chromium and chromium-driver", os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
               "scripts/apt-packages-test.txt, installed by `make test`")

pytestmark = pytest.mark.slow


class SlowIntent:
    """Delays a handler so the page's "working…" indicator can be seen while a turn runs."""

    def __init__(self, handle, seconds: float):
        self.handle, self.seconds = handle, seconds

    def __call__(self, turn, ctx):
        time.sleep(self.seconds)
        return self.handle(turn, ctx)


@pytest.fixture
def server(home):
    from bot.channels.web import create_app
    from bot.cli.serve import BackgroundServer
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.specs import Intent

    def factory(url):
        services = Services(load(home=home, backend="local", public_url=url, web_max_upload_bytes=100_000))
        intents = fake_intents()
        ask = intents["AskCoursePdfs"]
        intents["AskCoursePdfs"] = Intent(spec=ask.spec, handle=SlowIntent(ask.handle, 0.8), fill_slots=ask.fill_slots)
        return create_app(services, Router(services, intents=intents))

    with BackgroundServer(factory) as url:
        yield url


@pytest.fixture
def browser(tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium must never try to download a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1100,900", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(20)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def bot_messages(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#messages .msg.bot")


def wait_for_bot(driver, count: int, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: len(bot_messages(d)) >= count)
    WebDriverWait(driver, timeout).until(lambda d: not d.find_element("id", "working").is_displayed())
    return bot_messages(driver)[count - 1]


def say(driver, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("id", "text")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_chat_in_a_real_browser(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(server + "/")
    wait_for_bot(d, 1)  # the page greets
    shot(d, "01-opened")

    # 1. a course question: "working…" shows while it runs, then an answer with citation links
    d.execute_script("""
        const working = document.getElementById('working');
        window.__sawWorking = false;
        new MutationObserver(() => { if (!working.hidden) window.__sawWorking = true; })
          .observe(working, {attributes: true});""")
    say(d, "What is Amazon Lex?")
    if d.find_element("id", "working").is_displayed():
        shot(d, "02-working")
    answer = wait_for_bot(d, 2)
    assert d.execute_script("return window.__sawWorking")
    shot(d, "03-answer-with-citations")
    assert d.find_elements(By.CSS_SELECTOR, "#messages .msg.user")[-1].text == "What is Amazon Lex?"
    links = answer.find_elements(By.CSS_SELECTOR, ".citations a")
    assert links, "the answer has no citation links"
    first = links[0].get_attribute("href")
    assert first.startswith(server + "/files/") and first.endswith("#page=2"), first
    assert links[0].get_attribute("target") == "_blank"
    assert all("#page=" in a.get_attribute("href") for a in links)  # every link opens at its page
    fetched = d.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done("
        "[r.status, r.headers.get('content-type'), new TextDecoder().decode(b.slice(0, 5))])))", first)
    assert fetched == [200, "application/pdf", "%PDF-"]
    # markdown is rendered, but markup inside the answer stays text: nothing injected runs
    assert answer.find_elements(By.CSS_SELECTOR, ".md strong")
    assert answer.find_elements(By.CSS_SELECTOR, ".md li")
    assert "<script>" in answer.text and "onerror" in answer.text
    assert d.execute_script("return window.__pwned === undefined")
    assert not d.find_elements(By.CSS_SELECTOR, "#messages script, #messages img[src='x']")
    hrefs = [a.get_attribute("href") for a in answer.find_elements(By.CSS_SELECTOR, "a")]
    assert hrefs and all(h.startswith(server + "/files/") for h in hrefs), hrefs  # javascript: never linked

    # 2. a photo through the attach button: the reply describes it and shows an image
    file_input = d.find_element("id", "file")
    d.execute_script("arguments[0].hidden = false", file_input)
    file_input.send_keys(str(FIXTURES / "photo.png"))
    d.execute_script("arguments[0].hidden = true", file_input)
    assert "photo.png" in d.find_element("id", "attachment-name").text
    d.find_element("id", "send").click()
    described = wait_for_bot(d, 3)
    assert described.get_attribute("data-intent") == "DescribePhoto" and not described.get_attribute("data-error")
    image = described.find_element(By.CSS_SELECTOR, "img.reply-image")
    WebDriverWait(d, 10).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", image))
    assert d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image) == [96, 64]
    shot(d, "04-photo-described")

    # 3. the same photo by drag and drop onto the page
    d.execute_async_script("""
        const b64 = arguments[0], done = arguments[1];
        fetch('/static/app.js').then(() => {
          const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
          document.getElementById('messages').dispatchEvent(new DragEvent('dragenter', {bubbles: true, dataTransfer: dt}));
          document.getElementById('messages').dispatchEvent(new DragEvent('drop', {bubbles: true, dataTransfer: dt}));
          done();
        });""", _b64(FIXTURES / "photo.png"))
    assert "dropped.png" in d.find_element("id", "attachment-name").text
    say(d, "what is in this photo?")
    dropped = wait_for_bot(d, 4)
    assert dropped.get_attribute("data-intent") == "DescribePhoto"
    assert dropped.find_elements(By.CSS_SELECTOR, "img.reply-image")

    # 4. hear the answer: a playable <audio> served through a signed link
    say(d, "read that aloud")
    spoken = wait_for_bot(d, 5)
    audio = spoken.find_element(By.CSS_SELECTOR, "audio")
    assert audio.get_attribute("controls") is not None
    state = d.execute_async_script("""
        const audio = arguments[0], done = arguments[1];
        const report = () => done({ready: audio.readyState, duration: audio.duration,
                                    error: audio.error && audio.error.code, src: audio.currentSrc});
        const play = () => { audio.muted = true; audio.play().then(() => setTimeout(() => {
            audio.pause(); report(); }, 300), e => done({error: String(e)})); };
        if (audio.readyState >= 1) play(); else {
          audio.addEventListener('loadedmetadata', play, {once: true});
          audio.addEventListener('error', report, {once: true});
        }""", audio)
    assert not state.get("error"), state
    assert state["ready"] >= 1 and state["duration"] > 0.3, state
    assert state["src"].startswith(server + "/files/speech/")
    shot(d, "05-audio")

    # 5. a file that is a web page under a photo's name: a clear error, shown as a reply
    file_input = d.find_element("id", "file")
    d.execute_script("arguments[0].hidden = false", file_input)
    file_input.send_keys(str(FIXTURES / "page.png"))
    d.execute_script("arguments[0].hidden = true", file_input)
    d.find_element("id", "send").click()
    refused = wait_for_bot(d, 6)
    assert refused.get_attribute("data-error") == "unsupported_attachment" and "web page" in refused.text
    shot(d, "06-refused-upload")

    # 6. a file over the size limit is refused in the page before it is sent
    d.execute_script("""
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(arguments[0] + 1)], 'huge.pdf', {type: 'application/pdf'}));
        document.body.dispatchEvent(new DragEvent('drop', {bubbles: true, dataTransfer: dt}));""",
        100_000)  # the server's web_max_upload_bytes, which the page read from /healthz
    say(d, "add this")
    too_big = wait_for_bot(d, 7)
    assert too_big.get_attribute("data-error") == "attachment_too_large" and "huge.pdf" in too_big.text

    severe = [e for e in d.get_log("browser") if e["level"] == "SEVERE" and "415" not in e["message"]]
    assert not severe, severe  # no CSP violations, no failed loads


def _b64(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def real_server(home, tmp_path):
    """The web app with the real intents on the local backend and the sample course ingested."""
    from bot.channels.web import create_app
    from bot.cli.serve import BackgroundServer
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from kb.sample import build as build_sample

    pdfs = build_sample(tmp_path / "sample")

    def factory(url):
        services = Services(load(home=home, backend="local", public_url=url))
        services.kb.ingest([str(p) for p in pdfs])
        return create_app(services, Router(services))

    with BackgroundServer(factory) as url:
        yield url


def test_real_intents_in_a_real_browser(real_server, browser, tmp_path):
    """No fakes: a course question over the sample course, a real photo, real offline speech."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    from skimage import data as skdata

    d = browser
    d.get(real_server + "/")
    wait_for_bot(d, 1)

    say(d, "What is Amazon Polly used for?")
    answer = wait_for_bot(d, 2, timeout=60)
    assert answer.get_attribute("data-intent") == "AskCoursePdfs" and not answer.get_attribute("data-error")
    assert "speech" in answer.text.lower()
    links = answer.find_elements(By.CSS_SELECTOR, ".citations a")
    assert links and "polly" in links[0].text.lower(), [a.text for a in links]
    href = links[0].get_attribute("href")
    assert "#page=" in href
    fetched = d.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done("
        "[r.status, new TextDecoder().decode(b.slice(0, 5))])))", href)
    assert fetched == [200, "%PDF-"]
    shot(d, "real-01-course-answer")

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(photo, quality=90)
    file_input = d.find_element("id", "file")
    d.execute_script("arguments[0].hidden = false", file_input)
    file_input.send_keys(str(photo))
    d.execute_script("arguments[0].hidden = true", file_input)
    say(d, "what's in this photo?")
    described = wait_for_bot(d, 3, timeout=60)
    assert described.get_attribute("data-intent") == "DescribePhoto" and not described.get_attribute("data-error")
    assert "face" in described.text.lower()
    shot(d, "real-02-photo-described")

    say(d, "read that aloud")
    spoken = wait_for_bot(d, 4, timeout=60)
    audio = spoken.find_element(By.CSS_SELECTOR, "audio")
    duration = d.execute_async_script("""
        const audio = arguments[0], done = arguments[1];
        if (audio.readyState >= 1) done(audio.duration); else {
          audio.addEventListener('loadedmetadata', () => done(audio.duration), {once: true});
          audio.addEventListener('error', () => done(-1), {once: true});
        }""", audio)
    assert duration > 1.0, duration
    shot(d, "real-03-audio")


SIGNED = re.compile(r"expires=|sig=|X-Amz-Signature", re.I)
PHONE = (390, 844)


def _phone(driver) -> None:
    width, height = PHONE
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})


def test_phone_layout_and_spoken_answer_without_raw_links(real_server, browser):
    """At 390×844 the whole composer is on screen, the text box keeps its room and its placeholder fits,
    the tagline stays on one line; replies show no signed URL as text and the spoken answer plays."""
    from selenium.webdriver.common.by import By

    d = browser
    _phone(d)
    d.get(real_server + "/")
    wait_for_bot(d, 1)
    shot(d, "phone-01-opened")
    layout = d.execute_script("""
        const box = (id) => { const r = document.getElementById(id).getBoundingClientRect();
                              return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width}; };
        const text = document.getElementById('text'), style = getComputedStyle(text);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.fontStyle + ' ' + style.fontWeight + ' ' + style.fontSize + ' ' + style.fontFamily;
        const room = text.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        const tag = document.querySelector('header .tagline'), tagStyle = getComputedStyle(tag);
        return {vw: window.innerWidth, vh: window.innerHeight, composer: box('composer'), attach: box('attach'),
                text: box('text'), send: box('send'), placeholder: ctx.measureText(text.placeholder).width,
                room: room, tagHeight: tag.getBoundingClientRect().height,
                tagLine: parseFloat(tagStyle.lineHeight) || parseFloat(tagStyle.fontSize) * 1.45,
                tagCut: tag.scrollWidth > tag.clientWidth, tagShown: tagStyle.display !== 'none'};""")
    assert layout["vw"] == PHONE[0], layout
    for part in ("composer", "attach", "text", "send"):
        r = layout[part]
        assert r["left"] >= 0 and r["top"] >= 0 and r["right"] <= layout["vw"] and r["bottom"] <= layout["vh"], (part, layout)
    assert layout["text"]["width"] >= 200, layout  # Attach and Send do not squeeze the text box
    assert layout["placeholder"] <= layout["room"], layout  # the placeholder is not cut
    assert layout["tagShown"] and not layout["tagCut"] and layout["tagHeight"] < 1.5 * layout["tagLine"], layout
    assert d.find_element("id", "send").accessible_name == "Send"  # an icon on screen, still named "Send"
    assert d.find_element("id", "attach").accessible_name == "Attach a photo or PDF"

    say(d, "What is Amazon Lex?")
    answer = wait_for_bot(d, 2, timeout=60)
    assert answer.find_elements(By.CSS_SELECTOR, ".citations a")
    say(d, "read that aloud")
    spoken = wait_for_bot(d, 3, timeout=90)
    shot(d, "phone-02-spoken-answer")
    assert spoken.get_attribute("data-intent") == "SpeakAnswer" and not spoken.get_attribute("data-error")
    visible = d.find_element("id", "messages").text
    assert not SIGNED.search(visible), visible  # links only behind players and labelled links
    for a in d.find_elements(By.CSS_SELECTOR, "#messages a"):
        assert not SIGNED.search(a.text), a.text
    audio = spoken.find_element(By.CSS_SELECTOR, "audio")
    src = audio.get_attribute("src")
    assert src.startswith(real_server + "/files/") and SIGNED.search(src)
    fetched = d.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done("
        "[r.status, r.headers.get('content-type'), new TextDecoder().decode(b.slice(0, 4))])))", src)
    assert fetched[0] == 200 and fetched[1].startswith("audio/") and fetched[2] == "OggS", fetched
    download = spoken.find_element(By.CSS_SELECTOR, "a.download")
    assert download.text == "Download" and download.get_attribute("href") == src
    composer = d.execute_script("const r = document.getElementById('composer').getBoundingClientRect();"
                                "return [r.left, r.right, r.bottom, window.innerWidth, window.innerHeight]")
    assert composer[0] >= 0 and composer[1] <= composer[3] and composer[2] <= composer[4], composer


def test_a_quiz_answered_with_one_click(real_server, browser):
    """A quiz question's choices are buttons: one click sends the answer, the next message grades it."""
    from selenium.webdriver.common.by import By

    d = browser
    d.get(real_server + "/")
    wait_for_bot(d, 1)
    say(d, "quiz me on AWS Lambda")
    question = wait_for_bot(d, 2, timeout=60)
    assert question.get_attribute("data-intent") == "QuizMe" and "Question 1 of" in question.text
    buttons = question.find_elements(By.CSS_SELECTOR, ".suggestions button.answer")
    assert [b.text[:2] for b in buttons[:3]] == ["A.", "B.", "C."], [b.text for b in buttons]
    assert "08-aws-lambda.pdf" in question.find_element(By.CSS_SELECTOR, ".citations").text
    buttons[1].click()  # nothing typed, no Enter: the click is the answer
    graded = wait_for_bot(d, 3, timeout=60)
    assert graded.get_attribute("data-intent") == "QuizMe"
    assert graded.text.startswith(("Correct", "Not quite")) and "Question 2 of" in graded.text
    shot(d, "real-04-quiz")
