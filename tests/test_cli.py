"""The `coursebot` console script as users and acceptance checks drive it (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(*args, home, stdin=None):
    env = {**os.environ, "COURSEBOT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=120)


def test_turn_json_greeting(tmp_path):
    p = run("turn", "hi there", "--json", home=tmp_path)
    assert p.returncode == 0, p.stderr
    reply = json.loads(p.stdout)
    assert reply["intent"] == "Greeting" and reply["text"]


def test_turn_session_keeps_the_conversation(tmp_path):
    first = json.loads(run("turn", "summarize this text", "--session", "s1", "--json", home=tmp_path).stdout)
    assert first["state"] == "elicit" and first["conversation"] == "s1"
    second = json.loads(run("turn", "never mind", "--session", "s1", "--json", home=tmp_path).stdout)
    assert second["error"] == "cancelled"


def test_user_mistakes_get_a_clear_reply_and_exit_0(tmp_path):
    for args in (["turn", "", "--json"], ["turn", "x" * 120_000, "--json"]):
        p = run(*args, home=tmp_path)
        assert p.returncode == 0 and "Traceback" not in p.stderr
        assert json.loads(p.stdout)["error"] in ("empty_message", "message_too_long")
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(os.urandom(2048))
    p = run("turn", "describe this", "--attach", str(junk), "--json", home=tmp_path)
    assert p.returncode == 0 and json.loads(p.stdout)["error"] == "unsupported_attachment"


def test_cli_misuse_is_a_usage_error(tmp_path):
    p = run("turn", "hi", "--attach", str(tmp_path / "missing.png"), home=tmp_path)
    assert p.returncode == 2 and "missing.png" in p.stderr and "Traceback" not in p.stderr
    assert run("turn", "--bogus", home=tmp_path).returncode == 2
    assert run("nlu", home=tmp_path).returncode == 2


def test_nlu_single_and_batch(tmp_path):
    p = run("nlu", "what is Amazon Rekognition?", "--json", home=tmp_path)
    out = json.loads(p.stdout)
    assert out == {"text": "what is Amazon Rekognition?", "intent": "AskCoursePdfs", "confidence": out["confidence"],
                   "slots": {"question": "what is Amazon Rekognition?"}, "language": "en"}
    assert json.loads(run("nlu", "what is this", "--image", "--json", home=tmp_path).stdout)["intent"] == "DescribePhoto"
    batch = tmp_path / "in.jsonl"
    batch.write_text('{"text": "hello"}\n{"text": "who is this?", "has_image": true}\nnot json\n\n{"text": "draw a fox"}\n')
    lines = [json.loads(x) for x in run("nlu", "--batch", str(batch), "--json", home=tmp_path).stdout.splitlines()]
    assert [x["intent"] for x in lines] == ["Greeting", "DescribePhoto", None, "GenerateImage"]
    assert lines[2]["error"].startswith("line 3")
    assert lines[3]["slots"] == {"prompt": "a fox"}


def test_chat_reads_stdin(tmp_path):
    p = run("chat", home=tmp_path, stdin="hi\n/attach /nonexistent.png\nwhat can you do\n/quit\n")
    assert p.returncode == 0, p.stderr
    assert "coursebot" in p.stdout and "can't find the file" in p.stdout and "Here is what I can do" in p.stdout


def test_invalid_setting_is_reported_not_a_traceback(tmp_path):
    env = {**os.environ, "COURSEBOT_HOME": str(tmp_path), "COURSEBOT_BACKEND": "gcp"}
    p = subprocess.run([sys.executable, "-m", "bot.cli", "turn", "hi"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "COURSEBOT_BACKEND" in p.stderr and "Traceback" not in p.stderr


def test_help_lists_commands(tmp_path):
    p = run("--help", home=tmp_path)
    assert p.returncode == 0
    for cmd in ("chat", "turn", "nlu", "bench"):
        assert cmd in p.stdout


@pytest.mark.slow
def test_bench_nlu_json(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEBOT_BENCH_PDF_ROUTING", "false")  # the PDF routing part ingests manuals: minutes
    p = run("bench", "nlu", "--json", home=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = {r["metric"]: r for r in json.loads(p.stdout)}
    assert 0 < rows["accuracy"]["value"] <= 100 and rows["accuracy"]["unit"] == "%"
    assert "test e" in rows["accuracy"]["measured_on"] and "dev" not in rows["accuracy"]["measured_on"]
    assert "accuracy test d" in rows and "accuracy test c" in rows  # the other splits follow the newest held-out one
    assert any(m.startswith("recall ") for m in rows) and any(m.startswith("accuracy at confidence") for m in rows)
    assert any(m.startswith("confusion") for m in rows) and "parse p95" in rows
