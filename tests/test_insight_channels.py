"""Feedback and insight in the channels: POST /api/feedback (204 / 404 / 400, a browser rates only its own
conversation's answers), the instructor's Insights page (token link -> cookie -> the report; 403 for anyone
else), `coursebot serve` printing the instructor link, and Lex: the Helpful / Not helpful card after course
answers and the Feedback intent through the real code hook, responses validated against the Lex model."""

from __future__ import annotations

import re

import pytest
from conftest import require_module

require_module("fastapi", "fastapi (the `web` extra)")
from fastapi.testclient import TestClient  # noqa: E402

from test_lex_channel import assert_valid, load  # noqa: E402

BASE = "http://127.0.0.1:8000"
TOKEN = "instructor-secret-token-for-tests"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Services and router over the sample course in a private home (ingested once for the module)."""
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load as load_settings
    from kb import sample

    home = tmp_path_factory.mktemp("insight-channels")
    services = Services(load_settings(home=home, backend="local", public_url=BASE))
    services.kb.ingest([str(p) for p in sample.build(home / "pdfs")])
    return services, Router(services)


@pytest.fixture(scope="module")
def app(course):
    from bot.channels.web import create_app

    services, router = course
    return create_app(services, router, instructor_token=TOKEN)


def browser(app) -> TestClient:
    return TestClient(app, base_url=BASE)


def ask(client, text):
    r = client.post("/api/turn", data={"text": text})
    assert r.status_code == 200, r.text
    return r.json()


def feedback(client, body, **kw):
    return client.post("/api/feedback", json=body, **kw)


# --- POST /api/feedback -------------------------------------------------------------------------------
def test_feedback_is_recorded_for_the_callers_own_answer_and_the_last_rating_counts(course, app):
    services, _ = course
    with browser(app) as me:
        answer = ask(me, "What is Amazon Polly used for?")
        assert answer["details"].get("found") is True and len(answer["answer_id"]) == 22
        r = feedback(me, {"answer_id": answer["answer_id"], "rating": "up"})
        assert r.status_code == 204 and r.content == b""
        r = feedback(me, {"answer_id": answer["answer_id"], "rating": "down", "comment": "  cites the wrong  page "})
        assert r.status_code == 204
    [rating] = [x for x in services.insight.ratings() if x.answer_id == answer["answer_id"]]
    assert (rating.rating, rating.comment) == ("down", "cites the wrong page")


def test_a_browser_cannot_rate_another_conversations_answer(course, app):
    services, _ = course
    with browser(app) as alice, browser(app) as mallory:
        answer = ask(alice, "What is Amazon Lex?")
        assert feedback(alice, {"answer_id": answer["answer_id"], "rating": "up"}).status_code == 204
        ask(mallory, "hello")  # mallory has a session of her own
        r = feedback(mallory, {"answer_id": answer["answer_id"], "rating": "down", "comment": "sabotage"})
        assert r.status_code == 404
        body = r.json()
        assert body["error"] == "unknown_answer" and body["state"] == "failed" and "answer" in body["text"]
        # a made-up session cookie is no way in either: it gets a fresh session of its own
        forged = browser(app)
        forged.cookies.set("coursebot_session", "x" * 24 + "." + "y" * 22)
        assert feedback(forged, {"answer_id": answer["answer_id"], "rating": "down"}).status_code == 404
        # a new conversation in the same browser is another conversation
        assert alice.post("/api/new").status_code == 204
        assert feedback(alice, {"answer_id": answer["answer_id"], "rating": "down"}).status_code == 404
    [rating] = [x for x in services.insight.ratings() if x.answer_id == answer["answer_id"]]
    assert rating.rating == "up" and rating.comment == ""  # nothing the others sent changed it


def test_unknown_answers_get_404(app):
    with browser(app) as me:
        ask(me, "hi")
        r = feedback(me, {"answer_id": "A" * 22, "rating": "up"})
        assert r.status_code == 404 and r.json()["error"] == "unknown_answer"


@pytest.mark.parametrize("body, content_type", [
    (b'{"answer_id": "%s", "rating": "meh"}', "application/json"),
    (b'{"answer_id": "%s", "rating": "down", "comment": 5}', "application/json"),
    (b'{"answer_id": "%s", "rating": "down", "comment": "' + b"x" * 600 + b'"}', "application/json"),
    (b'{"answer_id": "../../etc/passwd", "rating": "up"}', "application/json"),
    (b'{"rating": "up"}', "application/json"),
    (b'["up"]', "application/json"),
    (b"not json {", "application/json"),
    (b'{"answer_id": "%s", "rating": "up"}', "text/plain"),
    (b'{"answer_id": "%s", "rating": "up", "comment": "' + b"x" * 5000 + b'"}', "application/json"),
])
def test_bad_feedback_bodies_get_400_with_a_clear_reply(app, body, content_type):
    with browser(app) as me:
        answer = ask(me, "What is Amazon Polly used for?")
        data = body.replace(b"%s", answer["answer_id"].encode()) if b"%s" in body else body
        r = me.post("/api/feedback", content=data, headers={"Content-Type": content_type})
        assert r.status_code == 400, r.text
        reply = r.json()
        assert reply["state"] == "failed" and reply["error"] == "bad_feedback" and reply["intent"] == "Fallback"
        assert reply["text"] and "Traceback" not in reply["text"] and "COURSEBOT_" not in reply["text"]


def test_feedback_from_another_site_is_refused(app):
    with browser(app) as me:
        answer = ask(me, "What is Amazon Polly used for?")
        r = feedback(me, {"answer_id": answer["answer_id"], "rating": "down"}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error"] == "cross_origin"


def test_feedback_is_in_the_openapi_schema(app):
    with browser(app) as me:
        spec = me.get("/openapi.json").json()
    op = spec["paths"]["/api/feedback"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"answer_id", "rating", "comment"}
    assert {"204", "400", "404"} <= set(op["responses"])


# --- the Insights page ----------------------------------------------------------------------------------
def test_insights_page_for_the_instructor_and_403_for_students(course, app):
    from bot.insight.report import build

    services, _ = course
    with browser(app) as student:
        answer = ask(student, "What is Amazon Polly used for?")
        ask(student, "How do I knit a woolly scarf?")
        assert feedback(student, {"answer_id": answer["answer_id"], "rating": "down",
                                  "comment": "the <b>page</b> was wrong"}).status_code == 204
        for path in ("/insights", "/insights?token=wrong", "/insights?token="):
            r = student.get(path, follow_redirects=False)
            assert r.status_code == 403, path
            assert "instructor" in r.text and "knit" not in r.text
        student.cookies.set("coursebot_instructor", TOKEN)  # the token itself is not the cookie
        assert student.get("/insights").status_code == 403

    with browser(app) as teacher:
        r = teacher.get(f"/insights?token={TOKEN}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/insights"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and TOKEN not in cookie
        page = teacher.get("/insights")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        html = page.text
    data = build(services, course="default")
    assert f"<dd>{data['questions']['asked']}</dd>" in html  # the report's own numbers, not recomputed
    assert "knit a woolly scarf" in html and "What is Amazon Polly used for?" in html
    assert "the &lt;b&gt;page&lt;/b&gt; was wrong" in html and "<b>page</b>" not in html  # escaped
    assert html.count('<svg class="chart') == 2 and '<rect class="bar"' in html
    assert "<script" not in html and "style=" not in html  # nothing the page CSP would block
    # each question links to its PDF page through a signed /files link, as citations do
    polly = re.search(r'<a href="([^"]+)"[^>]*>What is Amazon Polly used for\?</a>', html)
    assert polly and polly.group(1).startswith("/files/") and "sig=" in polly.group(1)
    cited = answer["citations"][0]
    assert polly.group(1).endswith(f"#page={cited['page']}")
    with browser(app) as teacher_again:
        target = polly.group(1).replace("&amp;", "&")
        teacher_again.get(f"/insights?token={TOKEN}")
        pdf = teacher_again.get(target.split("#")[0])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert teacher_again.get("/insights?since=7d").status_code == 200
        assert teacher_again.get("/insights?since=nonsense").status_code == 200  # falls back to all


def test_serve_prints_an_instructor_link_that_opens_insights(home, monkeypatch, serve_cli):
    out, app = serve_cli()
    link = re.search(r"Instructor insights.*?: (http://127\.0\.0\.1:\d+)(/insights\?token=([\w-]{20,}))", out)
    assert link, out
    with TestClient(app, base_url=link.group(1)) as c:
        assert c.get("/insights").status_code == 403
        assert c.get(link.group(2)).status_code == 200
    first_token = link.group(3)
    assert first_token not in serve_cli()[0]  # a fresh token per run

    monkeypatch.setenv("COURSEBOT_INSTRUCTOR_TOKEN", "set-by-the-instructor-123")
    out, app = serve_cli()
    assert "set-by-the-instructor-123" not in out and "/insights" in out
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/insights?token=set-by-the-instructor-123").status_code == 200


# --- Lex: Helpful / Not helpful, and the Feedback intent -----------------------------------------------------
def lex_event(name, transcript, session="us-east-1:aa11bb22-cc33-4d44-8e55-ff6677889900", attributes=None):
    event = load(name)
    event["inputTranscript"] = transcript
    event["sessionId"] = session
    event["sessionState"]["sessionAttributes"] = dict(attributes or {})
    return event


@pytest.fixture
def lex_router(course, monkeypatch):
    from bot.channels import lex

    _, router = course
    monkeypatch.setattr(lex.handler, "_router", router)
    return router


def cards(response):
    return [m["imageResponseCard"] for m in response["messages"] if m["contentType"] == "ImageResponseCard"]


def test_lex_course_answer_offers_helpful_buttons_whose_values_rate_it(course, lex_router):
    from bot.channels import lex
    from intents import registry

    services, _ = course
    event = lex_event("ask_course_pdfs_text_fulfillment", "what is amazon polly used for")
    response = lex.lambda_handler(event, None)
    assert_valid(response, event)
    [card] = [c for c in cards(response) if c["title"] == "Was this answer helpful?"]
    assert [(b["text"], b["value"]) for b in card["buttons"]] == [("Helpful", "helpful"), ("Not helpful", "not helpful")]
    assert all(1 <= len(b["text"]) <= 50 and 1 <= len(b["value"]) <= 50 for b in card["buttons"])
    # a click sends the value as the utterance: each is a sample utterance of the Feedback intent in the export
    from bot.channels.lex.definition import build

    feedback_intent = next(i for i in build().intents if i.name == "Feedback")
    assert {"helpful", "not helpful"} <= set(feedback_intent.utterances)
    assert registry()["Feedback"].spec.samples == feedback_intent.utterances
    answered = [a for a in services.insight.answers() if a.question == "what is amazon polly used for"][-1]

    click = lex_event("feedback_text_fulfillment", "not helpful",
                      attributes=response["sessionState"]["sessionAttributes"])
    reply = lex.lambda_handler(click, None)
    assert_valid(reply, click)
    assert reply["sessionState"]["intent"]["name"] == "Feedback"
    assert reply["messages"][0]["content"].startswith("Thanks \u2014 I've noted that for your instructor.")
    assert "another way" in reply["messages"][0]["content"]  # the next step, not a dead end
    assert not any(c["title"] == "Was this answer helpful?" for c in cards(reply))  # no rating of the rating
    [rating] = [r for r in services.insight.ratings() if r.answer_id == answered.answer_id]
    assert rating.rating == "down" and rating.comment == ""  # a bare button value carries no comment


def test_lex_voice_that_was_wrong_rates_the_last_answer_with_its_words(course, lex_router):
    from bot.channels import lex

    services, _ = course
    session = "us-east-1:0f0e0d0c-0b0a-4909-8807-060504030201"
    event = lex_event("ask_course_pdfs_speech_fulfillment_old_confidence", "what is amazon lex", session=session)
    first = lex.lambda_handler(event, None)
    assert_valid(first, event)
    assert [m["contentType"] for m in first["messages"]][0] == "SSML"  # voice gets no card
    answered = [a for a in services.insight.answers() if a.question == "what is amazon lex"][-1]

    said = lex_event("feedback_speech_fulfillment", "that was wrong, it is about the exam date", session=session,
                     attributes=first["sessionState"]["sessionAttributes"])
    reply = lex.lambda_handler(said, None)
    assert_valid(reply, said)
    spoken = reply["messages"][0]["content"]
    assert "noted that for your instructor" in spoken and "something else" in spoken
    [rating] = [r for r in services.insight.ratings() if r.answer_id == answered.answer_id]
    assert rating.rating == "down" and rating.comment == "that was wrong, it is about the exam date"

    # another Lex session saying the same rates nothing of this one's
    other = lex_event("feedback_speech_fulfillment", "that was wrong", session="us-east-1:other-session-0001")
    reply = lex.lambda_handler(other, None)
    assert_valid(reply, other)
    assert "no answer of mine to rate yet" in reply["messages"][0]["content"].replace("&apos;", "'")


def test_lex_card_only_after_fulfilled_course_answers():
    from bot.channels.lex.adapter import text_messages
    from bot.turn import Reply

    def titles(reply):
        return [m["imageResponseCard"]["title"] for m in text_messages(reply) if m["contentType"] == "ImageResponseCard"]

    assert "Was this answer helpful?" in titles(Reply(text="Polly speaks.", intent="AskCoursePdfs"))
    assert "Was this answer helpful?" not in titles(Reply(text="Hi!", intent="Greeting"))
    assert "Was this answer helpful?" not in titles(Reply(text="Down.", intent="AskCoursePdfs", state="failed",
                                                         error="kb_unavailable"))
    assert "Was this answer helpful?" not in titles(Reply(text="Which?", intent="AskCoursePdfs", state="elicit",
                                                         elicit_slot="question"))


# --- the Feedback intent in the other channels (our NLU) --------------------------------------------------------
def test_typed_feedback_in_the_web_chat_rates_the_last_answer(course, app):
    services, _ = course
    with browser(app) as me:
        answer = ask(me, "What is Amazon Rekognition?")
        reply = ask(me, "that was not helpful")
        assert reply["intent"] == "Feedback" and reply["details"]["rated"] == answer["answer_id"]
        assert reply["text"].startswith("Thanks \u2014 I've noted that")
        again = ask(me, "helpful")  # the rating was no answer: it still rates the course answer
        assert again["details"]["rated"] == answer["answer_id"] and again["details"]["rating"] == "up"
    [rating] = [r for r in services.insight.ratings() if r.answer_id == answer["answer_id"]]
    assert rating.rating == "up"


# --- links to course pages on both backends ------------------------------------------------------------------
def test_page_links_on_the_aws_backend_are_presigned_s3_links(monkeypatch):
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    from bot.settings import load as load_settings
    from kb.bedrock import BedrockKnowledgeBase

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="course-pdfs")
        runtime = boto3.client("bedrock-agent-runtime", region_name="us-east-1")
        kb = BedrockKnowledgeBase(load_settings(backend="aws", pdf_bucket="course-pdfs", pdf_prefix="pdfs"), runtime,
                                  s3=s3)
        url = kb.page_link("02-amazon-polly.pdf", 7)
        assert url.startswith("https://course-pdfs.s3") and "/pdfs/02-amazon-polly.pdf?" in url
        assert "X-Amz-Signature=" in url and url.endswith("#page=7")
        assert kb.page_link("../other-bucket/x.pdf", 1) is None  # a source names a PDF, never a path
        unset = BedrockKnowledgeBase(load_settings(backend="aws"), runtime, s3=s3)
        assert unset.page_link("02-amazon-polly.pdf", 7) is None


def test_page_links_on_the_local_backend_are_signed_files_links(course):
    services, _ = course
    url = services.kb.page_link("02-amazon-polly.pdf", 2)
    assert url.startswith(BASE + "/files/") and "sig=" in url and url.endswith("#page=2")
    assert services.kb.page_link("no-such.pdf", 2) is None


def test_insights_page_switches_between_courses_and_refuses_unknown_ones(tmp_path):
    from bot.channels.web import create_app
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load as load_settings
    from kb.sample import render as render_pdf

    services = Services(load_settings(home=tmp_path / "home", backend="local", public_url=BASE))
    services.kb.ingest_bytes("ridge.pdf", render_pdf(
        "# Regularization\n\n## Ridge\nIn ridge regression, lambda is the penalty weight that shrinks the coefficients."),
        course="stats")
    services.kb.ingest_bytes("lambda.pdf", render_pdf(
        "# AWS Lambda\n\n## Limits\nA Lambda function can run for at most 15 minutes per invocation."))
    router = Router(services)
    app = create_app(services, router, instructor_token=TOKEN)
    with browser(app) as student:
        r = student.post("/api/turn", data={"text": "what does lambda do in ridge regression?", "course": "stats"})
        assert r.status_code == 200 and "ridge.pdf" in r.text
    with browser(app) as student:
        ask(student, "How do I knit a woolly scarf?")
    with browser(app) as teacher:
        assert teacher.get(f"/insights?token={TOKEN}", follow_redirects=False).status_code == 303
        default = teacher.get("/insights").text
        assert 'aria-label="Course"' in default and 'href="/insights?course=stats"' in default
        assert "knit" in default and "ridge.pdf" not in default
        stats = teacher.get("/insights?course=stats&since=7d").text
        assert "ridge.pdf" in stats and "<dt>Questions</dt><dd>1</dd>" in stats and "knit" not in stats
        assert 'href="/insights?course=stats&amp;since=30d"' in stats  # the period links keep the course
        for bad in ("nope", "../default", "<script>"):
            r = teacher.get("/insights", params={"course": bad})
            assert r.status_code == 404 and "no such course" in r.text and "<script>" not in r.text
    with browser(app) as student:
        assert student.get("/insights?course=stats").status_code == 403
