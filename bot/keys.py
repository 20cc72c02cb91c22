"""Every conversation key and store prefix: built, parsed and checked here and nowhere else.

Conversation keys, one shape per channel (none contains ``#`` or ``/``, so none can name an
internal item of a store):

- Lex: ``lex-<sessionId>`` for a sessionId Lex could have sent (``[0-9A-Za-z._:-]``, 2-100
  characters); ``lex!<hash>`` for any other (a direct invocation), so it never meets a real one.
- Slack: ``slack:<team>:<channel>:<thread_ts>`` in a thread, ``slack:<team>:dm:<user>`` in a DM,
  ``slack:<team>:<channel>:user-<user>`` for a slash command's private answers.
- Web: ``web-<32 hex>``, derived one way from the browser's signed session id (the cookie is the
  credential; the key is safe to show to page scripts).
- CLI: the ``--session`` id itself (``[A-Za-z0-9][A-Za-z0-9_.-]{0,99}``), never another
  channel's shape.

A key that comes back from a client (a Lex session attribute, a Slack button value) is honoured
only when this module issued it to that caller: Lex carries ``<key>.<mac>`` with an HMAC over
(channel, sessionId, key) under the server's secret; a Slack button's key must belong to the team,
channel and user of the click.

Internal items live under prefixes no conversation key can have: ``link#`` (short links),
``slack-dedupe#`` (seen Slack deliveries), ``insight#`` (answers and ratings) in the state table,
and ``uploads/``, ``photos/``, ``generated/`` per-conversation blob folders named by a hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from bot.errors import InputError

# --- internal prefixes (items that share a store with conversations) -------------------------------
LINK_PREFIX = "link#"
SLACK_DEDUPE_PREFIX = "slack-dedupe#"
INSIGHT_PREFIX = "insight#"
INTERNAL_PREFIXES = (LINK_PREFIX, SLACK_DEDUPE_PREFIX, INSIGHT_PREFIX)

UPLOADS = "uploads/"  # web chat uploads, then <conversation hash>/
PHOTOS = "photos/"  # described photos, then <conversation hash>/
GENERATED = "generated/"  # generated images, then <conversation hash>/

MAX_KEY_CHARS = 200
MAC_CHARS = 22  # 128 bits of HMAC-SHA256, base64url without padding

_LEX_SESSION = re.compile(r"^[0-9A-Za-z._:-]{2,100}$")  # RecognizeText sessionId: 2-100, [0-9a-zA-Z._:-]+
_SLACK_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")  # team, channel and user ids, thread timestamps
_CLI_SESSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_WEB_SESSION = re.compile(r"^([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{%d})$" % MAC_CHARS)
_WEB_KEY = re.compile(r"^web-[0-9a-f]{32}$")
_LEX_KEY = re.compile(r"^lex(?:-[0-9A-Za-z._:-]{2,100}|![0-9a-f]{32})$")
_SLACK_KEY = re.compile(r"^slack:([A-Za-z0-9._-]{1,40}):([A-Za-z0-9._-]{1,40}):(user-)?([A-Za-z0-9._-]{1,40})$")
_OTHER_CHANNEL = ("lex-", "lex!", "web-", "slack:")


@dataclass(frozen=True)
class Key:
    """A parsed conversation key. For Slack: team, channel (``dm`` in a DM), and either the thread
    (``thread``) or the user the conversation belongs to (``user``: DMs and slash commands)."""

    channel: str
    team: str | None = None
    slack_channel: str | None = None
    thread: str | None = None
    user: str | None = None


# --- the server's secret ----------------------------------------------------------------------------
def secret(settings: Any) -> bytes:
    """The key that signs issued conversation keys and web session ids: derived from the settings'
    signing key (COURSEBOT_SECRET_KEY; the stack sets it from one secret for every function, so
    every Lambda instance agrees), never the signing key itself."""
    return hmac.new(settings.signing_key(), b"coursebot conversation keys v1", hashlib.sha256).digest()


def _mac(secret_: bytes, *parts: str) -> str:
    digest = hmac.new(secret_, "\n".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_CHARS]


def _hash(text: str, n: int = 32) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


# --- Lex -------------------------------------------------------------------------------------------
def lex(session_id: Any) -> str:
    """The conversation of a Lex session. A sessionId Lex cannot send (missing, too long, other
    characters) gets a key of its own shape, so it can never name another session."""
    if isinstance(session_id, str) and _LEX_SESSION.match(session_id):
        return f"lex-{session_id}"
    if isinstance(session_id, str) and session_id:
        return f"lex!{_hash(session_id)}"
    return f"lex!{secrets.token_hex(16)}"  # no session at all: nothing to remember it by


def issue(key: str, channel: str, caller: str, secret_: bytes) -> str:
    """The token a client may carry for ``key``: ``<key>.<mac>``, bound to ``channel`` and ``caller``."""
    check_conversation(key)
    return f"{key}.{_mac(secret_, 'issued', channel, caller, key)}"


def honoured(token: Any, channel: str, caller: str, secret_: bytes | None) -> str | None:
    """The key in ``token`` when this server issued it to ``caller`` on ``channel``; else None."""
    if not secret_ or not isinstance(token, str) or len(token) > MAX_KEY_CHARS + 1 + MAC_CHARS:
        return None
    key, dot, mac = token.rpartition(".")
    if not dot or not is_conversation(key):
        return None
    if hmac.compare_digest(_mac(secret_, "issued", channel, caller, key), mac):
        return key
    return None


# --- Slack -----------------------------------------------------------------------------------------
def _slack_id(value: Any) -> str:
    value = str(value) if value is not None else ""
    if _SLACK_ID.match(value):
        return value
    return f"h{_hash(value, 16)}" if value else "-"


def slack(team: Any, channel: Any, thread_ts: Any = None, user: Any = None, dm: bool = False) -> str:
    """Where Slack conversation state lives: team + channel + thread; in a DM, team + user."""
    if dm:
        return f"slack:{_slack_id(team)}:dm:{_slack_id(user)}"
    return f"slack:{_slack_id(team)}:{_slack_id(channel)}:{_slack_id(thread_ts)}"


def slack_command(team: Any, channel: Any, user: Any) -> str:
    """A slash command's conversation: the user's own, in that channel (its answers are private)."""
    return f"slack:{_slack_id(team)}:{_slack_id(channel)}:user-{_slack_id(user)}"


def slack_button(key: Any, team: Any, channel: Any, user: Any) -> str | None:
    """The key a Slack button carries, when it is one of the clicking user's conversations here:
    a thread of this channel, their DM, or their slash-command conversation in this channel."""
    parsed = parse(key) if isinstance(key, str) else None
    if parsed is None or parsed.channel != "slack" or parsed.team != _slack_id(team):
        return None
    if parsed.slack_channel == "dm":
        return key if parsed.user == _slack_id(user) else None
    if parsed.slack_channel != _slack_id(channel):
        return None
    if parsed.user is not None and parsed.user != _slack_id(user):
        return None
    return key


def slack_delivery(body: Any) -> str | None:
    """What identifies one Slack delivery across retries: the Events API ``event_id``, else the
    ``trigger_id`` of a slash command or button click (stored under :data:`SLACK_DEDUPE_PREFIX`)."""
    if not isinstance(body, dict):
        return None
    for field, tag in (("event_id", "event"), ("trigger_id", "trigger")):
        value = body.get(field)
        if value:
            value = str(value)
            return f"{tag}:{value if _SLACK_ID.match(value) else 'h' + _hash(value)}"
    return None


# --- web ---------------------------------------------------------------------------------------------
def new_web_session(secret_: bytes) -> str:
    """A new browser session id, signed: ``<random>.<mac>`` (the cookie's value)."""
    sid = secrets.token_urlsafe(18)
    return f"{sid}.{_mac(secret_, 'web-session', sid)}"


def web_session(cookie: Any, secret_: bytes) -> str | None:
    """The cookie when this server issued it, else None (the caller issues a new session)."""
    m = _WEB_SESSION.match(cookie) if isinstance(cookie, str) else None
    if m and hmac.compare_digest(_mac(secret_, "web-session", m.group(1)), m.group(2)):
        return cookie
    return None


def web(session: str, secret_: bytes) -> str:
    """The conversation of a signed web session: opaque, and not the credential."""
    return "web-" + hmac.new(secret_, f"web-conversation\n{session}".encode(), hashlib.sha256).hexdigest()[:32]


# --- CLI ---------------------------------------------------------------------------------------------
def cli(session: str | None, default_prefix: str = "cli") -> str:
    """The conversation of ``--session ID`` (a new one when None). Raises InputError for an id that
    could name an internal item or another channel's conversation."""
    if session is None:
        return f"{default_prefix}-{secrets.token_hex(6)}"
    if not _CLI_SESSION.match(session) or session.startswith(_OTHER_CHANNEL):
        raise InputError("A session id is 1-100 letters, digits, '.', '_' or '-', starting with a letter or "
                         "digit, and not starting with 'lex-' or 'web-'.", code="bad_session")
    return session


# --- any key -------------------------------------------------------------------------------------------
def parse(key: str) -> Key | None:
    """The parts of a conversation key this module builds; None for anything else."""
    if not isinstance(key, str) or len(key) > MAX_KEY_CHARS:
        return None
    if _LEX_KEY.match(key):
        return Key("lex")
    if _WEB_KEY.match(key):
        return Key("web")
    m = _SLACK_KEY.match(key)
    if m:
        team, channel, user_scoped, last = m.groups()
        if channel == "dm":
            return None if user_scoped else Key("slack", team, "dm", None, last)
        return Key("slack", team, channel, None if user_scoped else last, last if user_scoped else None)
    if _CLI_SESSION.match(key) and not key.startswith(_OTHER_CHANNEL):
        return Key("cli")
    return None


def is_conversation(key: Any) -> bool:
    return parse(key) is not None


def check_conversation(key: str) -> str:
    """``key`` when it has a conversation key's shape; InputError otherwise."""
    if not is_conversation(key):
        raise InputError("That conversation id is not valid.", code="bad_conversation")
    return key


def is_internal(key: Any) -> bool:
    """Whether ``key`` names an internal item (a short link, a Slack delivery, insight records)."""
    return isinstance(key, str) and key.startswith(INTERNAL_PREFIXES)


def check_store_key(key: Any) -> str:
    """What a conversation store accepts: never an internal prefix, a path, or control characters."""
    if (not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS or "#" in key or "/" in key
            or not key.isprintable()):
        raise InputError("That conversation id is not valid.", code="bad_conversation")
    return key


def conversation_hash(conversation: str) -> str:
    """A per-conversation folder name that reveals nothing of the key (Slack ids, session ids)."""
    return _hash(conversation, 20)


_FOLDER = re.compile(r"(?:^|/)(?:uploads|photos|generated)/([0-9a-f]{16,64})/")


def in_other_conversation(object_key: str, conversation: str) -> bool:
    """Whether a stored object's key (a link a client sent) lies in another conversation's private
    folder (``uploads/``, ``photos/``, ``generated/`` + a hash that is not this conversation's)."""
    own = {conversation_hash(conversation), _hash(conversation, 32)}  # the folder hash and bot.roles.owner_of
    return any(h not in own for h in _FOLDER.findall(object_key or ""))


def blob_folder(prefix: str, conversation: str) -> str:
    """``<prefix><conversation hash>/``: where a conversation's uploads, photos or images go."""
    if prefix not in (UPLOADS, PHOTOS, GENERATED):
        raise ValueError(f"unknown blob prefix {prefix!r}")
    return f"{prefix}{conversation_hash(conversation)}/"
