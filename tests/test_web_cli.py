"""`coursebot serve` and `coursebot bench web`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import require_module

require_module("fastapi", "fastapi (the `web` extra)")

ROOT = Path(__file__).resolve().parent.parent


def test_serve_prints_its_url_and_answers(home):
    env = {**os.environ, "COURSEBOT_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", "serve", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("coursebot web chat: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        url = line.split()[3]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
                    assert json.loads(r.read())["status"] == "ok"
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not answer /healthz"
                time.sleep(0.2)
        with urllib.request.urlopen(url + "/", timeout=5) as r:
            assert b'id="composer"' in r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) in (0, 130, -signal.SIGINT)


def test_serve_sets_public_url_and_binds_loopback(home, monkeypatch, capsys):
    import uvicorn

    from bot.cli import serve as web_cli
    from bot.cli import build_parser

    seen = {}

    def fake_run(self, sockets=None):
        seen["app"], seen["addr"] = self.config.app, sockets[0].getsockname()
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    args = build_parser().parse_args(["serve", "--port", "0"])
    assert args.host == "127.0.0.1"
    assert web_cli.run(args) == 0
    url = capsys.readouterr().out.split()[3]
    assert seen["addr"][0] == "127.0.0.1" and url == f"http://127.0.0.1:{seen['addr'][1]}"
    assert seen["app"].state.services.settings.public_url == url  # signed links point at this server
    assert web_cli.is_loopback("::1") and web_cli.is_loopback("localhost") and not web_cli.is_loopback("0.0.0.0")


def test_serve_reports_a_busy_port(home, capsys):
    import socket

    from bot.cli import serve as web_cli
    from bot.cli import build_parser

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        args = build_parser().parse_args(["serve", "--port", str(busy.getsockname()[1])])
        assert web_cli.run(args) == 1
    assert "--port 0" in capsys.readouterr().err


def test_bench_web_concurrent_sessions_have_no_errors(home):
    from bot.bench.web import bench_web

    rows = {r.metric: r.value for r in bench_web(sessions=4, turns=5)}
    assert rows["turns"] == 20 and rows["errors"] == 0
    assert 0 < rows["turn latency p50"] <= rows["turn latency p95"] <= rows["turn latency max"]
