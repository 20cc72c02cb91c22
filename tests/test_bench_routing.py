"""The web-chat routing bench: a PDF attached in a fresh chat, then questions about it."""

from __future__ import annotations

import json

from bot.bench import core
from kb.sample import render

NOTES = """# Beekeeping notes

## Hive inspection
Inspect a hive every seven days in spring. Lift each frame slowly and look for eggs, larvae and capped brood.

## Swarming
A colony swarms when the hive is crowded: the old queen leaves with about half of the workers.
"""


def test_routing_rows_split_the_routed_answers_into_cited_and_not_in_the_course(tmp_path, monkeypatch):
    pdf = tmp_path / "bees.pdf"
    pdf.write_bytes(render(NOTES))
    questions = ["how often should i inspect my hive in spring", "why does a colony swarm",
                 "what is the boiling point of tungsten in kelvin"]
    data = tmp_path / "data"
    data.mkdir()
    (data / "routing.jsonl").write_text("".join(json.dumps({"question": q, "pdf": str(pdf), "pages": [1]}) + "\n"
                                                for q in questions))
    monkeypatch.setattr(core, "DATA", data)
    monkeypatch.setenv("COURSEBOT_KB_CHAT_INGEST_WAIT_SECONDS", "120")
    rows = {r.metric: r.value for r in core.bench_pdf_routing("routing.jsonl", "test")}
    routed = rows["PDF questions routed to the course (routing.jsonl)"]
    cited = rows["PDF questions cited from the attached PDF (routing.jsonl)"]
    abstained = rows["PDF questions routed but answered 'not in the course' (routing.jsonl)"]
    assert routed == 100.0  # all three are questions
    assert cited == round(2 / 3 * 100, 1)  # the two the notes answer cite them
    assert abstained == round(1 / 3 * 100, 1)  # the tungsten question is not in them
    assert cited + abstained <= routed
