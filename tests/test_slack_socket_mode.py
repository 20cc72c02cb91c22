"""Socket Mode: a local websocket server plays Slack; the app acks the envelope and answers once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from conftest import require_module

ws_server = require_module("websockets.sync.server", "websockets (the `dev` extra)")

FIX = Path(__file__).parent / "fixtures" / "slack"
TOKEN = "xoxb-socket-test"
APP_TOKEN = "xapp-1-socket-test"


def test_socket_mode_event_is_acked_and_answered_once(settings):
    from bot.channels import slack
    from bot.channels.slack.dedupe import MemoryDedupe
    from bot.testing.slack_web_api import FakeSlack
    from bot.router import Router
    from bot.services import Services

    payload = json.loads((FIX / "message_im.json").read_text())
    acks: list[dict] = []
    got_acks = threading.Event()

    def slack_side(ws):
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "local"}}))
        for attempt in (0, 1):  # the delivery, then Slack's retry of it
            ws.send(json.dumps({"envelope_id": f"env-{attempt}", "type": "events_api", "payload": payload,
                                "accepts_response_payload": False, "retry_attempt": attempt,
                                "retry_reason": "timeout" if attempt else ""}))
        while len(acks) < 2:
            acks.append(json.loads(ws.recv(timeout=10)))
        got_acks.set()
        try:
            ws.recv(timeout=10)  # keep the connection open until the client leaves
        except Exception:
            pass

    with ws_server.serve(slack_side, "127.0.0.1", 0) as wss, FakeSlack(TOKEN, APP_TOKEN) as fake:
        threading.Thread(target=wss.serve_forever, daemon=True).start()
        fake.socket_url = f"ws://127.0.0.1:{wss.socket.getsockname()[1]}/link/?ticket=t"
        cfg = settings.model_copy(update={"slack_bot_token": TOKEN, "slack_app_token": APP_TOKEN,
                                          "slack_signing_secret": None, "slack_api_url": fake.base_url})
        app = slack.build_app(cfg, Router(Services(cfg)), dedupe=MemoryDedupe(), workers=2, socket_mode=True)
        handler = slack.socket_mode_handler(app, cfg)
        handler.connect()
        try:
            assert got_acks.wait(15), "no acks over the websocket"
            posts = fake.wait_for("chat.postMessage", timeout=15)
            time.sleep(0.5)
        finally:
            handler.close()
        wss.shutdown()
    assert sorted(a["envelope_id"] for a in acks) == ["env-0", "env-1"]
    assert len(fake.called("chat.postMessage")) == 1 and posts[0].params["channel"] == "D0STUDENT1"
    assert len(fake.called("apps.connections.open")) >= 1
