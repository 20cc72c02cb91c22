"""Courses and roles in Slack, end to end: signed requests over real HTTP into the Bolt app, the real
router, AskCoursePdfs and local course index, and the local fake Slack Web API.

An instructor (COURSEBOT_SLACK_INSTRUCTORS) sharing a PDF is asked with buttons "add to the course or
just for you?" and the click does it; a student is never asked. COURSEBOT_SLACK_COURSES maps each
channel to its course; a DM asks for its course once and remembers.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.parse

import pytest

from kb.sample import render
from test_slack import SECRET, TOKEN, fixture, is_placeholder, post, send_event, sign

TEACHER = "U0TEACH001"
STUDENT = "U0STUDENT1"
ML, STATS = "C0COURSE01", "C0STATS001"
LAMBDA = """# AWS Lambda

## Limits
AWS Lambda runs functions without servers. A Lambda function can run for at most 15 minutes per invocation.
"""
RIDGE = """# Regularization

## Ridge
In ridge regression, lambda is the penalty weight that shrinks the coefficients towards zero.
"""
KINESIS = """# Amazon Kinesis

## Streams
Amazon Kinesis Data Streams keeps records for 24 hours by default, and up to 365 days.
"""
NOTES = """# My study notes

## Zebras
The plains zebra lives in herds on the grasslands of East Africa. Its stripes confuse biting flies.
"""


@pytest.fixture
def env(settings):
    """(fake Slack, app URL, services) with two courses: ml101 in C0COURSE01, stats in C0STATS001."""
    from bot.channels import slack
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.router import Router
    from bot.services import Services
    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={
            "slack_bot_token": TOKEN, "slack_signing_secret": SECRET, "slack_api_url": fake.base_url,
            "slack_instructors": TEACHER, "slack_courses": f"{ML}=ml101,{STATS}=stats",
            "kb_chat_ingest_wait_seconds": 60})
        services = Services(cfg)
        services.kb.ingest_bytes("lambda-functions.pdf", render(LAMBDA), course="ml101")
        services.kb.ingest_bytes("ridge.pdf", render(RIDGE), course="stats")
        app = slack.build_app(cfg, Router(services), dedupe=MemoryDedupe(), workers=4)
        server = slack.serve_http(app, "127.0.0.1", 0)
        server.start_background()
        try:
            yield fake, server.url, services
        finally:
            server.shutdown()
            server.server_close()


_events = iter(range(1, 10_000))


def mention(channel: str, user: str, text: str, ts: str, files: list[dict] | None = None) -> dict:
    event = fixture("app_mention.json")
    event["event_id"] = f"Ev0COURSES{next(_events):04d}"
    event["event"].update({"channel": channel, "user": user, "text": f"<@UBOT0001> {text}".strip(), "ts": ts,
                           "event_ts": ts})
    if files:
        event["event"]["files"] = files
    return event


def dm(user: str, text: str, ts: str) -> dict:
    event = fixture("message_im.json")
    event["event_id"] = f"Ev0COURSES{next(_events):04d}"
    event["event"].update({"user": user, "text": text, "ts": ts, "event_ts": ts, "channel": "D0STUDENT1"})
    return event


def shared_pdf(fake, file_id: str, name: str, data: bytes) -> list[dict]:
    return [{"id": file_id, "name": name, "mimetype": "application/pdf", "size": len(data),
             "url_private": fake.add_file(file_id, data, "application/pdf")}]


def blocks_of(message: dict) -> list[dict]:
    blocks = message.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def button_list(message: dict) -> list[dict]:
    return [e for b in blocks_of(message) if b.get("type") == "actions" for e in b["elements"]]


def wait_message(fake, match, thread: str | None = None, timeout: float = 60.0) -> dict:
    """The bot's first message (as it stands after updates) for which ``match(text)`` is true, in
    ``thread`` when given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with fake._lock:
            found = [m for m in fake.messages.values() if not is_placeholder(m) and match(m.get("text", ""))
                     and (thread is None or m.get("thread_ts") == thread)]
        if found:
            return sorted(found, key=lambda m: m["ts"])[0]
        time.sleep(0.05)
    with fake._lock:
        raise AssertionError(f"no matching message; the bot posted: {[m.get('text') for m in fake.messages.values()]}")


def click(fake, url: str, user: str, channel: str, message: dict, button: dict) -> None:
    """Slack's block_actions payload for a click on ``button`` of the bot's ``message``."""
    payload = copy.deepcopy(fixture("block_actions.json"))
    thread = message.get("thread_ts") or message["ts"]
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0000001"}
    payload["channel"] = {"id": channel, "name": channel.lower()}
    payload["container"] = {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                            "is_ephemeral": False, "thread_ts": thread}
    payload["message"] = {"type": "message", "subtype": "bot_message", "text": message.get("text", ""),
                          "ts": message["ts"], "bot_id": "BBOT0001", "thread_ts": thread,
                          "blocks": blocks_of(message)}
    payload["response_url"] = fake.root + f"/response/{next(_events)}"
    payload["trigger_id"] = f"1.2.{next(_events)}"
    payload["actions"] = [{"action_id": button["action_id"], "block_id": "coursebot_actions", "text": button["text"],
                           "value": button["value"], "type": "button", "action_ts": str(time.time())}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert post(url, body, sign(body), "application/x-www-form-urlencoded")[0] == 200


def names(services, course: str) -> list[str]:
    return [d["name"] for d in services.kb.list(course=course)]


def test_an_instructor_is_asked_with_buttons_and_add_to_the_course_does_it(env):
    fake, url, services = env
    files = shared_pdf(fake, "F0KINESIS1", "09-kinesis.pdf", render(KINESIS))
    send_event(url, mention(ML, TEACHER, "", "1763700000.000100", files))
    asked = wait_message(fake, lambda t: "for everyone, or just for you" in t)
    labels = {b["text"]["text"]: b for b in button_list(asked)}
    assert list(labels) == ["Add to the course", "Just for me"]
    assert asked["thread_ts"] == "1763700000.000100"
    assert names(services, "ml101") == ["lambda-functions.pdf"]  # nothing added before the click

    click(fake, url, TEACHER, ML, asked, labels["Add to the course"])
    added = wait_message(fake, lambda t: "09-kinesis.pdf" in t and "to the course" in t)
    assert "I added '09-kinesis.pdf' to the course" in added["text"]
    assert added["thread_ts"] == "1763700000.000100"
    assert names(services, "ml101") == ["09-kinesis.pdf", "lambda-functions.pdf"]
    assert names(services, "stats") == ["ridge.pdf"] and names(services, "default") == []

    # every student in the course's channel now gets it; the other course's channel does not
    send_event(url, mention(ML, STUDENT, "how long does kinesis keep records?", "1763700100.000100"))
    cited = wait_message(fake, lambda t: "24 hours" in t, thread="1763700100.000100")
    assert "09-kinesis.pdf" in json.dumps(blocks_of(cited))
    send_event(url, mention(STATS, STUDENT, "how long does kinesis keep records?", "1763700200.000100"))
    other = wait_message(fake, bool, thread="1763700200.000100")
    assert other["channel"] == STATS and "24 hours" not in other["text"]
    assert "09-kinesis.pdf" not in json.dumps(blocks_of(other))


def test_just_for_me_keeps_the_instructors_pdf_in_the_thread(env):
    fake, url, services = env
    files = shared_pdf(fake, "F0NOTES001", "my-notes.pdf", render(NOTES))
    send_event(url, mention(ML, TEACHER, "", "1763710000.000100", files))
    asked = wait_message(fake, lambda t: "for everyone, or just for you" in t)
    just_me = next(b for b in button_list(asked) if b["text"]["text"] == "Just for me")
    click(fake, url, TEACHER, ML, asked, just_me)
    kept = wait_message(fake, lambda t: "for this conversation only" in t)
    assert "my-notes.pdf" in kept["text"] and names(services, "ml101") == ["lambda-functions.pdf"]


def test_a_student_sharing_a_pdf_is_never_asked_and_it_stays_private(env):
    fake, url, services = env
    files = shared_pdf(fake, "F0NOTES002", "lambda-functions.pdf", render(NOTES))  # a course file's name, too
    send_event(url, mention(ML, STUDENT, "", "1763720000.000100", files))
    reply = wait_message(fake, lambda t: "lambda-functions.pdf" in t)
    assert "for this conversation only" in reply["text"]
    assert "Add to the course" not in json.dumps(blocks_of(reply))
    assert not [m for m in fake.messages.values() if "just for you" in m.get("text", "")]
    assert names(services, "ml101") == ["lambda-functions.pdf"]
    send_event(url, mention(ML, STUDENT, "How long can a Lambda function run?", "1763720100.000100"))
    answer = wait_message(fake, lambda t: "15 minutes" in t, thread="1763720100.000100")
    assert "East Africa" not in answer["text"]


def test_the_same_question_in_two_mapped_channels_cites_each_channels_course(env):
    fake, url, services = env
    send_event(url, mention(ML, STUDENT, "what is lambda?", "1763730000.000100"))
    send_event(url, mention(STATS, STUDENT, "what is lambda?", "1763730000.000200"))
    ml = wait_message(fake, bool, thread="1763730000.000100")
    st = wait_message(fake, bool, thread="1763730000.000200")
    assert ml["channel"] == ML and st["channel"] == STATS
    assert "lambda-functions.pdf" in json.dumps(blocks_of(ml)) and "ridge.pdf" not in json.dumps(blocks_of(ml))
    assert "ridge.pdf" in json.dumps(blocks_of(st)) and "lambda-functions.pdf" not in json.dumps(blocks_of(st))


def test_a_dm_asks_for_its_course_once_with_buttons_and_remembers(env):
    fake, url, services = env
    send_event(url, dm(STUDENT, "what is lambda?", "1763740000.000100"))
    asked = wait_message(fake, lambda t: "Which course is this about?" in t)
    labels = {b["text"]["text"]: b for b in button_list(asked)}
    assert {"ml101", "stats"} <= set(labels)
    click(fake, url, STUDENT, "D0STUDENT1", asked, labels["stats"])
    answer = wait_message(fake, lambda t: "penalty" in t)
    assert "ridge.pdf" in json.dumps(blocks_of(answer))

    send_event(url, dm(STUDENT, "what does the course say about lambda?", "1763740100.000100"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with fake._lock:
            done = [m for m in fake.messages.values() if not is_placeholder(m) and "penalty" in m.get("text", "")]
        if len(done) >= 2:
            break
        time.sleep(0.05)
    assert len(done) == 2, [m.get("text") for m in fake.messages.values()]
    asks = [m for m in fake.messages.values() if "Which course is this about?" in m.get("text", "")]
    assert len(asks) == 1  # asked once


def test_the_stack_passes_the_slack_instructors_and_course_map_to_the_slack_function():
    from bot.aws.stack import build_template
    from bot.settings import Settings

    template = build_template()
    env = template["Resources"]["SlackFunction"]["Properties"]["Environment"]["Variables"]
    assert env["COURSEBOT_SLACK_INSTRUCTORS"] == {"Ref": "SlackInstructors"}
    assert env["COURSEBOT_SLACK_COURSES"] == {"Ref": "SlackCourses"}
    params = template["Parameters"]
    defaults = Settings.model_fields
    assert params["SlackInstructors"]["Default"] == defaults["slack_instructors"].default == ""
    assert params["SlackCourses"]["Default"] == defaults["slack_courses"].default == ""


def _home(fake, url, user: str, n: int) -> dict:
    body = copy.deepcopy(fixture("app_home_opened.json"))
    body["event_id"] = f"Ev0HOMEINS{next(_events):04d}"
    body["event"]["user"] = user
    assert send_event(url, body)[0] == 200
    view = fake.wait_for("views.publish", n)[n - 1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _open_report(fake, url, user: str, course: str, n: int) -> dict:
    payload = copy.deepcopy(fixture("block_actions.json"))
    payload.pop("channel", None), payload.pop("message", None), payload.pop("container", None)
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0000001"}
    payload["container"] = {"type": "view", "view_id": "V0HOME0001"}
    payload["trigger_id"] = f"1.2.report{next(_events)}"
    payload["response_url"] = fake.root + f"/response/{next(_events)}"
    payload["actions"] = [{"action_id": "coursebot_report_open", "block_id": "insights", "value": course,
                           "type": "button", "text": {"type": "plain_text", "text": "Open the full report"},
                           "action_ts": str(time.time())}]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert post(url, body, sign(body), "application/x-www-form-urlencoded")[0] == 200
    opened = fake.wait_for("views.open", n)[n - 1]
    assert opened.params["trigger_id"] == payload["trigger_id"]
    view = opened.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _report_shown(fake, n: int) -> dict:
    """The report that replaced the n-th "being built" modal (views.update on the view Slack opened)."""
    update = fake.wait_for("views.update", n)[n - 1]
    assert update.params["view_id"] in fake.views
    view = update.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def test_the_home_tab_shows_courses_by_channel_and_instructors_their_insights(env):
    from blockkit import modal_problems, view_problems

    fake, url, services = env
    send_event(url, mention(ML, STUDENT, "How long can a Lambda function run?", "1763760000.000100"))
    wait_message(fake, lambda t: "15 minutes" in t, thread="1763760000.000100")
    send_event(url, mention(ML, STUDENT, "who won the 1998 football world cup?", "1763760100.000100"))
    wait_message(fake, bool, thread="1763760100.000100")

    teacher = _home(fake, url, TEACHER, 1)
    assert view_problems(teacher) == []
    text = json.dumps(teacher, ensure_ascii=False)
    assert f"<#{ML}>: *ml101*" in text and f"<#{STATS}>: *stats*" in text
    assert "Insights (instructors only)" in text and "world cup" in text
    assert "2 question(s): 1 answered from the PDFs, 1 not in the course" in text
    buttons = [e for b in teacher["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["value"] for b in buttons if b["action_id"] == "coursebot_report_open"} == {"default", "ml101", "stats"}

    student = json.dumps(_home(fake, url, STUDENT, 2))
    assert f"<#{ML}>: *ml101*" in student
    assert "Insights" not in student and "not in the course" not in student and "coursebot_report_open" not in student

    building = _open_report(fake, url, TEACHER, "ml101", 1)
    assert modal_problems(building) == [] and "Adding up the questions of ml101" in json.dumps(building)
    report = _report_shown(fake, 1)
    assert modal_problems(report) == []
    shown = json.dumps(report, ensure_ascii=False)
    assert "world cup" in shown and "Not in the course" in shown and "lambda-functions.pdf" in shown
    assert "Lambda function run" not in shown.split("Not in the course")[1].split("Answers rated")[0]

    # a student's forged click, and an instructor's click on a course this workspace does not use
    refused = json.dumps(_open_report(fake, url, STUDENT, "ml101", 2))
    assert "Only the course's instructors" in refused and "world cup" not in refused
    unknown = json.dumps(_open_report(fake, url, TEACHER, "../default", 3))
    assert "I don't know that course" in unknown
    time.sleep(0.3)
    assert len([c for c in fake.calls if c.method == "views.update"]) == 1  # refusals are never replaced



def test_a_malformed_report_click_opens_only_a_note(settings):
    """Fields of the wrong type in an "Open the full report" click: a note for the non-instructor, no crash."""
    from bot.channels import slack
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.router import Router
    from bot.services import Services
    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url, "slack_instructors": TEACHER})
        channel = slack.build_app(cfg, Router(Services(cfg)), dedupe=MemoryDedupe(), workers=1).coursebot

    class Client:
        opened: list = []

        def views_open(self, trigger_id, view):
            self.opened.append(view)

    client = Client()
    for body in ({"user": TEACHER, "trigger_id": "1.2.a", "actions": "nope"},
                 {"user": {"id": TEACHER}, "trigger_id": "1.2.b", "actions": ["x"]},
                 {"user": ["x"], "trigger_id": "1.2.c", "actions": [{"value": "default"}]},
                 {"user": {"id": TEACHER}, "trigger_id": 5, "actions": [{"value": "default"}]}):
        channel.on_open_report(body, client)
    texts = [json.dumps(v) for v in client.opened]
    assert len(texts) == 3  # no trigger_id, no modal
    assert all("Course insights" in t and "question(s)" not in t for t in texts)
    assert "Only the course's instructors" in texts[0] and "I don't know that course" in texts[1]


def test_the_report_modal_opens_before_the_report_is_built(settings, monkeypatch):
    """The click's trigger lasts 3 s at Slack: the modal opens first ("adding up…"), the report replaces it
    with views.update; a failed build replaces it with a plain sentence; a refused update is only logged."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse

    from bot.channels import slack
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.insight import report
    from bot.router import Router
    from bot.services import Services
    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url, "slack_instructors": TEACHER})
        channel = slack.build_app(cfg, Router(Services(cfg)), dedupe=MemoryDedupe(), workers=1).coursebot

    order: list[str] = []
    real_build = report.build

    class Client:
        def __init__(self, refuse_update=False):
            self.refuse_update = refuse_update
            self.updates: list = []

        def views_open(self, trigger_id, view):
            order.append("open:" + json.dumps(view))
            return {"ok": True, "view": {"id": "V123", "hash": "1.h", **view}}

        def views_update(self, view_id, hash, view):
            order.append("update")
            if self.refuse_update:
                raise SlackApiError("hash_conflict", SlackResponse(
                    client=None, http_verb="POST", api_url="views.update", req_args={},
                    data={"ok": False, "error": "hash_conflict"}, headers={}, status_code=200))
            self.updates.append((view_id, hash, view))

    def slow_build(services, course):
        order.append("build")
        return real_build(services, course=course)

    monkeypatch.setattr(report, "build", slow_build)
    click = {"user": {"id": TEACHER}, "trigger_id": "1.2.ok", "actions": [{"value": "default"}]}
    client = Client()
    channel.on_open_report(click, client)
    assert [o.split(":")[0] for o in order] == ["open", "build", "update"]
    assert "Adding up the questions of default" in order[0]
    assert client.updates[0][:2] == ("V123", "1.h") and "No questions yet" in json.dumps(client.updates[0][2])

    def broken(services, course):
        raise RuntimeError("the insight store is gone")

    monkeypatch.setattr(report, "build", broken)
    client = Client()
    channel.on_open_report(click, client)
    failed = json.dumps(client.updates[0][2])
    assert "Traceback" not in failed and "insight store" not in failed and "No questions yet" not in failed

    monkeypatch.setattr(report, "build", slow_build)
    channel.on_open_report(click, Client(refuse_update=True))  # closed meanwhile: no exception
