"""Instructor insight end to end on the local backend: real router turns over the sample course, ratings,
the report (JSON keys, grouping by meaning, nearest pages), curated answers for paraphrases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.turn import Turn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Services and router over the sample course, in a private home (ingested once for the module)."""
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from kb import sample

    home = tmp_path_factory.mktemp("insight-home")
    services = Services(load(home=home, backend="local"))
    services.kb.ingest([str(p) for p in sample.build(home / "pdfs")])
    return services, Router(services), home


def ask(router, text, conversation="web-student-one-aaaaaaaa"):
    return router.handle(Turn(conversation=conversation, text=text, channel="web"))


def test_report_lists_unanswered_groups_and_the_rated_answer(course):
    from bot.insight import rate
    from bot.insight.report import build

    services, router, _ = course
    good = ask(router, "What is Amazon Polly used for?")
    assert good.details.get("found") is True and good.citations and len(good.answer_id) == 22
    for q in ("how much is parking on campus?", "what does parking on campus cost?", "How do I knit a scarf?"):
        ask(router, q)
    rate(services, "web-student-one-aaaaaaaa", good.answer_id, "up")
    rate(services, "web-student-one-aaaaaaaa", good.answer_id, "down", "  it cited the  wrong page ")

    data = build(services, course="default")
    assert {"questions", "unanswered", "feedback", "pages"} <= set(data)
    assert data["questions"]["asked"] == 4 and data["questions"]["answered"] == 1
    assert data["questions"]["not_in_course"] == 3
    groups = {g["question"]: g for g in data["unanswered"]}
    parking = next(g for g in data["unanswered"] if "parking" in g["question"])
    assert parking["count"] == 2 and len(parking["examples"]) == 2  # the two paraphrases are one group
    assert any(g["count"] == 1 and "knit" in q for q, g in groups.items())
    assert data["unanswered"][0] is parking  # most asked first
    for g in data["unanswered"]:
        assert set(g) >= {"question", "count", "examples", "nearest"}
        assert g["nearest"] and all(set(n) == {"source", "page"} and n["source"].endswith(".pdf") for n in g["nearest"])
    [fb] = data["feedback"]  # one rating per answer and conversation: the last counts
    assert fb["answer_id"] == good.answer_id and fb["rating"] == "down" and fb["comment"] == "it cited the wrong page"
    assert fb["question"] == "What is Amazon Polly used for?"
    assert {"source": good.citations[0].source, "page": good.citations[0].page} in fb["citations"]
    cited = {(p["source"], p["page"]): p for p in data["pages"]}
    top = cited[(good.citations[0].source, good.citations[0].page)]
    assert top["cited"] >= 1 and top["down"] >= 1
    never = [p["source"] for p in data["pages"] if p["page"] is None]
    assert "08-aws-lambda.pdf" in never and good.citations[0].source not in never
    json.dumps(data)


def test_rating_is_checked_against_the_callers_conversation(course):
    from bot.insight import FeedbackError, rate

    services, router, _ = course
    mine = ask(router, "What is Amazon Lex?", conversation="web-student-two-bbbbbbbb")
    with pytest.raises(FeedbackError) as other:
        rate(services, "web-student-three-cccccccc", mine.answer_id, "down", "sabotage")
    assert other.value.code == "unknown_answer"
    with pytest.raises(FeedbackError) as unknown:
        rate(services, "web-student-two-bbbbbbbb", "x" * 22, "up")
    assert unknown.value.code == "unknown_answer"
    for bad_id, rating, comment in ((None, "up", None), ("../../etc", "up", None), (mine.answer_id, "meh", None),
                                    (mine.answer_id, "down", 42), (mine.answer_id, "down", "x" * 600)):
        with pytest.raises(FeedbackError) as bad:
            rate(services, "web-student-two-bbbbbbbb", bad_id, rating, comment)
        assert bad.value.code == "bad_feedback" and bad.value.user_message
    assert rate(services, "web-student-two-bbbbbbbb", mine.answer_id, "up").rating == "up"
    stored = services.insight.get(mine.answer_id)
    assert stored.conversation != "web-student-two-bbbbbbbb" and "student" not in stored.conversation


def test_curated_answer_for_a_paraphrase_not_for_a_different_question(course):
    from bot.insight.curated import NOTE, pin

    services, router, _ = course
    pinned = pin(services, "default", "When are office hours?", "Tuesdays 2-4 pm, room 4.12")
    try:
        for paraphrase in ("what time are the office hours", "When are the office hours?"):
            reply = ask(router, paraphrase, conversation="web-student-four-dddddddd")
            assert reply.text == f"{NOTE}: Tuesdays 2-4 pm, room 4.12", paraphrase
            assert reply.details["curated"]["id"] == pinned.id and reply.intent == "AskCoursePdfs"
        other = ask(router, "When is the final exam?", conversation="web-student-four-dddddddd")
        assert NOTE not in other.text
        course_q = ask(router, "What is Amazon Polly used for?", conversation="web-student-four-dddddddd")
        assert NOTE not in course_q.text and course_q.citations
        record = services.insight.get(reply.answer_id)
        assert record.found is True  # a curated answer counts as answered in the report
    finally:
        services.insight.unpin("default", pinned.id)
    assert NOTE not in ask(router, "what time are the office hours").text


def _cli(home, *args):
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSEBOT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


def test_report_cli_json_text_pins_and_bad_since(course):
    _, router, home = course
    p = _cli(home, "report", "--json", "--since", "7d")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert {"questions", "unanswered", "feedback", "pages"} <= set(data) and data["questions"]["asked"] >= 4
    text = _cli(home, "report")
    assert text.returncode == 0 and "not in the course" in text.stdout and "parking" in text.stdout
    bad = _cli(home, "report", "--since", "yesterday")
    assert bad.returncode == 2 and "7d" in bad.stderr and "Traceback" not in bad.stderr
    pinned = _cli(home, "report", "pin", "Is attendance mandatory?", "Yes, for the labs.", "--json")
    assert pinned.returncode == 0, pinned.stderr
    pin_id = json.loads(pinned.stdout)["id"]
    listed = json.loads(_cli(home, "report", "pins", "--json").stdout)
    assert [p["id"] for p in listed] == [pin_id]
    assert _cli(home, "report", "unpin", pin_id).returncode == 0
    gone = _cli(home, "report", "unpin", pin_id)
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    empty = _cli(home, "report", "pin", "", "answer")
    assert empty.returncode == 1 and "question" in empty.stderr
