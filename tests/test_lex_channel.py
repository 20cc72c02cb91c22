"""Lex V2 code hook: real-shaped events in tests/fixtures/lex/, responses validated against botocore's
lexv2-runtime SessionState and Message shapes plus the Lex limits (1-1024 chars, <= 10 messages,
SSML for speech without URLs, small session attributes)."""

from __future__ import annotations

import io
import json
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from bot.channels import lex
from bot.router import Router
from bot.specs import Intent
from bot.turn import Citation, Media, Reply

FIXTURES = Path(__file__).parent / "fixtures" / "lex"
MODEL = botocore.session.get_session().get_service_model("lexv2-runtime")
SESSION_STATE = MODEL.shape_for("SessionState")
MESSAGE = MODEL.shape_for("Message")


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def all_fixtures() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


# --- validation against the service model ------------------------------------------------------------
def shape_errors(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Everything botocore's model says about ``value``: types, required and unknown keys, enums,
    min/max lengths and ranges (ParamValidator checks most of this, but not enums or max)."""
    t, md = shape.type_name, shape.metadata
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        errors = [f"{path}.{k}: required" for k in shape.required_members if k not in value]
        for k, v in value.items():
            if k not in shape.members:
                errors.append(f"{path}.{k}: unknown key")
            else:
                errors += shape_errors(v, shape.members[k], f"{path}.{k}")
        return errors
    if t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        errors = [f"{path}: {len(value)} items outside {md.get('min', 0)}..{md.get('max', 'inf')}"
                  for _ in [0] if len(value) < md.get("min", 0) or len(value) > md.get("max", 10**9)]
        for i, v in enumerate(value):
            errors += shape_errors(v, shape.member, f"{path}[{i}]")
        return errors
    if t == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        errors = []
        for k, v in value.items():
            errors += shape_errors(k, shape.key, f"{path}<key {k!r}>") + shape_errors(v, shape.value, f"{path}.{k}")
        return errors
    if t == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        errors = []
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.enum}")
        if not md.get("min", 0) <= len(value) <= md.get("max", 10**9):
            errors.append(f"{path}: length {len(value)} outside {md.get('min', 0)}..{md.get('max', 'inf')}")
        return errors
    if t in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok and md.get("min", -10**18) <= value <= md.get("max", 10**18) else [f"{path}: bad integer {value!r}"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    return []


def assert_valid(response: dict[str, Any], event: Any = None) -> None:
    """The response is a valid Lex V2 code-hook response and follows our rules."""
    assert set(response) <= {"sessionState", "messages", "requestAttributes"}, response.keys()
    state = response["sessionState"]
    messages = response.get("messages", [])
    validator = ParamValidator()
    report = validator.validate(state, SESSION_STATE)
    assert not report.has_errors(), report.generate_report()
    assert shape_errors(state, SESSION_STATE) == []
    for m in messages:
        report = validator.validate(m, MESSAGE)
        assert not report.has_errors(), report.generate_report()
        assert shape_errors(m, MESSAGE) == []
    assert len(messages) <= lex.MAX_MESSAGES
    for m in messages:
        if m["contentType"] == "ImageResponseCard":
            assert m["imageResponseCard"]["title"]
            assert len(m["imageResponseCard"].get("buttons", [])) <= 5
        else:
            assert 1 <= len(m["content"]) <= 1024, len(m["content"])

    action = state["dialogAction"]["type"]
    intent = state["intent"]
    if action == "Close":
        assert intent["state"] in ("Fulfilled", "Failed")
        assert 1 <= len(messages) <= 10
    elif action == "ElicitSlot":
        assert intent["state"] == "InProgress"
        from intents import registry

        spec = registry()[intent["name"]].spec
        assert spec.slot(state["dialogAction"]["slotToElicit"]) is not None
        assert messages
    else:
        assert action == "Delegate" and not messages

    # small session attributes: our conversation key and nothing else
    attrs = state["sessionAttributes"]
    assert list(attrs) == [lex.SESSION_KEY] and 0 < len(attrs[lex.SESSION_KEY]) <= 200

    speech = isinstance(event, dict) and event.get("inputMode") in ("Speech", "DTMF")
    kinds = [m["contentType"] for m in messages]
    if speech and messages:
        assert kinds[0] == "SSML" and set(kinds) <= {"SSML", "CustomPayload"}, kinds
        for m in messages:
            if m["contentType"] == "SSML":
                root = ET.fromstring(m["content"])  # well-formed XML
                assert root.tag == "speak"
                spoken = "".join(root.itertext())
                assert "http" not in spoken and "www." not in spoken, spoken
                assert len(spoken) <= 350 + 60
            else:
                json.loads(m["content"])
    else:
        assert "SSML" not in kinds


# --- every fixture -------------------------------------------------------------------------------------
# fixture -> (dialog action, intent name, intent state, slot to elicit, text the first message contains)
EXPECTED = {
    "greeting_text_fulfillment": ("Close", "Greeting", "Fulfilled", None, "I'm coursebot"),
    "greeting_speech_fulfillment": ("Close", "Greeting", "Fulfilled", None, "coursebot"),
    "help_text_fulfillment_old_confidence": ("Close", "Help", "Fulfilled", None, "Here is what I can do"),
    "help_speech_fulfillment_old_confidence": ("Close", "Help", "Fulfilled", None, "Here is what I can do"),
    "fallback_text_fulfillment": ("Close", "FallbackIntent", "Fulfilled", None, "didn't catch that"),
    "fallback_dtmf_fulfillment": ("Close", "FallbackIntent", "Fulfilled", None, "catch that"),
    "ask_course_pdfs_text_dialog": ("Delegate", "AskCoursePdfs", None, None, None),
    # an empty course KB (isolated COURSEBOT_HOME): a grounded "not found", never an invented answer (issue 3)
    "ask_course_pdfs_text_fulfillment": ("Close", "AskCoursePdfs", "Fulfilled", None, "not in the course PDFs"),
    "ask_course_pdfs_speech_fulfillment_old_confidence": ("Close", "AskCoursePdfs", "Fulfilled", None,
                                                         "not in the course PDFs"),
    "summarize_text_text_dialog_missing_slot": ("ElicitSlot", "SummarizeText", "InProgress", "text", "What text should I summarize?"),
    "summarize_text_text_dialog_filled": ("Delegate", "SummarizeText", None, None, None),
    "summarize_text_text_fulfillment": ("Close", "SummarizeText", "Fulfilled", None, "Summary: Amazon Polly turns text"),
    "describe_photo_text_dialog_missing_slot": ("ElicitSlot", "DescribePhoto", "InProgress", "image", "Please attach the photo"),
    "describe_photo_speech_dialog_missing_slot": ("ElicitSlot", "DescribePhoto", "InProgress", "image", "Please attach the photo"),
    # Lex carries no file: a slot value that is no S3 link and no photo of this conversation (issue 5)
    "describe_photo_text_fulfillment": ("Close", "DescribePhoto", "Failed", None, "I can't find a photo called 'photo-123.jpg'"),
    "speak_answer_text_dialog_missing_slot": ("ElicitSlot", "SpeakAnswer", "InProgress", "text", "What should I read aloud?"),
    "speak_answer_speech_dialog_missing_slot": ("ElicitSlot", "SpeakAnswer", "InProgress", "text", "What should I read aloud?"),
    # the offline engine has no voice named Joanna (Polly's); on the local backend that is a clear failure
    "speak_answer_text_fulfillment": ("Close", "SpeakAnswer", "Failed", None, "no voice called 'Joanna'"),
    "generate_image_text_dialog_missing_slot": ("ElicitSlot", "GenerateImage", "InProgress", "prompt", "What should the picture show?"),
    "generate_image_text_dialog_filled": ("Delegate", "GenerateImage", None, None, None),
    # no offline image model: one plain sentence (the settings that enable it go to the log and doctor)
    "generate_image_speech_fulfillment": ("Close", "GenerateImage", "Failed", None, "can't draw pictures"),
    "unknown_intent_text_fulfillment": ("Close", "BookHotel", "Fulfilled", None, "didn't catch that"),
    "malformed_missing_session_state": ("Close", "FallbackIntent", "Fulfilled", None, "didn't catch that"),
    "malformed_null_interpretations_and_slots": ("Close", "Greeting", "Fulfilled", None, "I'm coursebot"),
    "malformed_bad_confidence_and_slot_shapes": ("ElicitSlot", "SummarizeText", "InProgress", "text", "What text should I summarize?"),
    "malformed_overlong_transcript": ("Close", "FallbackIntent", "Fulfilled", None, "didn't catch that"),
    "malformed_null_intent_unknown_source": ("Close", "FallbackIntent", "Fulfilled", None, "didn't catch that"),
    "list_slot_speak_answer_dialog": ("Delegate", "SpeakAnswer", None, None, None),
    "session_key_greeting_text_fulfillment": ("Close", "Greeting", "Fulfilled", None, "You're welcome"),
    # a new session has no answer to rate yet: the reply says what to do first (rating flows: test_insight_channels)
    "feedback_text_fulfillment": ("Close", "Feedback", "Fulfilled", None, "no answer of mine to rate yet"),
    "feedback_speech_fulfillment": ("Close", "Feedback", "Fulfilled", None, "no answer of mine to rate yet"),
    # an empty course: nothing to quiz on (a whole quiz over Lex: tests/test_quiz_me.py)
    "quiz_me_text_fulfillment": ("Close", "QuizMe", "Fulfilled", None, "no PDFs yet, so I have nothing to quiz"),
    # a spoken answer with no quiz going on in this session
    "quiz_me_speech_fulfillment": ("Close", "QuizMe", "Fulfilled", None, "no quiz going on"),
}


@pytest.fixture
def shared_router(router, monkeypatch):
    """lambda_handler's process-wide router, replaced by one on an isolated COURSEBOT_HOME."""
    monkeypatch.setattr(lex.handler, "_router", router)
    return router


def test_every_fixture_has_an_expectation():
    assert sorted(EXPECTED) == all_fixtures()


def test_fixtures_cover_every_intent_in_text_and_speech_dialog_and_fulfillment():
    from bot.channels.lex.definition import build

    events = [load(n) for n in all_fixtures()]
    names = {e["sessionState"]["intent"]["name"] for e in events if (e.get("sessionState") or {}).get("intent")}
    assert {i.name for i in build().intents} <= names
    assert {e.get("inputMode") for e in events} >= {"Text", "Speech", "DTMF"}
    assert {e.get("invocationSource") for e in events} >= {"DialogCodeHook", "FulfillmentCodeHook"}
    shapes = {type((i or {}).get("nluConfidence")).__name__ for e in events for i in (e.get("interpretations") or [])}
    assert {"float", "dict"} <= shapes  # the current number and the older {"score": n}


@pytest.mark.parametrize("name", all_fixtures())
def test_fixture_response(name, shared_router):
    event = load(name)
    response = lex.lambda_handler(event, None)
    assert_valid(response, event)
    action, intent, state, slot, text = EXPECTED[name]
    s = response["sessionState"]
    assert s["dialogAction"]["type"] == action
    assert s["intent"]["name"] == intent
    assert s["intent"].get("state") == state
    assert s["dialogAction"].get("slotToElicit") == slot
    if text:
        assert text.replace("'", "&apos;" if response["messages"][0]["contentType"] == "SSML" else "'") \
            in response["messages"][0]["content"]
    json.dumps(response)  # plain JSON, as Lambda returns it


def test_session_key_is_our_own_signed_key_and_client_attributes_do_not_leak(shared_router):
    # the fixture's client set "web-7f3a9c" itself: a key this server never issued is not honoured
    event = load("session_key_greeting_text_fulfillment")
    response = lex.lambda_handler(event, None)
    attrs = response["sessionState"]["sessionAttributes"]
    assert list(attrs) == ["coursebot_conversation"]
    key, _, mac = attrs["coursebot_conversation"].rpartition(".")
    assert key == "lex-" + event["sessionId"] and len(mac) == 22


# --- to_turn ---------------------------------------------------------------------------------------------
def test_to_turn_reads_both_confidence_shapes_and_slots():
    new = lex.to_turn(load("ask_course_pdfs_text_fulfillment"))
    old = lex.to_turn(load("ask_course_pdfs_speech_fulfillment_old_confidence"))
    assert (new.intent, new.confidence, new.input_mode, new.channel) == ("AskCoursePdfs", 0.87, "text", "lex")
    assert (old.intent, old.confidence, old.input_mode) == ("AskCoursePdfs", 0.79, "speech")
    assert new.conversation == "lex-us-east-1:4b1c2d3e-5f60-4718-89ab-cdef01234567"
    assert new.slots == {}  # a null slot is not a value
    filled = lex.to_turn(load("summarize_text_text_fulfillment"))
    assert filled.slots == {"text": "Amazon Polly turns text into lifelike speech using deep learning."}
    listed = lex.to_turn(load("list_slot_speak_answer_dialog"))
    assert listed.slots == {"text": "hello world", "language": ["French", "Spanish"]}


def test_to_turn_maps_fallback_and_unknown_names_and_tolerates_garbage():
    assert lex.to_turn(load("fallback_text_fulfillment")).intent == "Fallback"
    unknown = lex.to_turn(load("unknown_intent_text_fulfillment"))
    assert (unknown.intent, unknown.confidence) == ("Fallback", 0.0)
    bad = lex.to_turn(load("malformed_bad_confidence_and_slot_shapes"))
    assert bad.confidence is None and bad.slots == {}
    assert len(lex.to_turn(load("malformed_overlong_transcript")).text) == 1024
    for garbage in (None, [], "text", 42, {"sessionState": "x"}, {"sessionState": {"intent": "x"}},
                    {"interpretations": [None, 1, {"intent": None, "nluConfidence": {"score": "nan"}}]}):
        turn = lex.to_turn(garbage)
        assert turn.intent == "Fallback" and turn.channel == "lex" and turn.conversation


# --- the handler never raises ----------------------------------------------------------------------------
@pytest.mark.parametrize("event", [None, [], "just a string", 42, {}, {"sessionState": None},
                                   {"sessionState": {"intent": {"name": None, "slots": "x"}}},
                                   {"invocationSource": "DialogCodeHook", "sessionState": {"intent": {"name": "SpeakAnswer"}}},
                                   {"inputMode": "Speech", "inputTranscript": None, "interpretations": "x"}])
def test_garbage_events_get_valid_responses(event, shared_router):
    response = lex.lambda_handler(event, None)
    assert_valid(response, event)


def test_a_crashing_router_still_gives_a_valid_failed_close(monkeypatch):
    def broken():
        raise RuntimeError("boom: arn:aws:dynamodb:secret")

    monkeypatch.setattr(lex.handler, "get_router", broken)
    event = load("greeting_text_fulfillment")
    response = lex.lambda_handler(event, None)
    assert_valid(response, event)
    assert response["sessionState"]["intent"]["state"] == "Failed"
    assert response["messages"][0]["content"] == lex.INTERNAL_ERROR  # no exception text, no ARN


# --- fulfilled paths with fakes ------------------------------------------------------------------------------
class RecordingIntent:
    """A fake handler that records the turns it gets and answers with a prepared Reply."""

    def __init__(self, reply: Reply, delay: float = 0.0):
        self.reply, self.delay, self.turns, self.slots = reply, delay, [], []
        self.release = threading.Event()

    def __call__(self, turn, ctx):
        self.turns.append(turn)
        self.slots.append(dict(ctx.slots))
        if self.delay:
            self.release.wait(self.delay)
        return self.reply


def router_with(services, name: str, fake: RecordingIntent) -> Router:
    from intents import registry

    real = registry()[name]
    return Router(services, intents={**registry(), name: Intent(spec=real.spec, handle=fake, fill_slots=real.fill_slots)})


LONG = " ".join(f"Sentence {i} explains how Amazon Lex uses intents, slots and code hooks, see **page {i}** [1]."
                for i in range(200))  # ~18,000 characters: more than 10 messages hold
RICH = Reply(
    text=LONG, intent="AskCoursePdfs",
    citations=(Citation("lex-guide.pdf", 12, "https://course.example.org/lex-guide.pdf#page=12"), Citation("notes.pdf", 3)),
    attachments=(Media("audio", "audio/mpeg", url="https://media.example.org/a.mp3?X-Amz-Signature=" + "f" * 1400),
                 Media("image", "image/png", url="https://media.example.org/diagram.png", title="Diagram"),
                 Media("file", "text/plain", url="https://media.example.org/full-answer.txt", title="Full answer")),
    suggestions=("Read that aloud", "What is a slot?", "x" * 60, "What is a slot?"),
)


def test_long_rich_answer_in_text_fits_lex_limits(services):
    fake = RecordingIntent(RICH)
    event = load("ask_course_pdfs_text_fulfillment")
    response = lex.handle_event(event, router=router_with(services, "AskCoursePdfs", fake))
    assert_valid(response, event)
    messages = response["messages"]
    assert len(messages) == 10
    texts = [m.get("content", "") for m in messages]
    assert any(t.startswith("Sources:\n[1] lex-guide.pdf, page 12 https://course.example.org/lex-guide.pdf#page=12") for t in texts)
    assert "[2] notes.pdf, page 3" in next(t for t in texts if t.startswith("Sources:"))
    assert "Diagram: https://media.example.org/diagram.png" in texts
    assert any("link is longer than this chat allows" in t for t in texts)  # the 1.4 KB presigned audio URL
    cards = [m["imageResponseCard"] for m in messages if m["contentType"] == "ImageResponseCard"]
    assert {"title": "Diagram", "imageUrl": "https://media.example.org/diagram.png"} in cards
    buttons = next(c["buttons"] for c in cards if c["title"] == "You could also ask")
    assert [b["value"] for b in buttons] == ["Read that aloud", "What is a slot?"]  # >50 chars and duplicates left out
    answer = [m["content"] for m in messages[:next(i for i, t in enumerate(texts) if t.startswith("Sources:"))]]
    assert answer[0].startswith("Sentence 0 explains")
    assert answer[-1].endswith("the full text is in the link below.]")
    assert "Full answer: https://media.example.org/full-answer.txt" in texts
    assert response["sessionState"]["intent"]["state"] == "Fulfilled"
    turn = fake.turns[0]
    assert (turn.channel, turn.intent, turn.confidence, turn.input_mode) == ("lex", "AskCoursePdfs", 0.87, "text")
    assert fake.slots[0]["question"] == "what is amazon rekognition"  # filled from the utterance by the spec's filler


def test_long_rich_answer_in_speech_is_short_ssml_without_urls(services):
    fake = RecordingIntent(RICH)
    event = load("ask_course_pdfs_speech_fulfillment_old_confidence")
    response = lex.handle_event(event, router=router_with(services, "AskCoursePdfs", fake))
    assert_valid(response, event)
    ssml, payload = response["messages"]
    spoken = "".join(ET.fromstring(ssml["content"]).itertext())
    assert spoken.startswith("Sentence 0 explains how Amazon Lex uses intents, slots and code hooks, see page 0.")
    assert spoken.endswith("I've sent you the link.") and "**" not in spoken
    links = json.loads(payload["content"])["links"]
    assert {"title": "Diagram", "url": "https://media.example.org/diagram.png", "kind": "image",
            "mime": "image/png"} in links  # kind and mime tell a client how to show it
    assert all(len(link["url"]) < 1024 for link in links)
    assert fake.turns[0].confidence == 0.79  # {"score": 0.79}


def test_handler_ssml_is_used_when_short_and_linkless(services):
    reply = Reply(text="Bonjour", intent="Greeting", ssml='<speak><lang xml:lang="fr-FR">Bonjour</lang></speak>')
    event = load("greeting_speech_fulfillment")
    response = lex.handle_event(event, router=router_with(services, "Greeting", RecordingIntent(reply)))
    assert_valid(response, event)
    assert response["messages"][0]["content"] == '<speak><lang xml:lang="fr-FR">Bonjour</lang></speak>'


def test_split_text_limits():
    parts = lex.split_text("word " * 3000, 1024, 3, overflow=" [more]")
    assert len(parts) == 3 and all(1 <= len(p) <= 1024 for p in parts) and parts[-1].endswith("[more]")
    assert lex.split_text("x" * 2500, 1024, 10) == ["x" * 1024, "x" * 1024, "x" * 452]
    assert lex.split_text("   ") == ["(no answer)"]


def test_time_budget_answers_still_working(services):
    fake = RecordingIntent(Reply(text="late answer", intent="Greeting"), delay=5)
    event = load("greeting_text_fulfillment")
    started = time.perf_counter()
    try:
        response = lex.handle_event(event, router=router_with(services, "Greeting", fake), budget=0.3)
    finally:
        fake.release.set()
    assert time.perf_counter() - started < 2
    assert_valid(response, event)
    assert response["messages"][0]["content"] == lex.STILL_WORKING
    assert response["sessionState"]["dialogAction"]["type"] == "Close"
    assert response["sessionState"]["intent"]["state"] == "Failed"


def test_time_budget_respects_the_lambda_deadline():
    class Context:
        def get_remaining_time_in_millis(self):
            return 4000

    settings = type("S", (), {"lex_time_budget_seconds": 20.0})()
    assert lex.time_budget(settings) == 20.0
    assert lex.time_budget(settings, Context()) == 2.5


def test_dialog_fills_slot_from_the_conversation(services):
    """'read that aloud' after an answer: the dialog step delegates (text comes from the last answer),
    and fulfillment hands that answer to the handler."""
    answer = RecordingIntent(Reply(text="Amazon Lex builds conversational bots.", intent="AskCoursePdfs"))
    speak = RecordingIntent(Reply(text="Here is the audio.", intent="SpeakAnswer"))
    from intents import registry

    intents = dict(registry())
    for name, fake in (("AskCoursePdfs", answer), ("SpeakAnswer", speak)):
        intents[name] = Intent(spec=intents[name].spec, handle=fake, fill_slots=intents[name].fill_slots)
    router = Router(services, intents=intents)
    lex.handle_event(load("ask_course_pdfs_text_fulfillment"), router=router)

    dialog = load("speak_answer_text_dialog_missing_slot")
    response = lex.handle_event(dialog, router=router)
    assert_valid(response, dialog)
    assert response["sessionState"]["dialogAction"]["type"] == "Delegate"

    fulfil = json.loads(json.dumps(dialog))
    fulfil["invocationSource"] = "FulfillmentCodeHook"
    response = lex.handle_event(fulfil, router=router)
    assert_valid(response, fulfil)
    assert speak.slots[0]["text"] == "Amazon Lex builds conversational bots."
    assert response["messages"][0]["content"] == "Here is the audio."


# --- aws backend: conversation state in DynamoDB (moto), the table as the template defines it ----------
def test_aws_backend_keeps_conversation_state_in_dynamodb(home, monkeypatch):
    from moto import mock_aws

    from bot.aws.stack import build_template
    from bot.services import Services
    from bot.settings import load as load_settings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    table = build_template()["Resources"]["StateTable"]["Properties"]
    with mock_aws():
        import boto3

        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="coursebot-state", BillingMode=table["BillingMode"],
                         AttributeDefinitions=table["AttributeDefinitions"], KeySchema=table["KeySchema"])
        ddb.update_time_to_live(TableName="coursebot-state", TimeToLiveSpecification=table["TimeToLiveSpecification"])
        settings = load_settings(home=home, backend="aws", state_table="coursebot-state")
        router = Router(Services(settings))
        event = load("session_key_greeting_text_fulfillment")
        response = lex.handle_event(event, router=router)
        assert_valid(response, event)
        assert "Item" not in ddb.get_item(TableName="coursebot-state", Key={"pk": {"S": "web-7f3a9c"}})
        item = ddb.get_item(TableName="coursebot-state", Key={"pk": {"S": "lex-" + event["sessionId"]}})["Item"]
        assert int(item["expires"]["N"]) > time.time() + 6 * 86400
        assert json.loads(item["data"]["S"])["pending"] is None


# --- CLI ---------------------------------------------------------------------------------------------------
def test_cli_invoke_prints_the_response(home, monkeypatch):
    from bot.cli import main

    monkeypatch.setattr(lex.handler, "_router", None)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["lex", "invoke", "--event", str(FIXTURES / "help_text_fulfillment_old_confidence.json")]) == 0
    response = json.loads(out.getvalue())
    assert_valid(response, load("help_text_fulfillment_old_confidence"))
    assert response["sessionState"]["intent"]["name"] == "Help"
    monkeypatch.setattr(lex.handler, "_router", None)


def test_cli_invoke_rejects_a_missing_or_broken_file(tmp_path, capsys):
    from bot.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path in (str(bad), str(tmp_path / "missing.json")):
        with pytest.raises(SystemExit) as e:
            main(["lex", "invoke", "--event", path])
        assert e.value.code == 2
    assert "is not JSON" in capsys.readouterr().err


def test_the_rest_of_a_long_answer_goes_behind_a_link(services):
    long = Reply(text=LONG, intent="AskCoursePdfs", suggestions=("What is a slot?",))
    event = load("ask_course_pdfs_text_fulfillment")
    response = lex.handle_event(event, router=router_with(services, "AskCoursePdfs", RecordingIntent(long)))
    assert_valid(response, event)
    texts = [m.get("content", "") for m in response["messages"]]
    link = next(t for t in texts if t.startswith("Full answer: "))
    url = link.removeprefix("Full answer: ")
    assert "/l/" in url and "expires=" not in url and "sig=" not in url  # a short link, never the signed URL
    from bot import shortlinks

    status, target = shortlinks.redirect(services.links, url.rsplit("/", 1)[1])
    assert status == 302 and "expires=" in target and "sig=" in target  # to a signed expiring link
    key = target.split("/files/", 1)[1].split("?", 1)[0]
    assert services.blobs.get(key).decode() == LONG  # the full text
    assert any(t.endswith("the full text is in the link below.]") for t in texts)


def test_without_a_blob_store_a_long_answer_is_shortened_politely(settings):
    from bot.services import Services

    class NoBlobs:
        def put(self, key, data, mime):
            raise RuntimeError("bucket is gone")

    services = Services(settings, overrides={"blobs": NoBlobs()})
    long = Reply(text=LONG, intent="AskCoursePdfs")
    event = load("ask_course_pdfs_text_fulfillment")
    response = lex.handle_event(event, router=router_with(services, "AskCoursePdfs", RecordingIntent(long)))
    assert_valid(response, event)
    assert len(response["messages"]) == 10
    texts = [m["content"] for m in response["messages"] if m["contentType"] == "PlainText"]
    assert texts[-1].endswith("ask a narrower question to see more.]")


def test_short_answers_store_nothing(settings):
    from bot.services import Services

    class Recording:
        calls = 0

        def put(self, key, data, mime):
            Recording.calls += 1

    event = load("greeting_text_fulfillment")
    lex.handle_event(event, router=Router(Services(settings, overrides={"blobs": Recording()})))
    assert Recording.calls == 0


def test_bench_lex_reports_the_import_ratio():
    from bot.bench.core import bench_lex

    rows = {r.metric: r for r in bench_lex(runs=1)}
    ratio = rows["handler cold import / import boto3 (goal <= 1.5)"]
    assert ratio.unit == "x" and ratio.value > 0
    assert rows["bare import boto3"].value > 0 and rows["handler per event p50"].value > 0
