"""👍 / 👎 on Slack answers, end to end over real HTTP (signed requests, the local fake Web API): a click is
stored through the same insight store as the web's POST /api/feedback, 👎 opens the "what was wrong?" modal,
its submission lands in `coursebot report --json` with the cited pages; forged or unknown answers store
nothing; what is stored names no Slack user."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from blockkit import modal_problems, problems
from test_slack import answers, fixture, post, send_event, settle, sign, slack_env  # noqa: F401

ROOT = "1763690000.000100"
CHANNEL = "C0COURSE01"
STUDENT = "U0STUDENT1"
CITED = [{"source": "lex-intro.pdf", "page": 3}, {"source": "syllabus.pdf", "page": 1}]


def _blocks(message: dict) -> list[dict]:
    blocks = message.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _rating_block(message: dict) -> dict:
    [block] = [b for b in _blocks(message) if b.get("block_id") == "coursebot_feedback"]
    return block


def _answer_in_thread(fake, url) -> dict:
    """Mention the bot in the course channel; the answer as it stands in the thread."""
    assert send_event(url, fixture("app_mention.json"))[0] == 200
    [message] = answers(fake, 1)
    settle(fake, 0.3)
    return copy.deepcopy(message)  # as the student's Slack shows it (the fake updates its own copy)


def _click(fake, url, message: dict, rating: str, *, trigger: str, user: str = STUDENT, channel: str = CHANNEL,
           value: str | None = None, ephemeral: bool = False) -> tuple[int, str]:
    """Click 👍 or 👎 under ``message`` the way Slack sends it (the message's blocks included)."""
    block = _rating_block(message)
    button = block["elements"][0 if rating == "up" else 1]
    payload = fixture("block_actions.json")
    payload.update(trigger_id=trigger, response_url=f"{fake.root}/response/{trigger}")
    payload["user"]["id"] = user
    payload["channel"]["id"] = channel
    payload["container"].update(message_ts=message["ts"], channel_id=channel, is_ephemeral=ephemeral)
    if ephemeral:
        payload.pop("message")
    else:
        payload["message"].update(ts=message["ts"], thread_ts=message.get("thread_ts"), text=message["text"],
                                  blocks=_blocks(message))
    payload["actions"] = [{"action_id": button["action_id"], "block_id": "coursebot_feedback",
                           "text": button["text"], "value": button["value"] if value is None else value,
                           "type": "button", "action_ts": "1763690310.123456"}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    status, text, _ = post(url, body, sign(body), "application/x-www-form-urlencoded")
    return status, text


def _submit(url, view: dict, comment: str | None, *, trigger: str, user: str = STUDENT) -> tuple[int, str]:
    """Send the modal the way Slack sends a view_submission."""
    payload = {
        "type": "view_submission", "team": {"id": "T0000001", "domain": "coursebot-test"},
        "user": {"id": user, "username": "student", "name": "student", "team_id": "T0000001"},
        "api_app_id": "A0COURSEBOT", "token": "ZZZZZZWSxiZZZ2yIvs3peJ", "trigger_id": trigger,
        "view": {"id": "V0000001", "team_id": "T0000001", "type": "modal", "callback_id": view["callback_id"],
                 "private_metadata": view.get("private_metadata", ""), "blocks": view["blocks"],
                 "state": {"values": {"coursebot_feedback_why": {"comment": {"type": "plain_text_input",
                                                                             "value": comment}}}},
                 "hash": "1763690400.abcdef", "title": view["title"]},
        "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    status, text, _ = post(url, body, sign(body), "application/x-www-form-urlencoded")
    return status, text


def _ratings(app) -> list:
    return app.coursebot.router.services.insight.ratings()


def _opened_view(fake) -> dict:
    view = fake.called("views.open")[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def test_a_course_answer_in_slack_has_feedback_buttons_that_fit_block_kit(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    assert problems(_blocks(message)) == []
    block = _rating_block(message)
    assert [e["text"]["text"] for e in block["elements"]] == ["👍 Helpful", "👎 Not helpful"]
    value = json.loads(block["elements"][0]["value"])
    recorded = app.coursebot.router.services.insight.get(value["a"])
    assert recorded is not None and recorded.question == "what is Amazon Lex?"  # the answer insight kept
    assert value["c"] == f"slack:T0000001:{CHANNEL}:{ROOT}"


def test_thumbs_up_is_stored_and_thanked_in_place(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    answer_id = json.loads(_rating_block(message)["elements"][0]["value"])["a"]
    status, _ = _click(fake, url, message, "up", trigger="1.2.up")
    assert status == 200
    [rating] = _ratings(app)
    assert (rating.answer_id, rating.rating, rating.comment) == (answer_id, "up", "")
    update = fake.wait_for("chat.update", len(fake.called("chat.update")))[-1].params
    assert (update["channel"], update["ts"]) == (CHANNEL, message["ts"])
    now = fake.messages[(CHANNEL, message["ts"])]
    blocks = _blocks(now)
    assert problems(blocks) == []
    assert "Thanks for the feedback" in json.dumps(blocks)
    assert all(b["type"] != "actions" or b.get("block_id") != "coursebot_feedback" for b in blocks)
    assert "Amazon Lex builds chat bots" in blocks[0]["text"]["text"]  # the answer itself is untouched
    assert fake.called("views.open") == []


def test_thumbs_down_opens_the_modal_and_its_comment_reaches_the_report(slack_env, home):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    answer_id = json.loads(_rating_block(message)["elements"][1]["value"])["a"]
    assert _click(fake, url, message, "up", trigger="1.2.first-up")[0] == 200
    status, _ = _click(fake, url, message, "down", trigger="1.2.down")
    assert status == 200
    [opened] = fake.called("views.open")
    assert opened.params["trigger_id"] == "1.2.down"
    view = _opened_view(fake)
    assert modal_problems(view) == []
    assert view["callback_id"] == "coursebot_feedback_comment"
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["optional"] is True and field["element"]["multiline"] is False  # one optional line
    assert [(r.rating, r.comment) for r in _ratings(app)] == [("down", "")]  # stored at the click; the last counts

    status, body = _submit(url, view, "  it cites the   wrong page ", trigger="1.2.submit")
    assert status == 200 and body.strip() in ("", "{}")  # an empty ack closes the modal
    [rating] = _ratings(app)
    assert (rating.answer_id, rating.rating, rating.comment) == (answer_id, "down", "it cites the wrong page")

    from bot.insight.report import build

    report = build(app.coursebot.router.services, course="default")
    [row] = [f for f in report["feedback"] if f["answer_id"] == answer_id]
    assert row["rating"] == "down" and row["comment"] == "it cites the wrong page"
    assert row["question"] == "what is Amazon Lex?" and row["citations"] == CITED
    assert {(p["source"], p["page"]): p["down"] for p in report["pages"] if p["page"]} == {
        ("lex-intro.pdf", 3): 1, ("syllabus.pdf", 1): 1}

    # and the instructor's command says the same
    env = {**os.environ, "COURSEBOT_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "report", "--json"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    [row] = [f for f in json.loads(out.stdout)["feedback"] if f["answer_id"] == answer_id]
    assert (row["rating"], row["comment"], row["citations"]) == ("down", "it cites the wrong page", CITED)


def test_a_comment_too_long_is_refused_in_the_modal_and_nothing_changes(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    _click(fake, url, message, "down", trigger="1.3.down")
    status, body = _submit(url, _opened_view(fake), "x" * 600, trigger="1.3.submit")
    assert status == 200
    ack = json.loads(body)
    assert ack["response_action"] == "errors" and "500 characters" in ack["errors"]["coursebot_feedback_why"]
    assert [(r.rating, r.comment) for r in _ratings(app)] == [("down", "")]


def _forged_value(message: dict, **changes) -> str:
    value = json.loads(_rating_block(message)["elements"][0]["value"])
    value.update(changes)
    return json.dumps(value)


@pytest.mark.parametrize("forge, why", [
    (lambda m: _forged_value(m, a="A" * 22), "an answer id nobody was given"),
    (lambda m: _forged_value(m, a="../../etc/passwd"), "not an answer id"),
    (lambda m: _forged_value(m, a=["x"]), "not a string"),
    (lambda m: _forged_value(m, c=f"slack:T0000001:{CHANNEL}:1763600000.000001"), "another thread's conversation"),
    (lambda m: "not json {", "not JSON"),
    (lambda m: "[1, 2]", "not an object"),
])
def test_forged_or_unknown_answers_store_nothing_and_get_a_polite_note(slack_env, forge, why):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    before = len(fake.called("chat.update"))
    status, _ = _click(fake, url, message, "down", trigger="1.4.forged", value=forge(message))
    assert status == 200, why
    [note] = fake.wait_for("response_url")
    assert note.params["response_type"] == "ephemeral" and note.params["replace_original"] is False
    assert "couldn't record" in note.params["text"] or "don't know that answer" in note.params["text"], why
    assert "Traceback" not in note.params["text"] and "answer_id" not in note.params["text"]
    settle(fake, 0.3)
    assert _ratings(app) == [], why
    assert fake.called("views.open") == [] and len(fake.called("chat.update")) == before  # no modal, no thanks


def test_a_button_naming_a_conversation_not_the_clickers_is_read_as_the_thread_it_was_clicked_in(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    value = _forged_value(message, c="slack:T0000001:dm:U0SOMEONE1")  # someone else's DM: not honoured
    assert _click(fake, url, message, "up", trigger="1.4.dm", value=value)[0] == 200
    from bot.insight import conversation_hash

    [rating] = _ratings(app)  # the answer is this thread's, and the click came from this thread
    assert rating.conversation == conversation_hash(f"slack:T0000001:{CHANNEL}:{ROOT}")


def test_an_answer_in_one_thread_cannot_be_rated_from_another_channel(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    status, _ = _click(fake, url, message, "up", trigger="1.5.elsewhere", channel="C0OTHER001")
    assert status == 200 and _ratings(app) == []
    assert "don't know that answer" in fake.wait_for("response_url")[0].params["text"]


def test_a_dm_answer_can_be_rated_only_by_its_student(slack_env):
    fake, url, rec, app = slack_env
    dm = fixture("message_im.json")
    dm["event"]["text"] = "what is Amazon Lex?"
    send_event(url, dm)
    [message] = copy.deepcopy(answers(fake, 1))
    settle(fake, 0.3)
    assert json.loads(_rating_block(message)["elements"][0]["value"])["c"] == f"slack:T0000001:dm:{STUDENT}"
    # another student replaying the button in their own DM
    assert _click(fake, url, message, "up", trigger="1.6.other", user="U0STUDENT9", channel="D0STUDENT9")[0] == 200
    assert _ratings(app) == []
    assert _click(fake, url, message, "down", trigger="1.6.mine", channel="D0STUDENT1")[0] == 200
    assert [r.rating for r in _ratings(app)] == ["down"]
    view = _opened_view(fake)
    assert modal_problems(view) == []
    # the other student sending this student's form (a replayed submission) changes nothing
    status, body = _submit(url, view, "sabotage", trigger="1.6.theirs", user="U0STUDENT9")
    assert status == 200 and json.loads(body)["response_action"] == "update"
    status, body = _submit(url, view, "too vague", trigger="1.6.submit")
    assert status == 200 and body.strip() in ("", "{}")
    assert [(r.rating, r.comment) for r in _ratings(app)] == [("down", "too vague")]


def test_an_ephemeral_answer_is_thanked_privately(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    status, _ = _click(fake, url, message, "up", trigger="1.7.eph", ephemeral=True)
    assert status == 200 and [r.rating for r in _ratings(app)] == ["up"]
    [note] = fake.wait_for("response_url")
    assert "Thanks for the feedback" in note.params["text"] and note.params["replace_original"] is False


def test_a_forged_modal_submission_stores_nothing(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    _click(fake, url, message, "down", trigger="1.8.down")
    view = _opened_view(fake)
    meta = json.loads(view["private_metadata"])
    for changed, trigger in ((dict(meta, a="B" * 22), "1.8.a"), (dict(meta, c="slack:T0000001:dm:U0SOMEONE1"), "1.8.c"),
                             (dict(meta, c=f"slack:T0000001:{CHANNEL}:1763600000.000001"), "1.8.t")):
        status, body = _submit(url, dict(view, private_metadata=json.dumps(changed)), "sabotage", trigger=trigger)
        ack = json.loads(body)
        assert status == 200 and ack["response_action"] == "update"
        assert modal_problems(ack["view"]) == [] and "couldn't record" in json.dumps(ack["view"])
    assert [(r.rating, r.comment) for r in _ratings(app)] == [("down", "")]


def test_unsigned_feedback_is_refused_before_anything_is_stored(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    payload = fixture("block_actions.json")
    payload["actions"] = [dict(_rating_block(message)["elements"][0], block_id="coursebot_feedback")]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert post(url, body, sign(body, secret="not-the-secret"), "application/x-www-form-urlencoded")[0] == 401
    assert _ratings(app) == []


def test_what_feedback_stores_names_no_slack_user(slack_env, settings):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    _click(fake, url, message, "down", trigger="1.9.down")
    _submit(url, _opened_view(fake), "page 3 is about Polly", trigger="1.9.submit")
    assert [r.comment for r in _ratings(app)] == ["page 3 is about Polly"]
    db = sqlite3.connect(settings.data_dir / "insight.sqlite3")
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert "page 3 is about Polly" in dump and "what is Amazon Lex?" in dump
    for identity in (STUDENT, "T0000001", CHANNEL, ROOT, "slack:"):
        assert identity not in dump, identity
    from bot.insight import conversation_hash
    from bot.insight.report import build

    assert conversation_hash(f"slack:T0000001:{CHANNEL}:{ROOT}") in dump  # the hash is all that links them
    report = json.dumps(build(app.coursebot.router.services, course="default"))
    assert STUDENT not in report and CHANNEL not in report and "page 3 is about Polly" in report


def test_a_repeated_click_is_handled_once(slack_env):
    fake, url, rec, app = slack_env
    message = _answer_in_thread(fake, url)
    for _ in range(2):  # the same delivery (same trigger_id) twice
        assert _click(fake, url, message, "down", trigger="1.10.same")[0] == 200
    settle(fake, 0.3)
    assert len(fake.called("views.open")) == 1 and [r.rating for r in _ratings(app)] == ["down"]
