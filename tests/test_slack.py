"""Slack channel end to end: signed requests over real HTTP into the Bolt app, a local fake Slack Web API."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bot.turn import Citation, Media, Reply

FIX = Path(__file__).parent / "fixtures" / "slack"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-1234-5678-test"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def fixture(name: str) -> dict:
    return json.loads((FIX / name).read_text())


def sign(body: str, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}


class Recorder:
    """Fake intent handlers that record the turns they get and answer like the real ones will."""

    def __init__(self, audio_path: Path):
        self.turns: list = []
        self.audio_path = audio_path
        self.lock = threading.Lock()

    def _seen(self, turn, ctx):
        with self.lock:
            self.turns.append((turn, dict(ctx.slots)))

    def ask(self, turn, ctx):
        self._seen(turn, ctx)
        pdfs = [a for a in turn.attachments if a.kind == "pdf"]
        if pdfs:
            data = pdfs[0].read()
            return Reply(text=f"Added {pdfs[0].name} ({len(data)} bytes) to the course.", intent="AskCoursePdfs",
                         details={"ingested": pdfs[0].name})
        return Reply(text="Amazon Lex builds chat bots <with> voice & text. Ask <!channel> nothing.",
                     intent="AskCoursePdfs",
                     citations=(Citation("lex-intro.pdf", 3, "https://example.edu/lex-intro.pdf#page=3",
                                         "Lex is a service for building conversational interfaces."),
                                Citation("syllabus.pdf", 1)),
                     suggestions=("What is a slot?",))

    def describe(self, turn, ctx):
        self._seen(turn, ctx)
        img = next(a for a in turn.attachments if a.kind == "image")
        return Reply(text=f"A photo ({img.mime}, {len(img.read())} bytes): a test pattern.", intent="DescribePhoto")

    media: tuple = ()  # what SpeakAnswer returns; default: the local audio file

    def speak(self, turn, ctx):
        self._seen(turn, ctx)
        return Reply(text="Here is the audio.", intent="SpeakAnswer", attachments=self.media or (
            Media("audio", "audio/mpeg", path=str(self.audio_path), title="answer.mp3"),))


@pytest.fixture
def slack_env(tmp_path, settings):
    """(fake Slack API, app server URL, recorder, app) with fake AskCoursePdfs/DescribePhoto/SpeakAnswer."""
    from bot.channels import slack
    from bot.channels.slack.dedupe import SqliteDedupe
    from bot.testing.slack_web_api import FakeSlack
    from bot.router import Router
    from bot.services import Services
    from bot.specs import Intent
    from intents import registry

    audio = tmp_path / "answer.mp3"
    audio.write_bytes(b"ID3\x03\x00\x00\x00" + b"\x00" * 500)
    rec = Recorder(audio)
    intents = dict(registry())
    for name, fn in (("AskCoursePdfs", rec.ask), ("DescribePhoto", rec.describe), ("SpeakAnswer", rec.speak)):
        intents[name] = Intent(intents[name].spec, fn, intents[name].fill_slots)
    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url})
        router = Router(Services(cfg), intents=intents)
        # a process's first parse loads the NLU's language model (over 10 s on a busy machine): load it here,
        # so the answer timeouts below measure the Slack path
        router.services.nlu.parse("what is Amazon Lex?")
        app = slack.build_app(cfg, router, dedupe=SqliteDedupe(tmp_path / "dedupe.sqlite3"), workers=4)
        server = slack.serve_http(app, "127.0.0.1", 0)
        server.start_background()
        try:
            yield fake, server.url, rec, app
        finally:
            server.shutdown()
            server.server_close()


def post(url: str, body: str, headers: dict[str, str], ctype: str = "application/json") -> tuple[int, str, float]:
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": ctype, **headers})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), time.perf_counter() - t
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), time.perf_counter() - t


def send_event(url: str, payload: dict, **headers: str) -> tuple[int, str, float]:
    body = json.dumps(payload)
    return post(url, body, {**sign(body), **headers})


def answers(fake, n: int = 1, timeout: float = 10.0) -> list[dict]:
    """The bot's messages once answers replaced their placeholders: the post's params (channel, thread_ts)
    merged with the chat.update that put the answer in (text, blocks)."""
    deadline = time.monotonic() + timeout
    while True:
        with fake._lock:
            done = [m for m in fake.messages.values() if not is_placeholder(m)]
        if len(done) >= n or time.monotonic() > deadline:
            return sorted(done, key=lambda m: m.get("ts", ""))
        fake.wait_for("chat.update", len(fake.called("chat.update")) + 1, timeout=0.2)


def is_placeholder(message: dict) -> bool:
    from bot.channels.slack.blocks import PLACEHOLDER_BLOCK

    blocks = message.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return any(b.get("block_id") == PLACEHOLDER_BLOCK for b in blocks)


def settle(fake, seconds: float = 0.6) -> None:
    """Give the worker pool time to post anything extra (used before asserting 'exactly one')."""
    time.sleep(seconds)


def test_mention_gets_one_threaded_reply_with_citations(slack_env):
    fake, url, rec, _ = slack_env
    event = fixture("app_mention.json")
    status, _, elapsed = send_event(url, event)
    assert status == 200 and elapsed < 1.0
    posts = fake.wait_for("chat.postMessage")
    msg = answers(fake)[0]
    settle(fake)
    assert len(fake.called("chat.postMessage")) == 1 and len(fake.messages) == 1
    assert msg["channel"] == "C0COURSE01" and msg["thread_ts"] == "1763690000.000100"
    assert posts[0].headers["authorization"] == f"Bearer {TOKEN}"
    turn, slots = rec.turns[0]
    assert turn.text == "what is Amazon Lex?" and turn.channel == "slack"
    assert turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"
    blocks = msg["blocks"] if isinstance(msg["blocks"], list) else json.loads(msg["blocks"])
    section = blocks[0]["text"]["text"]
    # user-visible content is mrkdwn-escaped: no <!channel> ping, no injected links
    assert "<!channel>" not in section and "&lt;!channel&gt;" in section and "&amp;" in section
    texts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert "<https://example.edu/lex-intro.pdf#page=3|[1] lex-intro.pdf, p. 3>" in texts
    assert "[2] syllabus.pdf, p. 1" in texts
    # the evidence sentence is quoted right under its page link
    at = [i for i, b in enumerate(blocks) if b["type"] == "context"
          and b["elements"][0]["text"].startswith("<https://example.edu/lex-intro.pdf#page=3|")][0]
    assert blocks[at + 1]["text"]["text"] == ">Lex is a service for building conversational interfaces."
    actions = [b for b in blocks if b["type"] == "actions"][0]["elements"]
    assert [a["text"]["text"] for a in actions] == ["Read aloud", "Show sources", "What is a slot?"]
    assert all(len(a["value"]) <= 2000 for a in actions)


def test_follow_up_in_thread_keeps_the_conversation(slack_env):
    fake, url, rec, _ = slack_env
    first = fixture("app_mention.json")
    send_event(url, first)
    fake.wait_for("chat.postMessage")
    follow = copy.deepcopy(first)
    follow["event_id"] = "Ev0MENTION02"
    follow["event"].update(ts="1763690050.000900", thread_ts="1763690000.000100",
                           text="<@UBOT0001> what does the course say about pricing of lex?")
    send_event(url, follow)
    posts = answers(fake, 2)
    assert len(posts) == 2 and posts[1]["thread_ts"] == "1763690000.000100"
    assert rec.turns[0][0].conversation == rec.turns[1][0].conversation


def test_direct_message_is_answered_in_the_dm(slack_env):
    fake, url, rec, _ = slack_env
    status, _, _ = send_event(url, fixture("message_im.json"))
    assert status == 200
    posts = answers(fake)
    assert posts and posts[0]["channel"] == "D0STUDENT1"
    assert not posts[0].get("thread_ts")
    assert posts[0]["text"].startswith("Hi! I'm coursebot")  # the Greeting intent answered
    blocks = posts[0]["blocks"]
    buttons = [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert "What does the course cover?" in buttons and "Read aloud" not in buttons
    assert rec.turns == []  # greeting, not the KB


def test_photo_share_goes_to_describe_photo_with_the_bytes(slack_env):
    fake, url, rec, _ = slack_env
    event = fixture("message_im_file_share.json")
    f = event["event"]["files"][0]
    f["url_private_download"] = f["url_private"] = fake.add_file("F0PHOTO0001", JPEG, "image/jpeg")
    f["size"] = len(JPEG)
    send_event(url, event)
    placeholder = fake.wait_for("chat.postMessage")[0].params
    assert placeholder["text"] == "Looking at your photo…"
    posts = answers(fake)
    assert posts, fake.calls
    download = fake.called("files-pri")
    assert len(download) == 1 and download[0].headers["authorization"] == f"Bearer {TOKEN}"
    turn, slots = rec.turns[0]
    assert turn.attachments[0].data == JPEG and turn.attachments[0].mime == "image/jpeg"
    assert f"image/jpeg, {len(JPEG)} bytes" in posts[0]["text"]


def test_pdf_shared_with_a_mention_is_ingested(slack_env):
    fake, url, rec, _ = slack_env
    event = fixture("app_mention.json")
    event["event_id"] = "Ev0PDFSHARE1"
    event["event"]["text"] = "<@UBOT0001> add this to the course"
    event["event"]["files"] = [{"id": "F0NOTES0001", "name": "week3-notes.pdf", "mimetype": "application/pdf",
                                "size": len(PDF), "url_private": fake.add_file("F0NOTES0001", PDF, "application/pdf")}]
    send_event(url, event)
    assert fake.wait_for("chat.postMessage")[0].params["text"] == "Adding week3-notes.pdf to the course…"
    posts = answers(fake)
    assert posts and "Added week3-notes.pdf" in posts[0]["text"]
    turn, _ = rec.turns[0]
    assert turn.attachments[0].kind == "pdf" and turn.attachments[0].data == PDF
    assert posts[0]["thread_ts"] == "1763690000.000100"


def _share_photo(settings, data: bytes):
    """A real DM file share through the real registry's DescribePhoto; returns the fake Slack."""
    from bot.channels import slack
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.testing.slack_web_api import FakeSlack
    from bot.router import Router
    from bot.services import Services

    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url})
        app = slack.build_app(cfg, Router(Services(cfg)), dedupe=MemoryDedupe(), workers=2)
        server = slack.serve_http(app, "127.0.0.1", 0)
        server.start_background()
        try:
            event = fixture("message_im_file_share.json")
            f = event["event"]["files"][0]
            f["url_private_download"] = fake.add_file("F0PHOTO0001", data, "image/jpeg")
            send_event(server.url, event)
            deadline = time.time() + 30
            while time.time() < deadline and not (fake.called("chat.postEphemeral") or fake.called("chat.update")):
                time.sleep(0.05)
            settle(fake, 0.3)
        finally:
            server.shutdown()
            server.server_close()
    return fake


def test_real_intent_failure_is_an_ephemeral_short_message(tmp_path, settings):
    """With the registry's own DescribePhoto, a photo that does not decode gets a short ephemeral note."""
    fake = _share_photo(settings, JPEG)  # a JPEG header on junk bytes
    eph = fake.called("chat.postEphemeral")
    assert len(eph) == 1 and fake.called("chat.update") == []
    assert len(fake.called("chat.delete")) == 1 and fake.messages == {}  # the placeholder is taken back
    assert eph[0].params["user"] == "U0STUDENT1"
    assert "couldn't decode it" in eph[0].params["text"] and "Traceback" not in eph[0].params["text"]


def test_real_photo_is_described_in_the_thread(tmp_path, settings):
    """The registry's own DescribePhoto on a real photo (issue 5): one answer, the user's photo not re-posted."""
    import io

    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, "JPEG", quality=90)
    fake = _share_photo(settings, buf.getvalue())
    posted = list(fake.messages.values())
    assert len(fake.called("chat.postMessage")) == 1 and fake.called("chat.postEphemeral") == []
    assert len(posted) == 1 and not is_placeholder(posted[0])
    assert "one face" in posted[0]["text"] and "looking at the camera" in posted[0]["text"]
    assert fake.called("files.getUploadURLExternal") == []


def test_retried_event_gets_one_reply(slack_env):
    fake, url, rec, _ = slack_env
    event = fixture("app_mention.json")
    results = []
    threads = [threading.Thread(target=lambda h=h: results.append(send_event(url, event, **h)))
               for h in ({}, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [200, 200]
    fake.wait_for("chat.postMessage")
    time.sleep(0.2)
    status, _, _ = send_event(url, event, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    answers(fake)
    settle(fake)
    assert len(fake.called("chat.postMessage")) == 1 and len(fake.messages) == 1
    assert len(rec.turns) == 1


@pytest.mark.parametrize("how", ["forged", "six_minutes_old", "body_changed", "unsigned"])
def test_bad_signature_is_401_and_no_work(slack_env, how):
    fake, url, rec, _ = slack_env
    event = fixture("app_mention.json")
    body = json.dumps(event)
    if how == "forged":
        headers = sign(body, secret="not-the-secret")
    elif how == "six_minutes_old":
        headers = sign(body, ts=int(time.time()) - 360)
    elif how == "body_changed":
        headers = sign(body)
        body = body.replace("what is Amazon Lex?", "say something rude")
    else:
        headers = {}
    status, _, _ = post(url, body, headers)
    assert status == 401
    settle(fake, 0.4)
    assert fake.called("chat.postMessage") == [] and fake.called("chat.postEphemeral") == []
    assert rec.turns == []
    # a rejected request does not count as a delivery: the genuine one is still answered
    assert send_event(url, event)[0] == 200
    assert len(fake.wait_for("chat.postMessage")) == 1


def test_ratelimited_post_is_retried_after_retry_after(slack_env):
    fake, url, rec, _ = slack_env
    fake.ratelimit("chat.postMessage", times=1, retry_after=0)
    send_event(url, fixture("app_mention.json"))
    posts = fake.wait_for("chat.postMessage", timeout=15)
    settle(fake)
    assert len(fake.called("chat.postMessage#429")) == 1
    assert len(posts) == 1 and len(fake.called("chat.postMessage")) == 1


def test_bot_messages_are_ignored(slack_env):
    fake, url, rec, _ = slack_env
    own = fixture("message_im.json")
    own["event"].update(user="UBOT0001", bot_id="BBOT0001")
    own["event_id"] = "Ev0OWNMSG001"
    other = fixture("message_im.json")
    other["event"].update(user="U0OTHERBOT", bot_id="B0OTHERBOT", subtype="bot_message")
    other["event_id"] = "Ev0OTHERBOT1"
    edited = fixture("message_im.json")
    edited["event"]["subtype"] = "message_changed"
    edited["event_id"] = "Ev0EDITED001"
    for e in (own, other, edited):
        assert send_event(url, e)[0] == 200
    settle(fake)
    assert fake.called("chat.postMessage") == [] and fake.called("chat.postEphemeral") == []


def test_slash_command_answers_through_response_url(slack_env):
    fake, url, rec, _ = slack_env
    form = {"token": "x", "team_id": "T0000001", "team_domain": "coursebot-test", "channel_id": "C0COURSE01",
            "channel_name": "course", "user_id": "U0STUDENT1", "user_name": "student", "command": "/coursebot",
            "text": "what is amazon lex", "api_app_id": "A0COURSEBOT", "is_enterprise_install": "false",
            "response_url": fake.root + "/response/cmd1", "trigger_id": "13345224609.738474920.8088930838d88f008e0"}
    body = urllib.parse.urlencode(form)
    status, _, elapsed = post(url, body, sign(body), "application/x-www-form-urlencoded")
    assert status == 200 and elapsed < 1.0
    responses = fake.wait_for("response_url")
    assert responses[0].params["response_type"] == "ephemeral"
    assert "Amazon Lex builds chat bots" in responses[0].params["text"]
    assert rec.turns[0][0].conversation == "slack:T0000001:C0COURSE01:user-U0STUDENT1"


def test_read_aloud_button_uploads_audio_into_the_thread(slack_env):
    fake, url, rec, _ = slack_env
    payload = fixture("block_actions.json")
    payload["response_url"] = fake.root + "/response/act1"
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    status, _, _ = post(url, body, sign(body), "application/x-www-form-urlencoded")
    assert status == 200
    complete = fake.wait_for("files.completeUploadExternal")
    assert complete, fake.calls
    turn, slots = rec.turns[0]
    assert turn.intent == "SpeakAnswer" and slots["text"] == "Amazon Lex builds chat bots & voice bots."
    assert turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"
    assert complete[0].params["thread_ts"] == "1763690000.000100"
    assert complete[0].params["channel_id"] == "C0COURSE01"
    assert list(fake.uploads.values()) == [rec.audio_path.read_bytes()]
    assert fake.called("chat.postMessage")[0].params["thread_ts"] == "1763690000.000100"


def _click_read_aloud(fake, url, trigger="1.2.read"):
    payload = fixture("block_actions.json")
    payload["response_url"] = fake.root + "/response/act1"
    payload["trigger_id"] = trigger
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert post(url, body, sign(body), "application/x-www-form-urlencoded")[0] == 200


def test_media_behind_a_url_is_fetched_and_uploaded(slack_env):
    fake, url, rec, _ = slack_env
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
    rec.media = (Media("image", "image/png", url=fake.add_public("gen-42.png", png, "image/png"), title="Diagram"),)
    _click_read_aloud(fake, url)
    complete = fake.wait_for("files.completeUploadExternal")
    assert complete and list(fake.uploads.values()) == [png]
    files = complete[0].params["files"]
    files = json.loads(files) if isinstance(files, str) else files
    assert files[0]["title"] == "Diagram"


def test_media_that_cannot_be_uploaded_becomes_a_link(slack_env):
    fake, url, rec, _ = slack_env
    rec.media = (Media("audio", "audio/mpeg", url=fake.root + "/public/expired.mp3", title="answer"),)
    _click_read_aloud(fake, url)
    eph = fake.wait_for("chat.postEphemeral")
    assert eph and "couldn't upload" in eph[0].params["text"]
    assert f"<{fake.root}/public/expired.mp3|answer>" in eph[0].params["text"]
    assert fake.called("files.getUploadURLExternal") == []


def test_show_sources_button_lists_quotes_ephemerally(slack_env):
    fake, url, rec, _ = slack_env
    payload = fixture("block_actions.json")
    payload["response_url"] = fake.root + "/response/act2"
    payload["trigger_id"] = "999.888.sources"
    payload["actions"][0].update(action_id="coursebot_show_sources", value=json.dumps(
        {"c": "k", "s": [["lex-intro.pdf", 3, "https://example.edu/lex.pdf", "Lex <b>builds</b> bots"]]}))
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert post(url, body, sign(body), "application/x-www-form-urlencoded")[0] == 200
    resp = fake.wait_for("response_url")[0].params
    assert resp["response_type"] == "ephemeral"
    text = resp["blocks"][0]["text"]["text"]
    assert "<https://example.edu/lex.pdf|[1] lex-intro.pdf, p. 3>" in text and "&lt;b&gt;builds" in text
    assert rec.turns == []


def test_oversized_file_is_refused_before_download(slack_env):
    fake, url, rec, app = slack_env
    event = fixture("message_im_file_share.json")
    f = event["event"]["files"][0]
    f["url_private_download"] = fake.add_file("F0PHOTO0001", JPEG, "image/jpeg")
    f["size"] = 31_000_000
    send_event(url, event)
    eph = fake.wait_for("chat.postEphemeral")
    assert "31.0 MB" in eph[0].params["text"] and fake.messages == {}
    assert fake.called("files-pri") == [] and rec.turns == []


def test_file_on_a_foreign_host_is_not_fetched_with_the_token(slack_env):
    fake, url, rec, _ = slack_env
    event = fixture("message_im_file_share.json")
    event["event"]["files"][0]["url_private_download"] = "https://evil.example.com/steal"
    event["event"]["files"][0]["size"] = 10
    send_event(url, event)
    eph = fake.wait_for("chat.postEphemeral")
    assert "couldn't download" in eph[0].params["text"] and rec.turns == []


def test_url_verification_and_unknown_path(slack_env):
    fake, url, rec, _ = slack_env
    status, body, _ = send_event(url, {"type": "url_verification", "challenge": "abc123", "token": "x"})
    assert status == 200 and json.loads(body)["challenge"] == "abc123"
    assert post(url.replace("/slack/events", "/nope"), "{}", {})[0] == 404
