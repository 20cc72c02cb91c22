"""The terminal (`coursebot turn`, `coursebot chat`) shows local file paths for sources and audio, links
only while a web chat answers them, and `/open N` opens a cited PDF at its page with the desktop's opener.
Real subprocesses on a home with the sample course; fake desktop programs record how they were called."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import has_program, require_engine

LOCAL_LINK = re.compile(r"https?://(?:127\.0\.0\.1|localhost)[:/]")


def run(*args, home, stdin=None, env=None, timeout=180):
    full = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}
    full.update({"COURSEBOT_HOME": str(home), **(env or {})})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=full,
                          input=stdin, timeout=timeout)


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("terminal") / "home"
    p = run("kb", "ingest", "--sample", home=home)
    assert p.returncode == 0, p.stderr
    return home


def _fake_program(folder: Path, name: str, log: Path, stdout: str = "") -> None:
    script = folder / name
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"{name}\" \"$@\" >> {log}\nprintf '{stdout}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_turn_prints_the_pdf_path_and_page_and_no_link_without_a_server(sample_home):
    p = run("turn", "What is Amazon Polly?", home=sample_home)
    assert p.returncode == 0, p.stderr
    assert not LOCAL_LINK.search(p.stdout), p.stdout  # nothing answers on 127.0.0.1:8000
    source = re.search(r"\[1\] (\S+\.pdf), page (\d+): (\S+\.pdf)", p.stdout)
    assert source, p.stdout
    assert source.group(1) == "02-amazon-polly.pdf"
    path = Path(source.group(3))
    assert path.is_file() and path.read_bytes()[:5] == b"%PDF-"
    assert path.is_relative_to(sample_home)
    kb = run("kb", "ask", "What is Amazon Polly?", home=sample_home)  # the operator's command prints the same
    assert kb.returncode == 0 and not LOCAL_LINK.search(kb.stdout), kb.stdout
    assert re.search(r"\[1\] 02-amazon-polly\.pdf, page \d+: \S+\.pdf", kb.stdout), kb.stdout
    # --json keeps its fields: the signed link stays in the citation
    data = json.loads(run("turn", "What is Amazon Polly?", "--json", home=sample_home).stdout)
    assert "sig=" in data["citations"][0]["url"] and "sig=" not in data["text"]


def test_chat_gives_the_audio_file_path(sample_home):
    require_engine("espeak-ng", has_program("espeak-ng"))
    p = run("chat", home=sample_home, stdin="What is Amazon Lex?\nread that aloud\n")
    assert p.returncode == 0, p.stderr
    assert not LOCAL_LINK.search(p.stdout) and "sig=" not in p.stdout, p.stdout
    audio = re.search(r"\(audio\) (\S+\.ogg)", p.stdout)
    assert audio and Path(audio.group(1)).is_file(), p.stdout
    assert Path(audio.group(1)).read_bytes()[:4] == b"OggS"


def test_links_are_printed_while_serve_runs_and_work(sample_home):
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**{k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")},
                                   "COURSEBOT_HOME": str(sample_home)})
    record = sample_home / "web-server.json"
    try:
        deadline = time.monotonic() + 60
        while not record.exists():
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.2)
        url = json.loads(record.read_text())["url"]
        from bot.cli.serve import running_server

        while running_server(sample_home) != url:  # the record comes just before the port answers
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.2)
        p = run("turn", "What is Amazon Polly?", home=sample_home)
        link = re.search(r"<(http://[^>]+)>", p.stdout)
        assert link and link.group(1).startswith(url + "/files/"), p.stdout
        import urllib.request

        with urllib.request.urlopen(link.group(1).split("#")[0], timeout=10) as r:  # the printed link works
            assert r.status == 200 and r.read(5) == b"%PDF-"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not record.exists()  # serve forgets its address when it stops
    after = run("turn", "What is Amazon Polly?", home=sample_home)
    assert not LOCAL_LINK.search(after.stdout), after.stdout


def test_a_stale_server_record_prints_no_link(sample_home):
    record = sample_home / "web-server.json"
    record.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": os.getpid()}))  # nothing listens on 9
    try:
        p = run("turn", "What is Amazon Polly?", home=sample_home)
        assert not LOCAL_LINK.search(p.stdout), p.stdout
    finally:
        record.unlink()


def test_open_n_opens_the_pdf_at_its_page_with_the_desktop_viewer(sample_home, tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    _fake_program(bin_dir, "xdg-mime", log, stdout="org.gnome.Evince.desktop\\n")
    _fake_program(bin_dir, "evince", log)
    _fake_program(bin_dir, "xdg-open", log)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "DISPLAY": ":99"}
    p = run("chat", home=sample_home, env=env, stdin="What are Polly's output formats?\n/open 1\n/open 7\n")
    assert p.returncode == 0, p.stderr
    page = re.search(r"\[1\] \S+\.pdf, page (\d+): (\S+\.pdf)", p.stdout)
    assert page, p.stdout
    assert f"Opened {page.group(2)} at page {page.group(1)}." in p.stdout
    assert "usage: /open N, where N is 1 to" in p.stdout
    deadline = time.monotonic() + 10
    while "evince" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    calls = log.read_text().split("\n")
    at = calls.index("evince")
    assert calls[at + 1:at + 3] == [f"--page-index={page.group(1)}", page.group(2)], calls


def test_open_n_uses_xdg_open_and_says_the_page_when_the_viewer_takes_none(sample_home, tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    _fake_program(bin_dir, "xdg-open", log)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "DISPLAY": ":99"}
    p = run("chat", home=sample_home, env=env, stdin="What is Amazon Polly?\n/open 1\n")
    path = re.search(r"\[1\] \S+\.pdf, page (\d+): (\S+\.pdf)", p.stdout)
    assert path and f"Opened {path.group(2)}; the passage is on page {path.group(1)}." in p.stdout, p.stdout
    assert log.read_text().split("\n")[:2] == ["xdg-open", path.group(2)]


def test_open_n_says_plainly_when_there_is_no_opener(sample_home, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for name in ("sh",):  # nothing the opener could use
        (empty / name).symlink_to("/bin/sh")
    p = run("chat", home=sample_home, env={"PATH": str(empty), "DISPLAY": ":99"},
            stdin="What is Amazon Polly?\n/open 1\n")
    assert "This desktop has no opener (xdg-open). The file is " in p.stdout, p.stdout
    headless = run("chat", home=sample_home, env={"DISPLAY": "", "WAYLAND_DISPLAY": ""},
                   stdin="What is Amazon Polly?\n/open 1\n")
    assert "There is no desktop here to open it on. The file is " in headless.stdout, headless.stdout
    nothing = run("chat", home=sample_home, stdin="/open 1\n")
    assert "Nothing to open yet" in nothing.stdout
