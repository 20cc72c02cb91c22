"""Courses and roles through the Lex code hook: real-shaped events (tests/fixtures/lex/courses/), every
response validated against botocore's lexv2-runtime model.

An instructor's client sends the instructor token as a request attribute and a PDF as its s3:// link
(S3 is moto); the code hook asks "add to the course or just for you?" with the upload_scope slot and
honours the answer. A student is never asked. The ``course`` session attribute is checked against
the course list: an unknown course is a plain question, never a crash.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.channels import lex
from kb.sample import render
from test_lex_channel import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "lex" / "courses"
BUCKET = "coursebot-pdfs-test"
TOKEN = "fixture-instructor-token"  # the token the fixtures' instructor client sends
LINK = f"s3://{BUCKET}/incoming/09-kinesis.pdf"

LAMBDA = """# AWS Lambda

## Limits
AWS Lambda runs functions without servers. A Lambda function can run for at most 15 minutes per invocation.
"""
KINESIS = """# Amazon Kinesis

## Streams
Amazon Kinesis Data Streams keeps records for 24 hours by default, and up to 365 days.
"""
RIDGE = """# Regularization

## Ridge
In ridge regression, lambda is the penalty weight that shrinks the coefficients towards zero.
"""
TREES = """# Decision trees

## Splits
A decision tree splits the data on the feature that best separates the classes.
"""


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def world(home, monkeypatch):
    """A local-backend router whose linked files are read from a (moto) S3 bucket of this bot."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    from moto import mock_aws

    from bot.aws.s3 import S3Files
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load as load_settings

    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="incoming/09-kinesis.pdf", Body=render(KINESIS))
        settings = load_settings(home=home, backend="local", instructor_token=TOKEN, kb_chat_ingest_wait_seconds=60)
        services = Services(settings, overrides={"remote_files": S3Files(s3, buckets=(BUCKET,))})
        services.kb.ingest_bytes("08-aws-lambda.pdf", render(LAMBDA))
        yield Router(services), services, s3


def call(router, event: dict[str, Any]) -> dict[str, Any]:
    response = lex.handle_event(event, router=router, budget=60)
    assert_valid(response, event)
    return response


def texts(response: dict[str, Any]) -> str:
    return "\n".join(m.get("content", "") for m in response["messages"] if m["contentType"] == "PlainText")


def buttons(response: dict[str, Any]) -> list[str]:
    return [b["value"] for m in response["messages"] if m["contentType"] == "ImageResponseCard"
            for b in m["imageResponseCard"].get("buttons", [])]


def carry(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The next event of the same session: Lex sends back the session attributes the hook returned."""
    event = copy.deepcopy(event)
    event["sessionState"]["sessionAttributes"] = {**event["sessionState"]["sessionAttributes"],
                                                  **response["sessionState"]["sessionAttributes"]}
    return event


def ask(router, question: str, session: str, **attrs: str) -> dict[str, Any]:
    event = load("course_attribute_question_fulfillment")
    event["sessionId"] = session
    event["inputTranscript"] = question
    event["sessionState"]["sessionAttributes"] = dict(attrs)
    for where in (event["sessionState"]["intent"], event["interpretations"][0]["intent"]):
        where["slots"]["question"]["value"] = {"originalValue": question, "interpretedValue": question,
                                               "resolvedValues": []}
    return call(router, event)


def sources(response: dict[str, Any]) -> str:
    return next((m["content"] for m in response["messages"] if m.get("content", "").startswith("Sources:")), "")


# --- an instructor's PDF: the upload_scope slot ------------------------------------------------------
def test_an_instructors_pdf_link_elicits_upload_scope_and_add_to_the_course_is_honoured(world):
    router, services, _ = world
    first = call(router, load("instructor_pdf_link_fulfillment"))
    state = first["sessionState"]
    assert state["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "upload_scope"}
    assert "add this PDF to the course for everyone, or just for you" in texts(first)
    assert buttons(first) == ["Add to the course", "Just for me"]
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf"]  # nothing added before the answer

    dialog = call(router, carry(load("upload_scope_answer_dialog"), first))
    assert dialog["sessionState"]["dialogAction"]["type"] == "Delegate"
    done = call(router, carry(load("upload_scope_answer_fulfillment"), first))
    assert done["sessionState"]["dialogAction"]["type"] == "Close"
    assert done["sessionState"]["intent"]["state"] == "Fulfilled"
    assert "I added '09-kinesis.pdf' to the course" in texts(done), texts(done)
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf", "09-kinesis.pdf"]

    other = ask(router, "how long does kinesis keep records?", "us-east-1:11111111-2222-4333-8444-555555555555")
    assert "24 hours" in texts(other) and "09-kinesis.pdf" in sources(other)


def test_just_for_me_keeps_the_instructors_pdf_in_the_session(world):
    router, services, _ = world
    first = call(router, load("instructor_pdf_link_fulfillment"))
    answer = load("upload_scope_answer_fulfillment")
    for where in (answer["sessionState"]["intent"], answer["interpretations"][0]["intent"]):
        where["slots"]["upload_scope"]["value"] = {"originalValue": "just for me", "interpretedValue": "just for me",
                                                   "resolvedValues": []}
    answer["inputTranscript"] = "just for me"
    done = call(router, carry(answer, first))
    assert "for this conversation only" in texts(done) and "The course itself is unchanged" in texts(done)
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf"]

    session = load("instructor_pdf_link_fulfillment")["sessionId"]
    mine = ask(router, "how long does kinesis keep records?", session,
               **first["sessionState"]["sessionAttributes"])
    assert "24 hours" in texts(mine) and "09-kinesis.pdf (your file)" in sources(mine)
    other = ask(router, "how long does kinesis keep records?", "us-east-1:11111111-2222-4333-8444-555555555555")
    assert "24 hours" not in texts(other) and "09-kinesis" not in sources(other)


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x"])
def test_a_student_sending_a_pdf_link_is_never_asked_and_it_stays_private(world, token):
    router, services, _ = world
    event = load("instructor_pdf_link_fulfillment")
    event["requestAttributes"] = {} if token is None else {"coursebot_instructor": token}
    reply = call(router, event)
    assert reply["sessionState"]["dialogAction"]["type"] == "Close"
    assert "for this conversation only" in texts(reply), texts(reply)
    assert [d["name"] for d in services.kb.list()] == ["08-aws-lambda.pdf"]


def test_without_a_configured_token_nobody_is_an_instructor_in_lex(home):
    event = load("instructor_pdf_link_fulfillment")
    assert lex.to_turn(event, instructor_token=None).role == "student"
    assert lex.to_turn(event, instructor_token="").role == "student"
    assert lex.to_turn(event, instructor_token=TOKEN).role == "instructor"
    # the token counts only as a request attribute (per request); a session attribute is the client's to set
    event["sessionState"]["sessionAttributes"]["coursebot_instructor"] = TOKEN
    event["requestAttributes"] = {}
    assert lex.to_turn(event, instructor_token=TOKEN).role == "student"


def test_a_pdf_link_is_an_attachment_and_not_the_question(home):
    event = load("instructor_pdf_link_fulfillment")
    turn = lex.to_turn(event)
    assert [(a.name, a.url, a.kind) for a in turn.attachments] == [("09-kinesis.pdf", LINK, "pdf")]
    with_question = f"{LINK} what does chapter 2 say about shards?"
    turn = lex.to_turn({**event, "inputTranscript": with_question})
    from intents.ask_course_pdfs import fill_slots
    from bot.conversation import Conversation

    slots = fill_slots(turn, {"question": with_question}, Conversation())
    assert slots["question"] == "what does chapter 2 say about shards?"
    assert lex.to_turn({**event, "inputTranscript": "s3://coursebot-pdfs-test/a.pdf.exe"}).attachments == ()


def test_links_to_other_buckets_or_other_conversations_files_are_refused(world):
    router, services, s3 = world
    from bot.roles import owner_of

    theirs = f"s3://{BUCKET}/uploads/{owner_of('lex-someone-else')}/secret.pdf"
    s3.put_object(Bucket=BUCKET, Key=theirs.split("/", 3)[3], Body=render(TREES))
    for link, words in ((theirs, "someone else's file"), ("s3://not-our-bucket/x.pdf", "uploaded to this course")):
        event = load("instructor_pdf_link_fulfillment")
        event["inputTranscript"] = link
        event["requestAttributes"] = {}
        reply = call(router, event)
        assert words in texts(reply) and "Traceback" not in texts(reply), texts(reply)
    found = services.kb.search("decision tree splits", 3, owner=owner_of("lex-" + event["sessionId"]))
    assert all("secret" not in p.source for p in found)


# --- the course session attribute ----------------------------------------------------------------------
@pytest.fixture
def two_courses(world):
    router, services, s3 = world
    services.kb.ingest_bytes("ridge.pdf", render(RIDGE), course="stats")
    services.kb.ingest_bytes("trees.pdf", render(TREES), course="ml101")
    return router, services


def test_the_course_attribute_picks_the_course(two_courses):
    router, _ = two_courses
    reply = call(router, load("course_attribute_question_fulfillment"))
    assert "penalty weight" in texts(reply) and "ridge.pdf" in sources(reply)
    ml = ask(router, "what does a decision tree split on?", "us-east-1:22222222-3333-4444-8555-666666666666",
             course="ml101")
    assert "trees.pdf" in sources(ml) and "ridge.pdf" not in sources(ml)


@pytest.mark.parametrize("attribute", ["nosuch", "NoSuch", "../../etc/passwd", "x" * 500, "ml 101", ""])
def test_an_unknown_course_attribute_is_a_plain_question_never_a_crash(two_courses, attribute):
    router, _ = two_courses
    reply = ask(router, "what is lambda in ridge regression?", "us-east-1:33333333-4444-4555-8666-777777777777",
                course=attribute)
    state = reply["sessionState"]
    assert state["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "course"}  # a slot the bot has
    assert "Which course is this about? default, ml101, stats." in texts(reply)
    if attribute.lower() == "nosuch":
        assert "I don't know the course 'nosuch'" in texts(reply)
    assert set(buttons(reply)) == {"default", "ml101", "stats"}


def test_the_answer_to_the_course_slot_is_used_and_remembered(two_courses):
    router, _ = two_courses
    event = load("course_answer_fulfillment")  # the session attribute still names an unknown course
    reply = call(router, event)
    assert "penalty weight" in texts(reply) and "ridge.pdf" in sources(reply)
    again = ask(router, "what is lambda in ridge regression?", event["sessionId"], course="nosuch",
                **reply["sessionState"]["sessionAttributes"])
    assert again["sessionState"]["dialogAction"]["type"] == "Close" and "ridge.pdf" in sources(again)


def test_an_unknown_course_with_one_course_answers_from_it(world):
    router, _, _ = world
    reply = ask(router, "How long can a Lambda function run?", "us-east-1:44444444-5555-4666-8777-888888888888",
                course="nosuch")
    assert reply["sessionState"]["dialogAction"]["type"] == "Close"
    assert "15 minutes" in texts(reply) and "08-aws-lambda.pdf" in sources(reply)


def test_the_stack_gives_the_lex_function_the_instructor_token_and_nobody_else():
    from bot.aws.stack import build_template
    from bot.settings import load as load_settings

    template = build_template()
    assert template["Resources"]["LexFunction"]["Properties"]["Environment"]["Variables"][
        "COURSEBOT_INSTRUCTOR_TOKEN"] == {"Ref": "InstructorToken"}
    assert "COURSEBOT_INSTRUCTOR_TOKEN" not in template["Resources"]["SlackFunction"]["Properties"]["Environment"]["Variables"]
    param = template["Parameters"]["InstructorToken"]
    assert param["NoEcho"] is True and param["Default"] == ""
    # the parameter's empty default reaches the function as an empty token: nobody is an instructor
    event = load("instructor_pdf_link_fulfillment")
    event["requestAttributes"] = {"coursebot_instructor": ""}
    assert lex.to_turn(event, instructor_token=load_settings(instructor_token="").instructor_token).role == "student"
