"""Help: what the bot can do — the capability the user asked about, or everything — from the intents' specs."""

from __future__ import annotations

import re

from bot.nlu import fold, normalize
from bot.specs import OVERVIEW_QUESTION, IntentContext, IntentSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="Help",
    description="Explains what the bot can do and how to ask for it.",
    samples=(
        "help", "help me", "I need help", "what can you do", "what can you do for me", "what are your features",
        "how do I use this bot", "how do I use coursebot", "how does this work", "what commands do you understand", "show me the commands",
        "what are you able to do", "what kind of questions can I ask", "what are your capabilities",
        "can you help me", "I'm lost", "I'm confused, how does this work", "give me some examples",
        "what should I ask you", "how can you help me", "what do you do", "tell me about yourself",
        "who are you", "what are you", "list your skills", "menu", "options", "what services do you support",
        "instructions please", "how do I get started", "what can I do here", "ayuda", "aide",
    ),
    keywords=("help", "hlep", "halp", "commands", "features", "capabilities", "skills", "menu", "options",
              "what can you do", "do you support", "how do i use", "how do i send", "how do i upload",
              "ayuda", "aide", "hilfe", "ajuda", "aiuto", "que puedes hacer", "que peux-tu faire", "was kannst du",
              "o que voce pode fazer"),
    lead_verbs=("help", "hlep", "halp", "ayuda", "aide", "hilfe", "ajuda"),
    remembered=False,
)

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def _topics(text: str, specs: list[IntentSpec]) -> list[IntentSpec]:
    """The capabilities a help question names ("can you do stuff with images?" -> the photo intents)."""
    low = fold(normalize(text))
    words = set(_WORD.findall(low))
    out = []
    for spec in specs:
        hits = 0
        for k in spec.keywords:
            k = fold(normalize(k))
            if (" " in k and k in low) or k in words or (len(k) >= 5 and any(w.startswith(k[:5]) and len(w) <= len(k) + 3 for w in words)):
                hits += 1
        if hits:
            out.append(spec)
    return out


def capabilities() -> list[str]:
    """One line per registered intent that does something for the user (the Help answer, Slack's App Home)."""
    from intents import registry

    return [i.spec.help for i in registry().values() if i.spec.help and i.spec.name != SPEC.name]


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    intents = ctx.intents
    if not intents:
        from intents import registry

        intents = registry()
    listed = [i.spec for i in intents.values() if i.spec.help and i.spec.name != SPEC.name]
    asked = _topics(turn.text or "", listed)
    specs = asked or listed
    lines = []
    for spec in specs:
        line = f"- {spec.help}"
        if asked and spec.help_status is not None:
            try:
                status = spec.help_status(ctx.services)
            except Exception:  # what is installed is a detail; Help still answers
                status = None
            if status:
                line += f" {status}"
        lines.append(line)
    backend = ctx.settings.backend
    if asked:
        yes = re.match(r"^\W*(can|could|do|are|will)\b", turn.text.strip().lower())
        text = ("Yes — here is how:\n" if yes else "Here is how:\n") + "\n".join(lines) + \
            f"\n(Running on the {backend} backend. Type \"help\" for everything I do.)"
    else:
        text = "Here is what I can do:\n" + "\n".join(lines) + f"\n(Running on the {backend} backend.)"
    return Reply(text=text, intent=SPEC.name, details={"topics": [s.name for s in asked]},
                 suggestions=(OVERVIEW_QUESTION, "Read that aloud"))
