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
    assert got.target == Target("C0COURSE01", "1763690000.000100", "U0STUDENT1", team="T0000001")
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
    assert got.target == Target("D0STUDENT1", None, "U0STUDENT1", team="T0000001")


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
    assert got.private is True and got.target == Target("C0COURSE01", None, "U0STUDENT1", team="T0000001")
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
    assert got.target == Target("C0COURSE01", "1763690000.000100", "U0STUDENT1", team="T0000001")
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
    assert got.target == Target("C0COURSE01", None, "U0STUDENT1", team="T0000001")


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
    assert [b["type"] for b in blocks] == ["section", "context", "actions", "actions"]
    values = [json.loads(e["value"]) for e in blocks[-2]["elements"]]
    assert {v["c"] for v in values} == {"slack:T1:C1:1.2"}
    # a course answer ends with 👍 / 👎, each naming this answer and its conversation
    rating = blocks[-1]
    assert rating["block_id"] == "coursebot_feedback"
    assert [e["action_id"] for e in rating["elements"]] == ["coursebot_feedback_up", "coursebot_feedback_down"]
    assert [json.loads(e["value"]) for e in rating["elements"]] == [{"a": reply.answer_id, "c": "slack:T1:C1:1.2"}] * 2


@pytest.mark.parametrize("reply", [
    Reply(text="Hi! I'm coursebot.", intent="Greeting", conversation="slack:T1:C1:1.2"),
    Reply(text="Which PDF?", intent="AskCoursePdfs", state="elicit", conversation="slack:T1:C1:1.2"),
    Reply(text="Lex builds bots.", intent="AskCoursePdfs", conversation=None),
    Reply(text="Lex builds bots.", intent="AskCoursePdfs", conversation="slack:T1:C1:1.2", answer_id="../x"),
], ids=["small talk", "a question back", "no conversation", "no valid answer id"])
def test_only_course_answers_get_feedback_buttons(reply):
    _, blocks = render(reply)
    assert all(b.get("block_id") != "coursebot_feedback" for b in blocks)


def test_a_long_answer_keeps_its_buttons_and_feedback_within_50_blocks():
    from blockkit import problems

    reply = Reply(text="Lex <b>bots</b> & more.\n\n" * 8000, intent="AskCoursePdfs", conversation="slack:T1:C1:1.2",
                  suggestions=("What is a slot?",))
    _, blocks = render(reply)
    assert problems(blocks) == [] and len(blocks) == 50
    assert [b.get("block_id") for b in blocks[-3:]] == [None, "coursebot_actions", "coursebot_feedback"]
    assert "shortened" in blocks[-3]["elements"][0]["text"]


def test_render_failed_reply_is_a_warning_without_buttons():
    text, blocks = render(Reply(text="Photo description is <not> available.", intent="DescribePhoto",
                                state="failed", conversation="k"))
    assert text == "Photo description is &lt;not&gt; available."
    assert blocks == [{"type": "section", "text": {"type": "mrkdwn",
                                                   "text": ":warning: Photo description is &lt;not&gt; available."}}]


def test_adapter_and_blocks_import_no_io():
    allowed = {"__future__", "json", "re", "dataclasses", "typing", "urllib.parse", "bot.turn",
               "bot.channels.slack.blocks", "bot.channels.slack.feedback", "bot.keys", "bot.roles",
               "intents"}  # bot.roles: constants and a hash; intents: the specs (which answers invite a rating)
    for mod in ("adapter", "blocks", "feedback"):
        tree = ast.parse((Path(adapter.__file__).parent / f"{mod}.py").read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert names <= allowed, (mod, names - allowed)


# -- thread replies without a mention, the message shortcut, the Home tab ---------------------------

def test_plain_reply_in_a_channel_thread_is_a_follow_up_of_that_thread():
    got = event_to_turn(fixture("message_channels_thread_reply.json"), BOT)
    assert got is not None and got.follow_up is True
    assert got.turn.text == "and how much does it cost?"
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:1763690000.000100"  # the mention's conversation
    assert got.target == Target("C0COURSE01", "1763690000.000100", "U0STUDENT1", team="T0000001")
    assert got.thread == adapter.thread_key("T0000001", "C0COURSE01", "1763690000.000100")


@pytest.mark.parametrize("change, why", [
    ({"text": "<@U0OTHER01> can you explain it?"}, "talks to someone else"),
    ({"text": "<@UBOT0001> how much?"}, "the app_mention event answers it"),
    ({"text": "<@U0OTHER01|ana> and <@UBOT0001> what now?"}, "the app_mention event answers it"),
    ({"thread_ts": None}, "a channel message outside a thread"),
    ({"thread_ts": "1763690060.000400"}, "the thread's own root"),
    ({"subtype": "channel_join"}, "not a person's message"),
    ({"user": "UBOT0001"}, "the bot itself"),
])
def test_thread_replies_the_bot_leaves_alone(change, why):
    body = fixture("message_channels_thread_reply.json")
    body["event"].update(change)
    if change.get("thread_ts", "") is None:
        del body["event"]["thread_ts"]
    assert event_to_turn(body, BOT) is None, why


def test_bot_messages_and_edits_in_a_thread_are_not_follow_ups():
    assert event_to_turn(fixture("message_channels_bot_in_thread.json"), BOT) is None
    assert event_to_turn(fixture("message_channels_changed.json"), BOT) is None


def test_reply_with_a_file_in_a_thread_is_a_follow_up_with_the_file():
    body = fixture("message_channels_thread_reply.json")
    body["event"].update(subtype="file_share", text="", files=[{"id": "F1", "name": "week4.pdf",
                                                                 "mimetype": "application/pdf"}])
    got = event_to_turn(body, BOT)
    assert got.follow_up and [f["id"] for f in got.files] == ["F1"]
    assert adapter.placeholder_text(got) == "Adding week4.pdf to the course…"


def test_a_mention_and_a_dm_are_not_follow_ups_and_dms_have_no_thread_to_join():
    mention = event_to_turn(fixture("app_mention.json"), BOT)
    dm = event_to_turn(fixture("message_im.json"), BOT)
    assert not mention.follow_up and mention.thread == "slack:T0000001:C0COURSE01:1763690000.000100"
    assert not dm.follow_up and dm.thread is None
    assert adapter.placeholder_text(mention) == "Looking in the course PDFs…"


def test_mentions_are_read_from_slack_markup():
    assert adapter.mentions("hi <@U1> and <@U2|bob>, see <#C1|general> <!here>") == {"U1", "U2"}
    assert adapter.mentions("no one") == set()


def test_message_shortcut_asks_the_course_about_the_message_in_its_thread():
    got = adapter.shortcut_to_turn(fixture("message_action.json"))
    assert got.turn.intent == "AskCoursePdfs"
    assert got.turn.text == "Does Amazon Lex support voice (https://aws.amazon.com/lex/) input & text?"
    assert got.turn.user == "T0000001:U0STUDENT2"  # who asked, not who wrote the message
    assert got.target == Target("C0COURSE01", "1763690250.000800", "U0STUDENT2", team="T0000001")
    assert got.turn.conversation == "slack:T0000001:C0COURSE01:1763690250.000800"
    assert got.private is False and got.thread == got.turn.conversation


def test_message_shortcut_on_a_thread_reply_answers_in_that_thread():
    body = fixture("message_action.json")
    body["message"]["thread_ts"] = "1763690000.000100"
    got = adapter.shortcut_to_turn(body)
    assert got.target.thread_ts == "1763690000.000100"


def test_message_shortcut_on_a_message_without_text_is_a_note_and_others_are_ignored():
    body = fixture("message_action.json")
    body["message"]["text"] = ""
    got = adapter.shortcut_to_turn(body)
    assert got.turn is None and got.notice and got.private
    other = fixture("message_action.json")
    other["callback_id"] = "someone_elses_shortcut"
    assert adapter.shortcut_to_turn(other) is None


def test_home_opened_reads_the_home_tab_only():
    got = adapter.home_opened(fixture("app_home_opened.json"))
    assert got == adapter.HomeOpened("T0000001", "U0STUDENT1")
    messages_tab = fixture("app_home_opened.json")
    messages_tab["event"]["tab"] = "messages"
    assert adapter.home_opened(messages_tab) is None
    assert adapter.home_opened(fixture("app_mention.json")) is None


def test_permalinks_look_like_slacks():
    assert adapter.permalink("https://coursebot-test.slack.com/", "C0COURSE01", "1763690000.000100") == \
        "https://coursebot-test.slack.com/archives/C0COURSE01/p1763690000000100"
    assert adapter.permalink("https://x.slack.com/", "C1", "1.000002", "1.000001").endswith("?thread_ts=1.000001&cid=C1")
    assert adapter.permalink(None, "C1", "1.2") is None and adapter.permalink("javascript:x", "C1", "1.2") is None


# -- Block Kit: every surface checked against Block Kit's limits -----------------------------------

def test_the_block_kit_checker_catches_what_slack_refuses():
    from blockkit import problems, view_problems

    assert problems([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    assert problems([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}])
    assert problems([{"type": "context", "elements": [{"type": "mrkdwn", "text": "a"}] * 11}])
    assert problems([{"type": "divider"}] * 51) and not problems([{"type": "divider"}] * 51, "home")
    assert view_problems({"type": "modal", "blocks": [{"type": "divider"}]})


def _long_reply(n_citations: int = 12) -> Reply:
    return Reply(text="Lex <b>bots</b> & more. " * 400, intent="AskCoursePdfs",
                 citations=tuple(Citation(f"doc{i}.pdf", i, f"https://example.edu/doc{i}.pdf#page={i}",
                                          ("Evidence <sentence> & " * 60) if i % 2 else None)
                                 for i in range(1, n_citations + 1)),
                 suggestions=("What is a slot?", "x" * 200))


def test_answers_with_quoted_evidence_fit_block_kit():
    from blockkit import problems

    from bot.channels.slack import blocks as bk

    text, blocks = render(_long_reply())
    assert problems(blocks) == []
    quotes = [b["text"]["text"] for b in blocks if b["type"] == "section" and b["text"]["text"].startswith(">")]
    assert 1 <= len(quotes) <= bk.MAX_QUOTES
    assert all(len(q) <= bk.QUOTE_CHARS + 1 and "<sentence>" not in q and "&lt;sentence&gt;" in q for q in quotes)
    linked = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert sum("doc" in t for t in linked) == 12  # every citation keeps its page link
    for t, b in (bk.placeholder_blocks("Looking in the course PDFs…"), bk.progress_blocks("Adding a.pdf…", 17.4)):
        assert problems(b) == [] and t
    assert "17 s" in bk.progress_blocks("Adding a.pdf…", 17.4)[0]


def test_home_view_fits_block_kit_even_when_everything_is_long():
    from blockkit import view_problems

    from bot.channels.slack.blocks import home_view

    view = home_view(["Ask <anything> & more " * 20] * 8, "Course <x>", [f"notes-{i}.pdf" for i in range(500)],
                     [("What is <b>Lex</b>? " * 40, "https://t.slack.com/archives/C1/p1"), ("no link", None)] * 30)
    assert view_problems(view) == []
    empty = home_view([], None, [], [])
    assert view_problems(empty) == []
    unreadable = home_view(["x"], None, None, [], documents_note="The knowledge base is not reachable.")
    assert "not reachable" in json.dumps(unreadable)


@pytest.mark.parametrize("body", [
    {"actions": [{"action_id": "coursebot_feedback_up", "value": 5}], "channel": {"id": 7}, "user": ["U1"],
     "message": {"ts": 1, "blocks": "x"}, "container": "c", "team": None, "trigger_id": 3},
    {"actions": "coursebot_feedback_up"}, {"actions": [None]}, {"actions": [{"action_id": "coursebot_read_aloud"}]},
])
def test_feedback_clicks_with_odd_payloads_are_read_without_crashing(body):
    from bot.channels.slack import feedback

    c = feedback.click(body)
    assert c is None or (c.answer_id == "" and c.channel is None and c.trigger_id is None and c.blocks == ())


@pytest.mark.parametrize("view", [
    {"callback_id": "coursebot_feedback_comment", "private_metadata": "[1]", "state": "x"},
    {"callback_id": "coursebot_feedback_comment", "private_metadata": "{not json", "state": {"values": []}},
    {"callback_id": "coursebot_feedback_comment",
     "private_metadata": '{"a": "AAAAAAAAAAAAAAAAAAAAAA", "c": "slack:T1:dm:U9", "ch": "D9"}',
     "state": {"values": {"coursebot_feedback_why": {"comment": "not a dict"}}}},
])
def test_feedback_submissions_with_odd_payloads_name_no_conversation(view):
    from bot.channels.slack import feedback

    sent = feedback.comment({"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1"}, "view": view})
    assert sent is not None and sent.conversation is None and sent.comment is None
