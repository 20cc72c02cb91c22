"""Slack that feels native, end to end over real HTTP (signed requests, the local fake Web API): replies in a
thread without a mention, the placeholder that the answer replaces in place, the Home tab, the message shortcut."""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.parse

import pytest
from blockkit import problems, view_problems
from test_slack import answers, fixture, is_placeholder, post, send_event, settle, sign, slack_env  # noqa: F401

ROOT = "1763690000.000100"


def _reply_in_thread(event_id: str, ts: str, text: str = "and how much does it cost?", **changes) -> dict:
    body = fixture("message_channels_thread_reply.json")
    body["event_id"] = event_id
    body["event"].update(ts=ts, event_ts=ts, text=text, **changes)
    return body


def test_mention_then_plain_reply_in_the_thread_gets_two_answers_there(slack_env):
    fake, url, rec, _ = slack_env
    assert send_event(url, fixture("app_mention.json"))[0] == 200
    answers(fake, 1)
    assert send_event(url, fixture("message_channels_thread_reply.json"))[0] == 200
    done = answers(fake, 2)
    settle(fake)
    assert len(done) == 2 and len(fake.messages) == 2 and len(fake.called("chat.postMessage")) == 2
    assert [m["thread_ts"] for m in done] == [ROOT, ROOT] and {m["channel"] for m in done} == {"C0COURSE01"}
    assert [t.text for t, _ in rec.turns] == ["what is Amazon Lex?", "and how much does it cost?"]
    assert rec.turns[0][0].conversation == rec.turns[1][0].conversation  # one conversation: context carries over


def test_plain_reply_in_a_thread_the_bot_never_joined_gets_nothing(slack_env):
    fake, url, rec, _ = slack_env
    body = fixture("message_channels_thread_reply.json")
    body["event"]["thread_ts"] = "1763600000.000001"  # someone else's thread
    assert send_event(url, body)[0] == 200
    settle(fake, 1.0)
    assert fake.called("chat.postMessage") == [] and fake.called("chat.postEphemeral") == []
    assert fake.called("chat.update") == [] and rec.turns == []


def test_bots_edits_and_replies_to_someone_else_in_the_bots_thread_get_nothing(slack_env):
    fake, url, rec, _ = slack_env
    send_event(url, fixture("app_mention.json"))
    answers(fake, 1)
    settle(fake)
    before = len(fake.calls)
    own = _reply_in_thread("Ev0OWN0001", "1763690080.000001", "Here you go", user="UBOT0001", bot_id="BBOT0001")
    others = [fixture("message_channels_bot_in_thread.json"), fixture("message_channels_changed.json"), own,
              _reply_in_thread("Ev0TOANA01", "1763690081.000001", "<@U0OTHER01> did you get this?")]
    for body in others:
        assert send_event(url, body)[0] == 200
    settle(fake, 1.0)
    assert [c.method for c in fake.calls[before:]] == [] and len(rec.turns) == 1


def test_first_post_within_a_second_then_progress_and_the_answer_on_the_same_ts(slack_env):
    fake, url, rec, app = slack_env
    app.coursebot.progress_every = 0.3
    slow = threading.Event()
    original = rec.ask

    def slow_ask(turn, ctx):
        slow.wait(1.5)  # long work: the placeholder says so while it runs
        return original(turn, ctx)

    rec.ask = slow_ask
    router = app.coursebot.router
    router.intents["AskCoursePdfs"] = type(router.intents["AskCoursePdfs"])(
        router.intents["AskCoursePdfs"].spec, slow_ask, router.intents["AskCoursePdfs"].fill_slots)
    t0 = time.perf_counter()
    assert send_event(url, fixture("app_mention.json"))[0] == 200
    first = fake.wait_for("chat.postMessage", 1, timeout=1.0)
    first_after = time.perf_counter() - t0
    assert first and first_after < 1.0, first_after
    assert first[0].params["thread_ts"] == ROOT and first[0].params["text"] == "Looking in the course PDFs…"
    done = answers(fake, 1, timeout=15)
    settle(fake)
    updates = fake.called("chat.update")
    ts = {(u.params["channel"], u.params["ts"]) for u in updates}
    assert len(ts) == 1 and list(ts)[0] == ("C0COURSE01", done[0]["ts"])  # every update on the first post's ts
    assert any("still working" in u.params["text"] for u in updates[:-1])  # progress while it worked
    assert "Amazon Lex builds chat bots" in updates[-1].params["text"]  # and the answer last
    assert len(fake.called("chat.postMessage")) == 1 and not is_placeholder(done[0])


def test_placeholders_go_out_at_once_even_when_every_worker_is_busy(slack_env):
    fake, url, rec, app = slack_env
    gate = threading.Event()
    original = rec.ask
    router = app.coursebot.router
    spec = router.intents["AskCoursePdfs"]

    def held(turn, ctx):
        gate.wait(10)
        return original(turn, ctx)

    router.intents["AskCoursePdfs"] = type(spec)(spec.spec, held, spec.fill_slots)
    n = 7  # more than the 4 answer workers
    t0 = time.perf_counter()
    for i in range(n):
        body = fixture("app_mention.json")
        body["event_id"] = f"Ev0BUSY{i:04d}"
        body["event"].update(ts=f"17636900{i:02d}.000100", event_ts=f"17636900{i:02d}.000100")
        assert send_event(url, body)[0] == 200
    placed = fake.wait_for("chat.postMessage", n, timeout=2.0)
    elapsed = time.perf_counter() - t0
    gate.set()
    assert len(placed) == n and elapsed < 2.0, elapsed
    assert len(answers(fake, n, timeout=20)) == n
    settle(fake)
    assert len(fake.called("chat.postMessage")) == n  # answers replaced the placeholders; nothing posted twice


def test_home_tab_shows_what_the_bot_does_the_course_and_my_questions(slack_env):
    fake, url, rec, _ = slack_env
    send_event(url, fixture("app_mention.json"))
    answers(fake, 1)
    assert send_event(url, fixture("app_home_opened.json"))[0] == 200
    published = fake.wait_for("views.publish")
    assert len(published) == 1 and published[0].params["user_id"] == "U0STUDENT1"
    view = published[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view_problems(view) == []
    text = json.dumps(view)
    assert "What I can do" in text and "page citations" in text  # from the Help intent's own lines
    assert "no documents yet" in text  # this test's course is empty
    assert "<https://coursebot-test.slack.com/archives/C0COURSE01/p1763690000000100|what is Amazon Lex?>" in text
    other = fixture("app_home_opened.json")
    other["event_id"] = "Ev0HOME00002"
    other["event"]["user"] = "U0STUDENT9"
    send_event(url, other)
    theirs = json.dumps(fake.wait_for("views.publish", 2)[1].params["view"])
    assert "what is Amazon Lex?" not in theirs and "haven't asked me anything yet" in theirs


def test_home_tab_lists_the_course_documents(slack_env, tmp_path):
    """Two real PDFs ingested into the local course knowledge base appear in the Home tab, by name."""
    from kb.sample import render

    fake, url, rec, app = slack_env
    paths = []
    for name, title in (("week1-intro.pdf", "Week 1"), ("syllabus.pdf", "Syllabus")):
        path = tmp_path / name
        path.write_bytes(render(f"# {title}\n\nAmazon Lex builds conversational interfaces for {title}."))
        paths.append(str(path))
    app.coursebot.router.services.kb.ingest(paths)
    send_event(url, fixture("app_home_opened.json"))
    view = fake.wait_for("views.publish")[0].params["view"]
    assert view_problems(view) == []
    text = json.dumps(view)
    assert "2 document(s)" in text and text.index("syllabus.pdf") < text.index("week1-intro.pdf")


def test_message_shortcut_answers_in_that_messages_thread(slack_env):
    fake, url, rec, _ = slack_env
    payload = fixture("message_action.json")
    payload["response_url"] = fake.root + "/response/short1"
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    status, _, elapsed = post(url, body, sign(body), "application/x-www-form-urlencoded")
    assert status == 200 and elapsed < 1.0
    done = answers(fake, 1)
    assert done[0]["channel"] == "C0COURSE01" and done[0]["thread_ts"] == "1763690250.000800"
    assert "Amazon Lex builds chat bots" in done[0]["text"]
    turn, _ = rec.turns[0]
    assert turn.intent == "AskCoursePdfs" and turn.text.startswith("Does Amazon Lex support voice")
    # the bot is in that thread now: a plain reply there is answered too
    reply = _reply_in_thread("Ev0AFTERSC1", "1763690260.000100", "what about pricing?", thread_ts="1763690250.000800")
    send_event(url, reply)
    assert len(answers(fake, 2)) == 2 and rec.turns[1][0].text == "what about pricing?"


def test_every_answer_posted_fits_block_kit(slack_env):
    fake, url, rec, _ = slack_env
    send_event(url, fixture("app_mention.json"))
    send_event(url, fixture("message_im.json"))
    done = answers(fake, 2)
    for c in fake.called("chat.postMessage") + fake.called("chat.update"):
        assert problems(c.params["blocks"]) == [], c.params["text"]
    assert len(done) == 2


def test_a_private_channel_thread_is_followed_like_a_public_one(slack_env):
    """message.groups (groups:history) delivers replies in private channels: answered once the bot is in the thread."""
    fake, url, rec, _ = slack_env
    mention = fixture("app_mention.json")
    mention["event"]["channel"] = "G0PRIVATE1"
    assert send_event(url, mention)[0] == 200
    answers(fake, 1)
    reply = _reply_in_thread("Ev0PRIVATE1", "1763690061.000100", channel="G0PRIVATE1", channel_type="group")
    assert send_event(url, reply)[0] == 200
    done = answers(fake, 2)
    settle(fake)
    assert [(m["channel"], m["thread_ts"]) for m in done] == [("G0PRIVATE1", ROOT)] * 2
    assert [t.text for t, _ in rec.turns] == ["what is Amazon Lex?", "and how much does it cost?"]
