"""The Slack adapter without I/O: real-shaped Events API, slash-command and block_actions bodies -> Incoming, Reply -> Block Kit."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest

from bot.channels.slack import adapter
from bot.channels.slack.adapter import Target, action_to_turn, command_to_turn, event_to_turn, render
from bot.turn import Citation, Reply

FIX = Path(__file__).parent / "fixtures" / "slack"
BOT = "UBOT0001"


def fixture(name: str) -> dict:
    return json.loads((FIX / name).read_text())


# -- events ----------------------------------------------------------------------------------------

def test_mention_in_a_channel_starts_a_thread_on_its_own_ts():
    got = event_to_turn(fixture("app_mention.json"), BOT)
    assert got is not None and got.turn is not None
    assert got.turn.text == "what is Amazon Lex?"  # the bot's own mention is gone
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"
    assert got.turn.user == "T0000001:U0STUDENT1" and got.turn.channel == "slack"
    assert got.target == Target("C0COURSE01", "1763690000.000100", "U0STUDENT1")
    assert got.files == () and got.private is False and got.sources is None


def test_mention_inside_a_thread_keeps_the_thread():
    body = fixture("app_mention.json")
    body["event"].update(ts="1763690050.000900", thread_ts="1763690000.000100",
                         text="<@UBOT0001> and <@U0OTHER01>, what about <#C0COURSE01|course> slots?")
    got = event_to_turn(body, BOT)
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"
    assert got.target.thread_ts == "1763690000.000100"
    assert got.turn.text == "and @U0OTHER01, what about #course slots?"


def test_direct_message_is_one_conversation_per_user_without_a_thread():
    got = event_to_turn(fixture("message_im.json"), BOT)
    assert got.turn.text == "hello there"
    assert got.turn.conversation == "slack:T0000001:dm:U0STUDENT1"
    assert got.target == Target("D0STUDENT1", None, "U0STUDENT1")


def test_file_share_hands_the_files_to_download_and_no_bytes_yet():
    body = fixture("message_im_file_share.json")
    got = event_to_turn(body, BOT)
    assert got.turn.text == "" and got.turn.attachments == ()
    assert [f["id"] for f in got.files] == ["F0PHOTO0001"]
    assert got.files[0]["url_private_download"].startswith("https://files.slack.com/")


@pytest.mark.parametrize("name, change", [
    ("message_im_from_bot.json", None),  # a bot, ourselves included: no loops
    ("message_changed_im.json", None),  # an edit is not a new question
    ("message_im.json", {"user": BOT}),  # our own user id without a bot_id
    ("message_im.json", {"channel_type": "channel", "channel": "C0COURSE01"}),  # channel chatter without a mention
    ("app_mention.json", {"channel": "D0STUDENT1"}),  # a mention in a DM: its message event answers
    ("app_mention.json", {"type": "reaction_added"}),
    ("app_mention.json", {"user": None}),
])
def test_events_the_bot_does_not_answer(name, change):
    body = fixture(name)
    if change:
        body["event"].update(change)
    assert event_to_turn(body, BOT) is None


def test_team_comes_from_the_event_when_the_envelope_has_none():
    body = fixture("app_mention.json")
    del body["team_id"]
    assert event_to_turn(body, BOT).turn.user == "T0000001:U0STUDENT1"
    del body["event"]["team"]
    assert event_to_turn(body, BOT).turn.conversation.startswith("slack:-:C0COURSE01:")


# -- slash command ---------------------------------------------------------------------------------

def test_slash_command_is_private_and_one_conversation_per_user_and_channel():
    got = command_to_turn(fixture("slash_command.json"))
    assert got.private is True and got.target == Target("C0COURSE01", None, "U0STUDENT1")
    assert got.turn.text == "what is Amazon Lex (https://aws.amazon.com/lex/)?"
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:user-U0STUDENT1"


def test_empty_slash_command_asks_for_help():
    body = fixture("slash_command.json")
    body["text"] = "   "
    assert command_to_turn(body).turn.text == "help"


# -- buttons ---------------------------------------------------------------------------------------

def test_read_aloud_speaks_the_message_it_sits_on():
    got = action_to_turn(fixture("block_actions.json"))
    assert got.turn.intent == "SpeakAnswer" and got.turn.text == "read that aloud"
    assert got.turn.slots == {"text": "Amazon Lex builds chat bots & voice bots."}  # entities unescaped
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"  # from the button's value
    assert got.target == Target("C0COURSE01", "1763690000.000100", "U0STUDENT1")
    assert got.private is False  # the button sits on a message in the thread: answer in the thread


def test_read_aloud_falls_back_to_the_button_text_without_a_message_text():
    body = fixture("block_actions.json")
    body["message"]["text"] = ""
    assert action_to_turn(body).turn.slots == {"text": "Amazon Lex builds chat bots & voice bots."}


def test_suggestion_on_an_ephemeral_answer_is_answered_privately():
    got = action_to_turn(fixture("block_actions_ephemeral_suggestion.json"))
    assert got.private is True and got.turn.intent is None
    assert got.turn.text == "What is a slot?"
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:user-U0STUDENT1"
    assert got.target == Target("C0COURSE01", None, "U0STUDENT1")


def test_show_sources_needs_no_turn():
    body = fixture("block_actions.json")
    sources = [["lex-intro.pdf", 3, "https://example.edu/lex.pdf", "Lex builds bots"]]
    body["actions"][0].update(action_id="coursebot_show_sources", value=json.dumps({"c": "k", "s": sources}))
    got = action_to_turn(body)
    assert got.turn is None and got.private is True and got.sources == tuple(sources)


def test_unknown_button_and_broken_value():
    body = fixture("block_actions.json")
    body["actions"][0]["action_id"] = "someone_elses_button"
    assert action_to_turn(body) is None
    body = fixture("block_actions.json")
    body["actions"][0]["value"] = "{not json"
    got = action_to_turn(body)  # no conversation in the value: the thread's own key
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"
    assert got.turn.slots == {"text": "Amazon Lex builds chat bots & voice bots."}


def test_payloads_are_not_modified():
    for name, fn in (("app_mention.json", lambda b: event_to_turn(b, BOT)), ("slash_command.json", command_to_turn),
                     ("block_actions.json", action_to_turn)):
        body = fixture(name)
        before = copy.deepcopy(body)
        fn(body)
        assert body == before


# -- render ----------------------------------------------------------------------------------------

def test_render_answer_carries_its_conversation_in_the_buttons():
    reply = Reply(text="Lex <builds> bots & more.", intent="AskCoursePdfs", conversation="slack:T1:C1:1.2",
                  citations=(Citation("lex.pdf", 2, "https://x.example/lex.pdf"),))
    text, blocks = render(reply)
    assert text == "Lex &lt;builds&gt; bots &amp; more."
    assert [b["type"] for b in blocks] == ["section", "context", "actions"]
    values = [json.loads(e["value"]) for e in blocks[-1]["elements"]]
    assert {v["c"] for v in values} == {"slack:T1:C1:1.2"}


def test_render_failed_reply_is_a_warning_without_buttons():
    text, blocks = render(Reply(text="Photo description is <not> available.", intent="DescribePhoto",
                                state="failed", conversation="k"))
    assert text == "Photo description is &lt;not&gt; available."
    assert blocks == [{"type": "section", "text": {"type": "mrkdwn",
                                                   "text": ":warning: Photo description is &lt;not&gt; available."}}]


def test_adapter_and_blocks_import_no_io():
    allowed = {"__future__", "json", "re", "dataclasses", "typing", "urllib.parse", "bot.turn",
               "bot.channels.slack.blocks", "bot.roles"}  # bot.roles: constants and a hash, no I/O
    for mod in ("adapter", "blocks"):
        tree = ast.parse((Path(adapter.__file__).parent / f"{mod}.py").read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert names <= allowed, (mod, names - allowed)
