"""The Slack HTTP server under hostile input (real sockets): size, body deadline and signature are checked
before anything is parsed, bad requests get a 4xx at once with one log line, and slow clients hold no threads.
Also: the bot token is sent only to Slack's https file hosts or exactly the configured API origin."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from test_slack import FIX, SECRET, TOKEN, answers, fixture, post, send_event, sign

from bot.errors import InputError


@pytest.fixture
def server(settings):
    """(fake Slack, server) with the real router and a 1 s body deadline."""
    from bot.channels import slack
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.channels.slack.threads import MemoryThreads
    from bot.router import Router
    from bot.services import Services
    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as fake:
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
                                          "slack_api_url": fake.base_url})
        app = slack.build_app(cfg, Router(Services(cfg)), dedupe=MemoryDedupe(), threads=MemoryThreads(), workers=2)
        srv = slack.serve_http(app, "127.0.0.1", 0, body_timeout=1.0)
        srv.start_background()
        try:
            yield fake, srv
        finally:
            srv.shutdown()
            srv.server_close()


def _no_tracebacks(caplog) -> None:
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.exc_info] == []


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.channels.slack.server"]


@pytest.mark.parametrize("how, body, headers, status", [
    ("unsigned malformed JSON", '{"type": "event_callback", "event": {', {}, 401),
    ("non-numeric timestamp", "{}", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}, 401),
    ("huge timestamp", "{}", {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=00"}, 401),
    ("unicode digits", "{}", {"X-Slack-Request-Timestamp": "١٢٣", "X-Slack-Signature": "v0=00"}, 401),
])
def test_bad_requests_get_a_4xx_at_once_one_line_no_traceback(server, caplog, how, body, headers, status):
    fake, srv = server
    caplog.set_level(logging.INFO)
    raw_headers = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    got, _, elapsed = post(srv.url, body, raw_headers)
    assert got == status and elapsed < 2.0, how
    _no_tracebacks(caplog)
    assert len(_refusals(caplog)) == 1, caplog.text
    assert fake.called("chat.postMessage") == []


def test_signed_but_unparsable_body_is_400_without_traceback(server, caplog):
    fake, srv = server
    body = '{"type": "event_callback", "event": {'
    status, _, elapsed = post(srv.url, body, sign(body))
    assert status == 400 and elapsed < 2.0
    _no_tracebacks(caplog)


def test_oversized_bodies_are_refused_before_reading(server):
    fake, srv = server
    with socket.create_connection(srv.server_address[:2], timeout=5) as s:
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 50000000\r\n\r\n{")
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    with socket.create_connection(srv.server_address[:2], timeout=5) as s:  # chunked, growing past the limit
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        reply = b""
        try:
            for _ in range(40):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413")


def test_a_client_that_never_finishes_its_body_is_cut_off_and_signed_mentions_still_work(server, caplog):
    fake, srv = server
    started = time.monotonic()
    with socket.create_connection(srv.server_address[:2], timeout=5) as s:
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"type\": ")
        reply = b""
        while chunk := s.recv(4096):  # the server answers, then closes the connection (recv gives b"")
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 3.0
    _no_tracebacks(caplog)
    status, _, _ = send_event(srv.url, fixture("message_im.json"))
    assert status == 200
    assert answers(fake, 1, timeout=30)[0]["text"].startswith("Hi! I'm coursebot")


def test_slow_clients_hold_no_threads(server):
    fake, srv = server
    before = threading.active_count()
    socks = []
    try:
        for _ in range(60):
            s = socket.create_connection(srv.server_address[:2], timeout=5)
            s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
            socks.append(s)
        time.sleep(0.3)
        assert threading.active_count() - before < 5  # the stdlib server held one thread per connection
        ok = urllib.request.urlopen(srv.url.replace("/slack/events", "/healthz"), timeout=5)
        assert ok.status == 200  # still serving meanwhile
    finally:
        for s in socks:
            s.close()


def test_cli_server_logs_one_line_per_bad_request_and_no_traceback(tmp_path):
    """`coursebot slack --http` as a user runs it: hostile requests, then a signed DM still answered."""
    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as fake:
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "COURSEBOT_SLACK_API_URL": fake.base_url, "COURSEBOT_HOME": str(tmp_path / "home")}
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
                                 "slack", "--http", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
        try:
            url = re.search(r"(http://\S+/slack/events)", proc.stderr.readline()).group(1)
            assert post(url, "{not json", {})[0] == 401
            assert post(url, "{}", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"})[0] == 401
            body = (FIX / "message_im.json").read_text()
            assert post(url, body, sign(body))[0] == 200
            assert answers(fake, 1, timeout=30)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "refused a Slack request" in line]) == 2, err


# -- where the bot token may go --------------------------------------------------------------------

def test_token_origins_are_exact():
    from bot.channels.slack import files

    default = files.file_hosts(None)
    assert default == {("https", "files.slack.com", 443), ("https", "files-edge.slack.com", 443)}
    for url in ("http://files.slack.com/files-pri/T1-F1/x", "https://files.slack.com:8443/files-pri/x",
                "https://files.slack.com.evil.example/x", "https://evil.example/x", "ftp://files.slack.com/x",
                "https://files.slack.com:notaport/x", "//files.slack.com/x", ""):
        with pytest.raises(InputError):
            files.fetch(url, TOKEN, 1000, "f", default)
    configured = files.file_hosts("http://127.0.0.1:8123/api/")
    assert ("http", "127.0.0.1", 8123) in configured and len(configured) == 3
    assert files.origin("https://FILES.slack.com/x") == ("https", "files.slack.com", 443)
    redirect = files._SameHostsRedirect(configured)
    req = urllib.request.Request("http://127.0.0.1:8123/a", headers={"Authorization": "Bearer x"})
    assert redirect.redirect_request(req, None, 302, "Found", {}, "http://127.0.0.1:9999/steal") is None
    assert redirect.redirect_request(req, None, 302, "Found", {}, "http://127.0.0.1:8123/b") is not None


def test_token_is_sent_to_the_configured_api_port_only(settings):
    """Over real HTTP: the same host on another port (another local service) never sees the token."""
    from bot.channels.slack import files
    from bot.testing.slack_web_api import FakeSlack

    with FakeSlack(TOKEN) as api, FakeSlack(TOKEN) as other:
        hosts = files.file_hosts(api.base_url)
        assert files.fetch(api.add_file("F1", b"data"), TOKEN, 1000, "f", hosts) == b"data"
        with pytest.raises(InputError):
            files.fetch(other.add_file("F1", b"data"), TOKEN, 1000, "f", hosts)
        with pytest.raises(InputError):  # same host and port, other scheme
            files.fetch(api.add_file("F2", b"x").replace("http://", "https://"), TOKEN, 1000, "f", hosts)
        assert other.calls == [] and [c.method for c in api.calls] == ["files-pri"]
