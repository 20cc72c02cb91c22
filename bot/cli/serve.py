"""`coursebot serve [--host 127.0.0.1] [--port 8000] [--lex BOT_ID/ALIAS_ID [--locale en_US]]`: the web
chat on uvicorn, answered by the local router or, with ``--lex``, by a deployed Lex V2 bot alias."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the local web chat",
                       description="Serve the web chat and its JSON API (POST /api/turn, GET /healthz, "
                                   "GET /openapi.json). Binds to 127.0.0.1 unless told otherwise.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: only this machine can connect)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--lex", metavar="BOT_ID/ALIAS_ID",
                   help="Lex mode: answer with this Lex V2 bot alias (RecognizeText, and RecognizeUtterance for "
                        "the push-to-talk button); AWS credentials come from the usual chain. The stack "
                        "outputs LexBotId and LexBotAliasId.")
    p.add_argument("--locale", default="en_US", help="the bot locale Lex mode talks to (default en_US)")
    p.set_defaults(run=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BackgroundServer:
    """An ASGI app on uvicorn in a background thread, on a free 127.0.0.1 port (tests, benchmarks).

    Use as a context manager: ``with BackgroundServer(app_factory) as url: ...``. ``app_factory`` gets
    the server's base URL (so signed links can point at it) and returns the app.
    """

    def __init__(self, app_factory, host: str = "127.0.0.1"):
        self.app_factory, self.host = app_factory, host
        self.server = self.thread = self.url = None

    def __enter__(self) -> str:
        import socket
        import threading
        import time

        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        sock.listen(256)
        self.url = f"http://{self.host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app_factory(self.url), log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name="coursebot-web")
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


SERVER_RECORD = "web-server.json"  # in COURSEBOT_HOME while `coursebot serve` runs: {"url", "pid"}


def record_server(home, url: str) -> None:
    """Note in COURSEBOT_HOME that this process serves the web chat at ``url`` (the terminal then
    prints links to it)."""
    import json
    from pathlib import Path

    from bot.home import write_private

    write_private(Path(home) / SERVER_RECORD, json.dumps({"url": url, "pid": os.getpid()}).encode())


def forget_server(home) -> None:
    """Remove this process's record (a record written by another server is left alone)."""
    import json
    from pathlib import Path

    path = Path(home) / SERVER_RECORD
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def running_server(home) -> str | None:
    """The URL of a web chat serving this COURSEBOT_HOME now: its record names a live process and
    something answers on that address; None otherwise (no record, a stale one, nothing listening)."""
    import json
    import socket
    from pathlib import Path
    from urllib.parse import urlsplit

    try:
        record = json.loads((Path(home) / SERVER_RECORD).read_text())
        url, pid = str(record["url"]), int(record["pid"])
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not host or not port or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return url.rstrip("/")
    except OSError:
        return None


def run(args: argparse.Namespace) -> int:
    import socket

    try:
        import uvicorn

        from bot.channels.web import create_app
    except ModuleNotFoundError as e:
        print(f"coursebot serve needs the web extra ({e.name} is missing). "
              "Install it with: pip install 'coursebot[web]'", file=sys.stderr)
        return 2
    from bot import settings as settings_module
    from bot.cli.common import configure_logging
    from bot.router import Router
    from bot.services import Services

    lex_bot = None
    if args.lex is not None:
        from bot.aws import lex_runtime
        from bot.errors import InputError

        try:
            lex_bot = (*lex_runtime.check_bot(args.lex), lex_runtime.check_locale(args.locale))
        except InputError as e:
            print(f"coursebot serve: --lex {args.lex!r}: {e.user_message}", file=sys.stderr)
            return 2

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host.strip("[]"), args.port))
    except OSError as e:
        print(f"coursebot serve: cannot listen on {args.host}:{args.port}: {e.strerror}. "
              "Is another server using that port? Try --port 0 for a free one.", file=sys.stderr)
        return 1
    sock.listen(128)
    port = sock.getsockname()[1]
    loopback = is_loopback(args.host)
    shown_host = args.host if loopback else "127.0.0.1"
    if args.host in ("0.0.0.0", "::"):
        shown_host = "127.0.0.1"
    if ":" in shown_host and not shown_host.startswith("["):
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{port}"
    # signed file links point at this server, unless COURSEBOT_PUBLIC_URL says otherwise (a proxy)
    overrides = {} if os.environ.get("COURSEBOT_PUBLIC_URL") else {"public_url": url}
    settings = settings_module.load(**overrides)
    configure_logging()
    services = Services(settings)
    from bot.roles import instructor_token

    token, generated = instructor_token(settings)
    lex = None
    if lex_bot is not None:
        from bot.aws.lex_runtime import LexRuntime
        from bot.channels.web.lexmode import LexChat

        lex = LexChat(LexRuntime(*lex_bot, settings=settings), max_speech_seconds=settings.web_max_speech_seconds)
    app = create_app(services, Router(services), allowed_hosts=None if loopback else ["*"], instructor_token=token,
                     lex=lex)
    if not loopback:
        print(f"coursebot serve: listening on {args.host}, so other machines can reach this chat; "
              "it has no login.", file=sys.stderr)
    print(f"coursebot web chat: {url}  (Ctrl-C to stop)")
    if lex_bot:
        print(f"answered by Lex bot {lex_bot[0]}, alias {lex_bot[1]}, locale {lex_bot[2]} (push-to-talk on)", flush=True)
    # like a notebook server: whoever has the token is the instructor (course PDFs, Insights) until it stops
    shown = token if generated else "<the instructor token you set>"
    print(f"instructor link (keep it private): {url}/?instructor={shown}", flush=True)
    print(f"Instructor insights (keep this link to yourself): {url}/insights?token={shown}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    home = settings.data_dir

    class RecordedServer(uvicorn.Server):
        async def shutdown(self, sockets=None):  # uvicorn re-raises Ctrl-C/SIGTERM after this: forget here
            try:
                await super().shutdown(sockets=sockets)
            finally:
                forget_server(home)

    record_server(home, url)
    try:
        RecordedServer(config).run(sockets=[sock])
    finally:
        forget_server(home)
    return 0
