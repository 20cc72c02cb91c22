"""Ingest progress: pages reported in order as they are read and indexed, each PDF's result as soon as it is
done, a terminal line with a time estimate, and unchanged output on pipes and with --json."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.capabilities import IngestProgress, IngestResult
from kb.sample import render

ROOT = Path(__file__).resolve().parents[1]


def pages_md(title: str, pages: int) -> str:
    filler = " ".join(f"Sentence {i} of the notes explains one more ordinary detail of {title}." for i in range(28))
    return f"# {title}\n\n" + "\n\n".join(f"## Part {n}\n{filler}" for n in range(1, pages + 1))


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("progress-pdfs")
    (d / "a-long.pdf").write_bytes(render(pages_md("Lambda functions", 6)))
    (d / "b-short.pdf").write_bytes(render(pages_md("Amazon Polly", 1)))
    return d


@pytest.fixture
def local_kb(settings, services):
    from kb.local import build

    return build(settings, services)


def test_local_ingest_reports_each_page_in_order_then_the_result(local_kb, pdfs, monkeypatch):
    import kb.local

    monkeypatch.setattr(kb.local, "EMBED_WINDOW", 2)  # several indexing reports even for a short PDF
    events: list[IngestProgress] = []
    results = local_kb.ingest([str(pdfs)], progress=events.append)
    assert [r.status for r in results] == ["added", "added"]

    by_file = [[e for e in events if e.source == r.source] for r in results]
    # one PDF at a time: every event of the first comes before any of the second, its result included
    assert events == by_file[0] + by_file[1]
    for n, (file_events, result) in enumerate(zip(by_file, results), 1):
        assert {(e.file, e.files) for e in file_events} == {(n, 2)}
        reading = [e.page for e in file_events if e.stage == "reading" and e.pages]
        assert reading == list(range(1, result.pages + 1))
        indexing = [e.page for e in file_events if e.stage == "indexing"]
        assert indexing == sorted(indexing) and indexing[-1] == result.pages
        assert all(e.pages == result.pages for e in file_events if e.stage == "indexing")
        assert file_events[-1].stage == "done" and file_events[-1].result == result
        assert [e.stage for e in file_events].index("indexing") > max(
            i for i, e in enumerate(file_events) if e.stage == "reading")
    assert len([e for e in by_file[0] if e.stage == "indexing"]) >= 3
    assert by_file[0][1].describe() == f"reading page 1 of {results[0].pages}…"

    # nothing to do: the result alone, straight away
    again: list[IngestProgress] = []
    [unchanged] = local_kb.ingest([str(pdfs / "b-short.pdf")], progress=again.append)
    assert unchanged.status == "unchanged" and [e.stage for e in again] == ["done"]
    assert again[0].result == unchanged


def test_ingest_without_a_listener_and_with_a_broken_one(local_kb, pdfs):
    [plain] = local_kb.ingest([str(pdfs / "b-short.pdf")])
    assert plain.status == "added"

    def broken(event):
        raise RuntimeError("display gone")

    [r] = local_kb.ingest([str(pdfs / "a-long.pdf")], progress=broken)
    assert r.status == "added" and r.pages >= 2  # a failing display does not lose the PDF


def test_a_bad_pdf_reports_its_failure_as_its_result(local_kb, tmp_path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    events: list[IngestProgress] = []
    [r] = local_kb.ingest([str(tmp_path / "broken.pdf")], progress=events.append)
    assert r.status == "failed" and events[-1].stage == "done" and events[-1].result == r


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_line_shows_the_page_and_a_time_estimate():
    from bot.cli.progress import TerminalProgress

    now = [100.0]
    stream = FakeTty()
    results: list[IngestResult] = []

    def on_result(r):
        results.append((r, stream.getvalue()))

    display = TerminalProgress(stream, clock=lambda: now[0], on_result=on_result)
    for page in range(1, 11):
        display(IngestProgress("notes.pdf", "reading", page, 10))
        now[0] += 0.1
    for page in (0, 4, 8, 10):
        display(IngestProgress("notes.pdf", "indexing", page, 10))
        if page == 4:
            out = stream.getvalue().split("\r")[-1]
            assert "indexing page 4 of 10" in out and "about 3 s left" in out  # 4 pages in 2 s: 6 pages left
        now[0] += 2.0
    done = IngestResult("notes.pdf", "added", pages=10, chunks=20)
    display(IngestProgress("notes.pdf", "done", 10, 10, result=done))
    assert results[0][0] == done and results[0][1].endswith("\r")  # the line is erased before the result
    text = stream.getvalue()
    assert "reading page 3 of 10" in text and "[########........]" in text

    # the next PDF's estimate starts from the rates measured on this one
    display(IngestProgress("more.pdf", "reading", 0, 20, file=2, files=2))
    now[0] += 0.1
    display(IngestProgress("more.pdf", "reading", 1, 20, file=2, files=2))
    line = stream.getvalue().split("\r")[-1]
    assert line.startswith("[2/2]") and re.search(r"about (\d+) s left", line)
    seconds = int(re.search(r"about (\d+) s left", line).group(1))
    assert 13 <= seconds <= 15  # 19 pages to read at 0.1 s + 20 to index at 0.6 s (10 pages took 6 s)


def test_terminal_display_is_silent_off_a_terminal():
    from bot.cli.progress import TerminalProgress

    stream = io.StringIO()
    seen = []
    display = TerminalProgress(stream, on_result=seen.append)
    display(IngestProgress("x.pdf", "reading", 1, 2))
    display(IngestProgress("x.pdf", "done", 2, 2, result=IngestResult("x.pdf", "added", pages=2)))
    assert stream.getvalue() == "" and [r.status for r in seen] == ["added"]


def test_kb_ingest_prints_each_result_before_the_next_pdf_starts(home, pdfs, monkeypatch, capsys):
    from bot.services import Services
    from bot.settings import load
    from bot.cli import kb as cli
    from kb.local import build

    settings = load(home=home, backend="local")
    kb = build(settings, Services(settings))
    out_when_embedding: list[str] = []
    embed = kb.embedder.embed

    class Spy:
        dim = kb.embedder.dim
        model_id = getattr(kb.embedder, "model_id", "?")

        def embed(self, texts, *a, **k):
            out_when_embedding.append(capsys.readouterr().out)
            return embed(texts, *a, **k)

        def embed_one(self, text):
            return kb.embedder.embed_one(text)

    kb.embedder = Spy()
    monkeypatch.setattr(cli, "_kb", lambda: kb)
    parser_args = type("A", (), {"paths": [str(pdfs)], "sample": False, "json": False})()
    assert cli.run_ingest(parser_args) == 0
    rest = capsys.readouterr().out
    # while the second PDF was being embedded, the first one's line was already out
    assert any(re.match(r"added\s+a-long\.pdf \(\d+ pages, \d+ chunks\)\n$", o) for o in out_when_embedding)
    assert re.fullmatch(r"added\s+b-short\.pdf \(\d+ pages?, \d+ chunks?\)\n", rest)


def run_cli(*args, home, stdin=None):
    env = {**os.environ, "COURSEBOT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, input=stdin)


def test_kb_ingest_on_a_pipe_prints_results_only(tmp_path, pdfs):
    home = tmp_path / "home"
    text = run_cli("kb", "ingest", str(pdfs), home=home)
    assert text.returncode == 0, text.stderr
    assert text.stderr == ""  # no progress line on a pipe
    lines = text.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"added      a-long\.pdf \(\d+ pages, \d+ chunks\)", lines[0])
    assert re.fullmatch(r"added      b-short\.pdf \(\d+ pages?, \d+ chunks?\)", lines[1])

    again = run_cli("kb", "ingest", str(pdfs), "--json", home=home)
    assert again.returncode == 0 and again.stderr == ""
    rows = [json.loads(line) for line in again.stdout.splitlines()]
    assert [(r["source"], r["status"]) for r in rows] == [("a-long.pdf", "unchanged"), ("b-short.pdf", "unchanged")]
    assert set(rows[0]) == {"source", "status", "pages", "chunks"}


def test_chat_attach_shows_pages_on_a_terminal(home, pdfs, monkeypatch, capsys):
    from bot.cli import chat

    err = FakeTty()
    monkeypatch.setattr(sys, "stderr", err)
    lines = iter([f"/attach {pdfs / 'a-long.pdf'}", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    args = type("A", (), {"session": "chat-progress"})()
    assert chat.run(args) == 0
    out = capsys.readouterr().out
    assert "I added 'a-long.pdf' to the course" in out
    shown = err.getvalue()
    pages = int(re.search(r"\((\d+) pages\)", out).group(1))
    # a chat upload is read in a child process under the PDF limits: its pages are known once it is read
    assert f"reading page {pages} of {pages}" in shown
    assert "indexing page" in shown
    assert shown.endswith("\r")  # erased before the reply


def test_chat_attach_off_a_terminal_prints_no_progress(home, pdfs, monkeypatch, capsys):
    from bot.cli import chat

    lines = iter([f"/attach {pdfs / 'b-short.pdf'}", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert chat.run(type("A", (), {"session": "chat-plain"})()) == 0
    captured = capsys.readouterr()
    assert "I added 'b-short.pdf'" in captured.out and "reading page" not in captured.err + captured.out


def test_bedrock_ingest_reports_upload_and_ingestion_job_states(monkeypatch, tmp_path):
    from test_kb_bedrock import GET, NOTES, START, aws, job, make_kb  # noqa: F401  (aws is a fixture)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="course-pdfs-test")
        kb, _, agent, _ = make_kb(s3)
        (tmp_path / "notes.pdf").write_bytes(render(NOTES))
        (tmp_path / "zbroken.pdf").write_bytes(b"%PDF-1.4 broken")
        agent.add_response("start_ingestion_job", job("STARTING"), START)
        agent.add_response("get_ingestion_job", job("IN_PROGRESS"), GET)
        agent.add_response("get_ingestion_job", job("COMPLETE", statistics={"numberOfDocumentsFailed": 0}), GET)
        events: list[IngestProgress] = []
        with agent:
            results = kb.ingest([str(tmp_path)], progress=events.append)
    assert [(r.source, r.status) for r in results] == [("notes.pdf", "added"), ("zbroken.pdf", "failed")]
    notes = [(e.stage, e.status) for e in events if e.source == "notes.pdf"]
    assert notes == [("uploading", None), ("syncing", "STARTING"), ("syncing", "IN_PROGRESS"),
                     ("syncing", "COMPLETE"), ("done", None)]
    broken = [e for e in events if e.source == "zbroken.pdf"]
    # the broken PDF's result is out before the job is polled
    assert broken[-1].stage == "done" and events.index(broken[-1]) < [e.stage for e in events].index("syncing")
    assert events[-1].result == results[0]
    polling = [e for e in events if e.stage == "syncing" and e.status == "IN_PROGRESS"]
    assert polling[0].describe() == "the knowledge base is indexing notes.pdf (in progress)…"


def test_web_chat_polls_the_page_being_read_while_a_pdf_is_added(home, pdfs):
    import threading

    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from bot.channels.web import create_app
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load

    base = "http://127.0.0.1:8000"
    services = Services(load(home=home, backend="local", public_url=base))
    kb = services.kb
    real = kb.embedder
    embedding, observed = threading.Event(), threading.Event()

    class Waiting:  # holds the ingest at its first embedding until the test has looked at the progress
        dim = real.dim
        model_id = getattr(real, "model_id", "?")

        def embed(self, texts, *a, **k):
            embedding.set()
            observed.wait(60)
            return real.embed(texts, *a, **k)

        def embed_one(self, text):
            return real.embed_one(text)

    kb.embedder = Waiting()
    app = create_app(services, Router(services))
    with TestClient(app, base_url=base) as browser, TestClient(app, base_url=base) as poller, \
            TestClient(app, base_url=base) as stranger:
        assert browser.get("/").status_code == 200  # the page sets its conversation cookie
        poller.cookies.update(browser.cookies)
        stranger.get("/")
        assert poller.get("/api/progress").json() == {"active": False}
        pdf = (pdfs / "a-long.pdf").read_bytes()
        replies = []
        sender = threading.Thread(target=lambda: replies.append(browser.post(
            "/api/turn", data={"text": ""}, files={"file": ("week1.pdf", pdf, "application/pdf")})))
        sender.start()
        try:
            assert embedding.wait(120)
            now = poller.get("/api/progress")
            assert now.headers["cache-control"] == "no-store"
            body = now.json()
            assert body["active"] is True and body["source"] == "week1.pdf"
            assert re.fullmatch(r"(reading|indexing) page \d+ of \d+…", body["text"])
            assert body["pages"] == body["page"] or body["stage"] == "indexing"
            assert stranger.get("/api/progress").json() == {"active": False}  # another browser sees nothing
        finally:
            observed.set()
            sender.join(120)
        reply = replies[0].json()
        assert "I added 'week1.pdf' for this conversation only" in reply["text"]  # a student's upload is private
        assert poller.get("/api/progress").json() == {"active": False}


def test_the_next_pdf_is_read_while_one_is_embedded(local_kb, pdfs, tmp_path, monkeypatch):
    import threading

    import kb.local

    reads: list[tuple[str, str]] = []  # (PDF, thread that read it)
    embedded: list[int] = []  # how many PDFs had begun to be read when each embedding ended
    extract = kb.local.extract_document

    def recording_extract(data, name, on_page=None):
        reads.append((name, threading.current_thread().name))
        return extract(data, name, on_page=on_page)

    monkeypatch.setattr(kb.local, "extract_document", recording_extract)
    real = local_kb.embedder

    class Slow:  # embeds slowly enough for the next PDF to be read meanwhile
        dim, model_id = real.dim, real.model_id

        def embed_documents(self, texts):
            nth = len(embedded) + 1
            for _ in range(200):  # at most 10 s for the next PDF's reading to begin
                if len(reads) > nth:
                    break
                threading.Event().wait(0.05)
            embedded.append(len(reads))
            return real.embed_documents(texts)

        embed_one = staticmethod(real.embed_one)

    local_kb.embedder = Slow()
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("a-long.pdf", "b-short.pdf"):
        (folder / name).write_bytes((pdfs / name).read_bytes())
    (folder / "c-broken.pdf").write_bytes(b"%PDF-1.4 not really")
    events: list[IngestProgress] = []
    results = local_kb.ingest([str(folder)], progress=events.append)
    assert [r.status for r in results] == ["added", "added", "failed"]
    # a-long was read in the ingesting thread; b-short while a-long embedded; c-broken while b-short embedded
    assert reads[0] == ("a-long.pdf", threading.current_thread().name)
    assert [n for n, t in reads[1:]] == ["b-short.pdf", "c-broken.pdf"] and all(t.startswith("read ") for _, t in reads[1:])
    assert embedded == [2, 3]
    # still one PDF at a time for a listener: b-short's pages come after a-long's result, in order
    sources = [e.source for e in events]
    assert sources == sorted(sources)
    b = [e for e in events if e.source == "b-short.pdf"]
    assert [e.page for e in b if e.stage == "reading" and e.pages] == list(range(1, results[1].pages + 1))
    assert b[-1].result == results[1]
    broken = [e for e in events if e.source == "c-broken.pdf"]
    assert broken[-1].stage == "done" and "damaged" in broken[-1].result.reason

    # unchanged PDFs are not read again, ahead or not
    reads.clear()
    again = local_kb.ingest([str(folder / "a-long.pdf"), str(folder / "b-short.pdf")])
    assert [r.status for r in again] == ["unchanged", "unchanged"] and reads == []
