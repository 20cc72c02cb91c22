"""An intent is self-contained: registering a new module puts it in the NLU, Help and the Lex export."""

from __future__ import annotations

import sys
import textwrap

import pytest

THROWAWAY = '''
"""Flip a coin (a throwaway intent for the registry test)."""
from bot.specs import IntentSpec, Slots
from bot.turn import Reply

SPEC = IntentSpec(
    name="FlipCoin",
    description="Flips a coin.",
    samples=tuple(f"{a} {b}" for a in ("flip", "toss", "throw", "spin", "please flip", "can you toss")
                  for b in ("a coin", "the coin", "a quarter", "a penny", "heads or tails")),
    keywords=("coin", "heads or tails"),
    lead_verbs=("flip", "toss"),
    help="\\"Flip a coin\\" says heads or tails.",
    extract=lambda text, instruction, payload: Slots(),
)


def handle(turn, ctx):
    return Reply(text="Heads.", intent=SPEC.name)
'''


@pytest.fixture
def with_throwaway(tmp_path, monkeypatch):
    import intents

    (tmp_path / "flip_coin_intent.py").write_text(textwrap.dedent(THROWAWAY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(intents, "MODULES", (*intents.MODULES, "flip_coin_intent"))  # the one registration line
    intents.registry.cache_clear()
    yield
    intents.registry.cache_clear()
    sys.modules.pop("flip_coin_intent", None)


def test_a_new_intent_reaches_nlu_help_and_lex(with_throwaway, services):
    from bot.channels import lex_definition
    from bot.router import Router
    from bot.turn import Turn

    router = Router(services)
    assert "FlipCoin" in router.intents
    assert services.nlu.parse("toss a coin please").intent == "FlipCoin"
    assert router.handle(Turn(conversation="c", text="flip a coin")).text == "Heads."
    help_text = router.handle(Turn(conversation="c", text="what can you do?")).text
    assert "Flip a coin" in help_text
    exported = {i.name: i for i in lex_definition.build().intents}
    assert "flip a coin" in exported["FlipCoin"].utterances


def test_core_modules_name_no_intent():
    """The NLU, router and Help read specs; they never spell an intent's name."""
    from pathlib import Path

    import intents

    names = [i.spec.name for i in intents.registry().values()]
    root = Path(__file__).resolve().parents[1]
    for module in ("bot/nlu.py", "bot/router.py", "intents/help.py"):
        code = (root / module).read_text(encoding="utf-8")
        code_lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("#")]
        body = "\n".join(code_lines)
        for name in names:
            if module == "intents/help.py" and name == "Help":
                continue
            if module == "bot/router.py" and name == "Fallback":
                body = body.replace('conversation.extra.get("_intent", "Fallback")', "")  # the failure replies
            assert f'"{name}"' not in body, (module, name)


def test_private_flags_are_typed_fields_not_slot_keys(nlu_parse=None):
    from bot.specs import Slots

    s = Slots({"text": "hi"}, explicit_payload=True)
    assert dict(s) == {"text": "hi"} and s.explicit_payload and not s.from_attachment
    assert Slots(s).explicit_payload  # copies keep their flags
    with pytest.raises(TypeError):
        Slots({}, secret=True)
    import bot.router
    import bot.specs

    assert not hasattr(bot.specs, "IntentModule") and not hasattr(bot.router, "Middleware")
