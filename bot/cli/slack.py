"""`coursebot slack --socket | --http [--host H] [--port N]`: run the Slack app."""

from __future__ import annotations

import argparse
import sys

HELP = """Run the bot in Slack.

  --socket   Socket Mode: connects out to Slack, no public URL needed (needs SLACK_BOT_TOKEN and
             SLACK_APP_TOKEN). Best on a laptop.
  --http     serves Slack's Events API, slash command and buttons on POST /slack/events (needs
             SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET); put it behind HTTPS.

The app's manifest is infra/slack-manifest.yaml; see README, 'Slack'."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("slack", help="run the Slack app (Socket Mode or HTTP)", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--socket", action="store_true", help="connect with Socket Mode")
    mode.add_argument("--http", action="store_true", help="serve POST /slack/events over HTTP")
    p.add_argument("--host", help="address to listen on with --http (default COURSEBOT_SLACK_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port for --http (default COURSEBOT_SLACK_PORT or 3000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bot import services, settings
    from bot.channels import slack
    from bot.cli import common
    from bot.router import Router

    common.configure_logging()
    cfg = settings.get()
    # fail before connecting anywhere, naming what is missing
    slack.require(cfg, "SLACK_BOT_TOKEN", *(("SLACK_APP_TOKEN",) if args.socket else ("SLACK_SIGNING_SECRET",)))
    router = Router(services.default())
    app = slack.build_app(cfg, router, socket_mode=args.socket)
    if args.socket:
        print("coursebot: connecting to Slack over Socket Mode. Ctrl-C to stop.", file=sys.stderr)
        slack.run_socket_mode(app, cfg)
        return 0
    server = slack.serve_http(app, args.host or cfg.slack_host, args.port or cfg.slack_port)
    print(f"coursebot: serving Slack on {server.url} (Ctrl-C to stop)", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
