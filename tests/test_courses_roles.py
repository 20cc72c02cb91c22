"""Courses and roles, for real: the web chat, the Slack channel, the router and the embedded KB.

A student's PDF stays in its conversation; only instructors change the course; courses live side
by side; hostile PDFs are refused quickly while other sessions are answered.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from bot.testing.pdfs import huge_text_pdf, many_pages_pdf  # noqa: E402
from kb.sample import render  # noqa: E402

LAMBDA = """# AWS Lambda

## Limits
AWS Lambda runs functions without servers. A Lambda function can run for at most 15 minutes per invocation.
"""
FALSE_LAMBDA = """# AWS Lambda

## Limits
AWS Lambda runs functions without servers. A Lambda function can run for at most 2 minutes per invocation.
"""
OWN_NOTES = """# My study notes

## Zebras
The plains zebra lives in herds on the grasslands of East Africa. Its stripes confuse biting flies.
"""
NEW_LECTURE = """# Amazon Kinesis

## Streams
Amazon Kinesis Data Streams keeps records for 24 hours by default, and up to 365 days.
"""
STATS_LAMBDA = """# Regularization

## Ridge
In ridge regression, lambda is the penalty weight that shrinks the coefficients towards zero.
"""
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def world(home):
    from bot.channels.web import create_app
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    settings = load(home=home, backend="local", kb_chat_ingest_wait_seconds=60)
    services = Services(settings)
    services.kb.ingest_bytes("08-aws-lambda.pdf", render(LAMBDA))
    router = Router(services)
    app = create_app(services, router, instructor_token="s3cret-instructor-token")
    return settings, services, router, app


def client(app) -> TestClient:
    return TestClient(app, base_url=BASE)


def post(c: TestClient, text: str = "", file: tuple[str, bytes] | None = None, **form: str) -> dict:
    files = {"file": (file[0], file[1], "application/pdf")} if file else None
    r = c.post("/api/turn", data={"text": text, **form}, files=files)
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def sources(reply: dict) -> list[str]:
    return [c["source"] for c in reply["citations"]]


def test_a_students_uploads_stay_in_their_conversation(world):
    settings, services, router, app = world
    before = json.dumps(services.kb.list(), sort_keys=True)
    student, other = client(app), client(app)

    spoof = post(student, "", ("08-aws-lambda.pdf", render(FALSE_LAMBDA)))
    assert "for this conversation only" in spoof["text"], spoof
    own = post(student, "", ("my-notes.pdf", render(OWN_NOTES)))
    assert "for this conversation only" in own["text"] and own["details"]["private"] is True

    assert json.dumps(services.kb.list(), sort_keys=True) == before  # kb list --json unchanged
    answer = post(other, "How long can a Lambda function run?")
    assert "15 minutes" in answer["text"] and "2 minutes" not in answer["text"]
    assert sources(answer) == ["08-aws-lambda.pdf"] or set(sources(answer)) == {"08-aws-lambda.pdf"}
    zebra = post(other, "what does the course say about the plains zebra?")
    assert "East Africa" not in zebra["text"] and all("my-notes" not in s for s in sources(zebra))

    mine = post(student, "what does the course say about the plains zebra?")
    assert "East Africa" in mine["text"]
    assert "my-notes.pdf (your file)" in sources(mine)


def test_an_instructor_adds_a_course_pdf_from_the_web_chat_and_every_session_cites_it(world):
    settings, services, router, app = world
    teacher, student = client(app), client(app)
    assert teacher.get("/?instructor=wrong-token", follow_redirects=False).cookies.get("coursebot_instructor") is None
    r = teacher.get("/?instructor=s3cret-instructor-token", follow_redirects=False)
    assert r.status_code == 303 and "s3cret" not in r.headers["location"]
    assert teacher.cookies.get("coursebot_instructor") and "s3cret" not in teacher.cookies.get("coursebot_instructor")

    asked = post(teacher, "", ("09-kinesis.pdf", render(NEW_LECTURE)))
    assert asked["state"] == "elicit" and asked["elicit_slot"] == "upload_scope"
    assert list(asked["suggestions"]) == ["Add to the course", "Just for me"]
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf"]  # nothing yet
    added = post(teacher, "Add to the course")
    assert "I added '09-kinesis.pdf' to the course" in added["text"], added
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf", "09-kinesis.pdf"]

    for c in (student, client(app), teacher):
        reply = post(c, "what does the course say about how long kinesis keeps records?")
        assert "24 hours" in reply["text"] and "09-kinesis.pdf" in sources(reply)

    # a student cannot do the same: the same upload stays private, the course is unchanged
    kept = post(student, "", ("10-more.pdf", render(OWN_NOTES)))
    assert kept["state"] != "elicit" and "for this conversation only" in kept["text"]
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf", "09-kinesis.pdf"]


def test_web_course_parameter_accepts_only_existing_courses(world):
    settings, services, router, app = world
    services.kb.ingest_bytes("ridge.pdf", render(STATS_LAMBDA), course="stats")
    c = client(app)
    r = c.post("/api/turn", data={"text": "what is lambda in ridge regression?", "course": "nosuch"})
    assert r.status_code == 404 and r.json()["error"] == "unknown_course"
    reply = post(c, "what is lambda in ridge regression?", course="stats")
    assert sources(reply) == ["ridge.pdf"] and "penalty" in reply["text"]


def test_two_slack_channels_mapped_to_two_courses_cite_their_own_course(home):
    from slack_sdk import WebClient

    from bot.channels.slack.adapter import event_to_turn
    from bot.channels.slack.app import SlackChannel
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.testing.slack_web_api import FakeSlack

    settings = load(home=home, backend="local", slack_courses="C0ML=ml101,C0ST=stats", slack_instructors="UTEACH")
    services = Services(settings)
    services.kb.ingest_bytes("lambda-functions.pdf", render(LAMBDA), course="ml101")
    services.kb.ingest_bytes("ridge.pdf", render(STATS_LAMBDA), course="stats")
    from bot.channels.slack.threads import MemoryThreads

    channel = SlackChannel(settings, Router(services), MemoryDedupe(), MemoryThreads())
    with FakeSlack() as fake:
        web = WebClient(token=fake.token, base_url=fake.base_url)
        for n, ch in enumerate(("C0ML", "C0ST")):
            body = {"team_id": "T1", "event_id": f"Ev{n}", "event": {
                "type": "app_mention", "channel": ch, "user": "U1", "ts": f"1700000000.00{n}",
                "text": "<@UBOT> what is lambda?"}}
            channel.handle(event_to_turn(body, "UBOT", channel.audience), web)
        posts = fake.called("chat.postMessage")
    assert len(posts) == 2
    ml, st = (json.dumps(p.params) for p in posts)
    assert "lambda-functions.pdf" in ml and "ridge.pdf" not in ml
    assert "ridge.pdf" in st and "lambda-functions.pdf" not in st
    # the roles: UTEACH is an instructor, U1 a student
    t = event_to_turn({"team_id": "T1", "event": {"type": "app_mention", "channel": "C0ML", "user": "UTEACH",
                                                  "ts": "1.1", "text": "hi"}}, "UBOT", channel.audience).turn
    assert t.role == "instructor" and t.course == "ml101"
    dm = event_to_turn({"team_id": "T1", "event": {"type": "message", "channel_type": "im", "channel": "D1",
                                                   "user": "U1", "ts": "1.2", "text": "hi"}}, "UBOT", channel.audience).turn
    assert dm.role == "student" and dm.course is None


def test_a_dm_is_asked_for_its_course_once_and_remembers(home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn

    settings = load(home=home, backend="local")
    services = Services(settings)
    services.kb.ingest_bytes("lambda-functions.pdf", render(LAMBDA), course="ml101")
    services.kb.ingest_bytes("ridge.pdf", render(STATS_LAMBDA), course="stats")
    router = Router(services)
    dm = dict(conversation="slack:T1:dm:U1", channel="slack", user="T1:U1")
    first = router.handle(Turn(text="what is lambda?", **dm))
    assert first.state == "elicit" and set(first.suggestions) >= {"ml101", "stats"}
    answer = router.handle(Turn(text="stats", **dm))
    assert [c.source for c in answer.citations] == ["ridge.pdf"]
    again = router.handle(Turn(text="what is lambda?", **dm))
    assert again.state == "fulfilled" and [c.source for c in again.citations] == ["ridge.pdf"]


@pytest.mark.parametrize("name, make, words", [
    ("book.pdf", many_pages_pdf, "3,000 pages"),
    ("dump.pdf", huge_text_pdf, "MB of text"),
])
def test_hostile_pdfs_are_refused_quickly_while_other_sessions_are_answered(world, name, make, words):
    settings, services, router, app = world
    data = make()
    assert len(data) < settings.web_max_upload_bytes  # small files: the size check alone would let them in
    stats = services.kb.index.stats()
    attacker, other = client(app), client(app)
    out: dict = {}

    def attack() -> None:
        started = time.perf_counter()
        out["reply"] = post(attacker, "", (name, data))
        out["seconds"] = time.perf_counter() - started

    t = threading.Thread(target=attack)
    t.start()
    answers = [post(other, "How long can a Lambda function run?") for _ in range(2)]
    t.join(timeout=120)
    assert not t.is_alive()
    assert all("15 minutes" in a["text"] for a in answers)
    reply = out["reply"]
    assert reply["state"] == "failed" and reply["error"] == "pdf_not_added"
    assert words in reply["text"] and "Traceback" not in reply["text"]
    assert out["seconds"] < 60  # seconds, not minutes (a guard, not a benchmark)
    assert services.kb.index.stats() == stats  # nothing indexed


def test_private_uploads_expire_with_their_blobs(home):
    from bot.services import Services
    from bot.settings import load

    services = Services(load(home=home, backend="local"))
    kb = services.kb
    r = kb.ingest_bytes("mine.pdf", render(OWN_NOTES), owner="o" * 32, ttl_seconds=3600)
    assert r.status == "added"
    key = kb.index.expired(time.time() + 7200)[0][3]
    assert key and services.blobs.exists(key)
    assert kb.purge_expired(time.time() + 10) == 0
    assert kb.purge_expired(time.time() + 7200) == 1
    assert not services.blobs.exists(key)
    assert kb.search("plains zebra", 3, owner="o" * 32) == []


def test_identical_uploads_at_once_are_read_and_embedded_once(home):
    from bot.services import Services
    from bot.settings import load
    from kb.pdf_limits import PdfLimits

    services = Services(load(home=home, backend="local"))
    kb = services.kb
    calls = []
    real = kb.embedder.embed

    def counting(texts):
        calls.append(len(texts))
        return real(texts)

    kb.embedder = type("Counting", (), {"embed": staticmethod(counting), "embed_one": kb.embedder.embed_one,
                                        "dim": kb.embedder.dim, "model_id": kb.embedder.model_id})()
    data = render(OWN_NOTES)
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        kb.ingest_bytes("notes.pdf", data, owner=f"{i:032d}", limits=PdfLimits()))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["added"] * 6
    assert len(calls) == 1  # read and embedded once, indexed for each conversation
    for i in range(6):
        assert [p.source for p in kb.search("plains zebra", 1, owner=f"{i:032d}")] == ["notes.pdf (your file)"]


def test_turns_per_minute_and_uploads_per_hour_say_when_to_try_again(home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Attachment, Turn

    settings = load(home=home, backend="local", turns_per_minute=3, uploads_per_hour=1)
    services = Services(settings)
    router = Router(services)
    pdf = render(OWN_NOTES)
    att = (Attachment(name="a.pdf", mime="application/pdf", data=pdf, size=len(pdf)),)
    assert "for this conversation only" in router.handle(Turn(conversation="q1", attachments=att)).text
    second = router.handle(Turn(conversation="q1", attachments=(Attachment(
        name="b.pdf", mime="application/pdf", data=pdf + b" ", size=len(pdf) + 1),)))
    # the hour's window may be about to end ("1 minute") or just begun ("60 minutes")
    assert re.search(r"try again in ([1-9]|[1-5][0-9]|60) minutes?\b", second.text), second.text
    assert router.handle(Turn(conversation="q1", text="what does the course say about the plains zebra?")).citations
    limited = router.handle(Turn(conversation="q1", text="what does the course say about the plains zebra?"))
    assert limited.error == "rate_limited" and "try again in 1 minute" in limited.text
    assert router.handle(Turn(conversation="q2", text="hello")).error is None  # other conversations go on


def test_kb_courses_and_course_commands(home, capsys):
    from bot import services as services_mod
    from bot.cli import main

    services_mod._services = None
    try:
        tmp = home.parent / "pdfs"
        tmp.mkdir()
        (tmp / "ridge.pdf").write_bytes(render(STATS_LAMBDA))
        (tmp / "lambda.pdf").write_bytes(render(LAMBDA))
        assert main(["kb", "ingest", str(tmp / "lambda.pdf"), "--json"]) == 0
        assert main(["kb", "ingest", "--course", "stats", str(tmp / "ridge.pdf"), "--json"]) == 0
        capsys.readouterr()
        assert main(["kb", "list", "--json"]) == 0
        assert [d["name"] for d in json.loads(capsys.readouterr().out)] == ["lambda.pdf"]
        assert main(["kb", "list", "--course", "stats", "--json"]) == 0
        assert [d["name"] for d in json.loads(capsys.readouterr().out)] == ["ridge.pdf"]
        assert main(["kb", "courses", "--json"]) == 0
        courses = json.loads(capsys.readouterr().out)
        assert [(c["course"], c["documents"]) for c in courses] == [("default", 1), ("stats", 1)]
        assert set(courses[0]) == {"course", "documents", "pages", "chunks"}
        assert main(["kb", "remove", "--course", "stats", "lambda.pdf"]) == 1  # not in that course
        assert main(["kb", "remove", "--course", "stats", "ridge.pdf"]) == 0
        assert main(["kb", "list", "--course", "Bad Name!"]) == 1
        assert "course name" in capsys.readouterr().err
    finally:
        services_mod._services = None


def test_an_index_of_the_previous_version_is_migrated_in_place(tmp_path):
    import sqlite3

    from kb.index import SCHEMA, Index

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO documents (name, sha256, bytes, pages, chunks, blob_key, model, added_at) "
               "VALUES ('a.pdf', 'x', 1, 1, 0, NULL, 'm', 0)")
    db.commit()
    db.close()
    index = Index(path, 4)
    assert [d.name for d in index.documents()] == ["a.pdf"]
    with index.transaction() as tx:  # the same name in another course, and privately, next to it
        for course, owner in (("ml101", ""), ("default", "o1")):
            index.insert_document(tx, name="a.pdf", sha256="y", size=1, pages=1, blob_key=None, model="m",
                                  chunks=[], vectors=__import__("numpy").zeros((0, 4)), course=course, owner=owner)
    assert [d.sha256 for d in index.documents()] == ["x"]
    assert index.courses() == [{"course": "default", "documents": 1, "pages": 1, "chunks": 0},
                               {"course": "ml101", "documents": 1, "pages": 1, "chunks": 0}]


def test_six_concurrent_chat_uploads_of_the_same_pdf_are_indexed_once(world):
    """Six web-chat sessions send the same bytes at the same moment: read and embedded once, then
    indexed privately for each session (each asks about it; none sees another's, the course is unchanged)."""
    settings, services, router, app = world
    kb = services.kb
    real, calls = kb.embedder, []

    class Counting:
        dim, model_id = real.dim, real.model_id

        @staticmethod
        def embed(texts):
            calls.append(len(texts))
            return real.embed(texts)

        embed_one = staticmethod(real.embed_one)

    kb.embedder = Counting()
    data = render(OWN_NOTES)
    sessions = [client(app) for _ in range(6)]
    start = threading.Barrier(6)
    replies: dict[int, dict] = {}

    def upload(i: int) -> None:
        start.wait()
        replies[i] = post(sessions[i], "", ("zebra-notes.pdf", data))

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(replies) == list(range(6))
    assert all("for this conversation only" in r["text"] for r in replies.values()), replies
    assert len(calls) == 1, calls  # the chunks of the one PDF were embedded once
    assert [d["name"] for d in kb.list()] == ["08-aws-lambda.pdf"]
    for c in sessions:
        mine = post(c, "what does the course say about the plains zebra?")
        assert "zebra-notes.pdf (your file)" in sources(mine)
    assert "East Africa" not in post(client(app), "what does the course say about the plains zebra?")["text"]


def test_chat_uploads_are_deleted_after_the_upload_ttl_with_their_blobs(home, monkeypatch):
    """COURSEBOT_UPLOAD_TTL_HOURS decides when a student's PDF goes: before, it is answered; after,
    the next question finds it gone, and its stored PDF (and any parked copy) is deleted."""
    import types

    import kb.local as kb_local
    from bot.roles import owner_of
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Attachment, Turn

    monkeypatch.setenv("COURSEBOT_UPLOAD_TTL_HOURS", "2")
    settings = load(home=home, backend="local")
    assert settings.upload_ttl_hours == 2
    services = Services(settings)
    services.kb.ingest_bytes("08-aws-lambda.pdf", render(LAMBDA))
    router = Router(services)
    pdf = render(OWN_NOTES)
    added = router.handle(Turn(conversation="ttl-1", attachments=(
        Attachment(name="mine.pdf", mime="application/pdf", data=pdf, size=len(pdf)),)))
    assert "for this conversation only" in added.text
    [(_, owner, name, blob)] = services.kb.index.expired(time.time() + 2 * 3600 + 5)
    assert (owner, name) == (owner_of("ttl-1"), "mine.pdf") and blob and services.blobs.exists(blob)
    assert services.kb.index.expired(time.time() + 2 * 3600 - 60) == []  # not before the TTL

    question = "what does the course say about the plains zebra?"
    assert "East Africa" in router.handle(Turn(conversation="ttl-1", text=question)).text
    later = time.time() + 2 * 3600 + 60
    monkeypatch.setattr(kb_local, "time", types.SimpleNamespace(time=lambda: later))
    gone = router.handle(Turn(conversation="ttl-1", text=question))
    assert "East Africa" not in gone.text and all("mine.pdf" not in c.source for c in gone.citations)
    assert not services.blobs.exists(blob) and services.kb.index.expired(later + 10 ** 6) == []
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf"]  # the course stays


def test_an_instructors_parked_pdf_copy_is_deleted_once_the_choice_is_made(world):
    settings, services, router, app = world
    teacher = client(app)
    teacher.get("/?instructor=s3cret-instructor-token", follow_redirects=False)
    asked = post(teacher, "", ("09-kinesis.pdf", render(NEW_LECTURE)))
    assert asked["elicit_slot"] == "upload_scope"
    conversation = services.conversations.load(asked["conversation"])
    [(_, key)] = conversation.extra["pending_pdfs"]
    assert services.blobs.exists(key)
    assert "to the course" in post(teacher, "Add to the course")["text"]
    assert not services.blobs.exists(key)


def test_serve_prints_a_random_instructor_link_per_run_and_honours_the_token_setting(home, monkeypatch, serve_cli):
    """`coursebot serve` prints the instructor link like a notebook server: opening it makes that browser
    the instructor (a PDF it attaches is asked about); another run has another token; with
    COURSEBOT_INSTRUCTOR_TOKEN set the token is never printed, and that token is the one honoured."""
    seen = {}

    def serve() -> str:
        out, seen["app"] = serve_cli()
        return out

    def attach(c: TestClient) -> dict:
        return post(c, "", ("09-kinesis.pdf", render(NEW_LECTURE)))

    out = serve()
    link = re.search(r"instructor link \(keep it private\): (http://127\.0\.0\.1:\d+)/\?instructor=([\w-]{20,})", out)
    assert link, out
    token = link.group(2)
    with TestClient(seen["app"], base_url=link.group(1)) as teacher, TestClient(seen["app"], base_url=link.group(1)) as anyone:
        assert teacher.get(f"/?instructor={token}", follow_redirects=False).status_code == 303
        assert attach(teacher)["elicit_slot"] == "upload_scope"
        assert "for this conversation only" in attach(anyone)["text"]
    assert token not in serve()  # a fresh token per run

    monkeypatch.setenv("COURSEBOT_INSTRUCTOR_TOKEN", "set-by-the-instructor-456")
    out = serve()
    assert "set-by-the-instructor-456" not in out and "?instructor=<the instructor token you set>" in out
    with TestClient(seen["app"], base_url="http://127.0.0.1") as teacher:
        teacher.get(f"/?instructor={token}", follow_redirects=False)  # the old random one no longer counts
        assert "for this conversation only" in attach(teacher)["text"]
        teacher.get("/?instructor=set-by-the-instructor-456", follow_redirects=False)
        assert attach(teacher)["elicit_slot"] == "upload_scope"
