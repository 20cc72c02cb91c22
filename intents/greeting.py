"""Greeting: hello, thanks and goodbye, answered in kind."""

from __future__ import annotations

import re

from bot.specs import START_SUGGESTIONS, IntentContext, IntentSpec
from bot.turn import Reply, Turn

SPEC = IntentSpec(
    name="Greeting",
    description="Greets the user, says you're welcome and goodbye.",
    samples=(
        "hi", "hello", "hey", "hi there", "hello there", "hey there", "hey bot", "hello coursebot",
        "good morning", "good afternoon", "good evening", "howdy", "hiya", "yo", "greetings",
        "what's up", "hey how are you", "how are you doing today", "nice to meet you", "morning",
        "hi, anyone there", "hello again", "thanks", "thank you", "thank you so much", "thanks a lot",
        "cheers", "bye", "goodbye", "see you later", "good night", "have a nice day", "hola", "bonjour",
        "hallo", "ciao", "hey, good to see you", "sup",
    ),
    keywords=("hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "greetings", "morning", "evening",
              "thanks", "thank you", "thx", "ty", "tysm", "cheers", "appreciate it", "bye", "goodbye", "see you",
              "see ya", "later", "good night", "cya", "hola", "buenos dias", "buenas", "gracias", "adios", "adiós",
              "bonjour", "bonsoir", "salut", "merci", "au revoir", "hallo", "guten tag", "guten morgen", "danke",
              "tschüss", "tschuss", "servus", "olá", "ola", "oi", "bom dia", "boa tarde", "obrigado", "obrigada",
              "tchau", "ciao", "grazie"),
    small_talk=True,
)

_THANKS = re.compile(r"\b(thanks?|thank you|thank u|thanx|thx|ty|tysm|cheers|appreciate|gracias|merci|danke|grazie|obrigad[oa]|vielen dank)\b", re.I)
_BYE = re.compile(r"\b(bye|goodbye|see you|see ya|cya|later|good night|farewell|adios|adiós|au revoir|tsch(ü|u)ss|tchau|ciao for now|hasta luego)\b", re.I)
_SUGGESTIONS = START_SUGGESTIONS


def handle(turn: Turn, ctx: IntentContext) -> Reply:
    text = turn.text.strip()
    if _THANKS.search(text):
        answer = "You're welcome! Ask me anything else about the course whenever you like."
    elif _BYE.search(text):
        answer = "Goodbye! Come back any time you have a question about the course."
    else:
        answer = ("Hi! I'm coursebot, your course assistant. I can answer questions from the course PDFs, "
                  "summarize text, describe photos, read answers aloud and generate images. What would you like to do?")
    return Reply(text=answer, intent=SPEC.name, suggestions=_SUGGESTIONS)
