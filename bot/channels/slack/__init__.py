"""Slack channel: a slack-bolt app (mentions, DMs, thread replies, /coursebot, file shares, buttons, the Home tab, a
message shortcut, feedback) over HTTP, Socket Mode or Lambda.

One module per job: ``adapter`` (pure: Slack payload -> Turn, Reply -> Block Kit), ``blocks``
(Block Kit building and escaping), ``feedback`` (pure: the 👍 / 👎 buttons, the "what was wrong?"
modal, reading their clicks and submissions), ``files`` (download and upload I/O), ``app`` (Bolt wiring, the
thin per-delivery handler), ``server`` (HTTP and Socket Mode), ``aws_lambda`` (the Lambda entry
``bot.channels.slack.lambda_handler``) and ``dedupe`` (the seen-delivery stores). The names below
are this package's API; ``slack_bolt`` is imported only inside functions, so ``import bot`` never needs it.
"""

from bot.channels.slack.adapter import (COMMAND, Incoming, Target, action_to_turn, command_to_turn, conversation_key,
                                        delivery_key, event_to_turn, is_dm, plain_text, render)
from bot.channels.slack.app import GENERIC_FAILURE, SlackChannel, build_app, default_workers, make_client, require
from bot.channels.slack.aws_lambda import lambda_handler, make_lambda_handler
from bot.channels.slack.blocks import (ACTION_READ_ALOUD, ACTION_SOURCES, ACTION_SUGGEST, BUTTON_TEXT, BUTTON_VALUE,
                                       CONTEXT_ELEMENTS, MAX_BLOCKS, MAX_SUGGESTIONS, SECTION_CHARS, escape,
                                       failure_blocks, reply_blocks, sources_blocks)
from bot.channels.slack.files import FILE_HOSTS, MAX_FILES
from bot.channels.slack.server import (EVENTS_PATH, MAX_BODY_BYTES, SlackHTTPServer, run_socket_mode, serve_http,
                                       socket_mode_handler)

__all__ = [
    "ACTION_READ_ALOUD", "ACTION_SOURCES", "ACTION_SUGGEST", "BUTTON_TEXT", "BUTTON_VALUE", "COMMAND",
    "CONTEXT_ELEMENTS", "EVENTS_PATH", "FILE_HOSTS", "GENERIC_FAILURE", "Incoming", "MAX_BLOCKS", "MAX_BODY_BYTES",
    "MAX_FILES", "MAX_SUGGESTIONS", "SECTION_CHARS", "SlackChannel", "SlackHTTPServer", "Target", "action_to_turn",
    "build_app", "command_to_turn", "conversation_key", "default_workers", "delivery_key", "escape", "event_to_turn",
    "failure_blocks", "is_dm", "lambda_handler", "make_client", "make_lambda_handler", "plain_text", "render",
    "reply_blocks", "require", "run_socket_mode", "serve_http", "socket_mode_handler", "sources_blocks",
]
