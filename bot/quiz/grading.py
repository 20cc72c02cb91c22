"""Reading a student's answer to a multiple-choice question: a letter, a number or the choice's text.

"b", "B.", "(b)", "2", "second", "the answer is B", "I think it's the second one", "15 minuts" (the
text, with typos) all pick a choice; spoken answers also accept how a speech recognizer writes letters
("the answer is bee", "see"). Anything else picks nothing (None).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Sequence

from bot.quiz import LETTERS

_LEAD = re.compile(r"^\s*(?:(?:ok|okay|um+|uh+|hmm+|well|so|i think|i guess|i'd say|i would say|i say|i pick|"
                   r"i choose|i'll go with|i will go with|let's go with|go with|my answer is|the answer is|"
                   r"answer is|answer|the correct answer is|the right answer is|it's|it is|its|is it|"
                   r"maybe|probably|definitely|surely|perhaps|"
                   r"(?:the\s+)?(?:option|choice|letter|number)|the one|that's|that is)[\s,:]*)+", re.I)
_TAIL = re.compile(r"[\s,.!?:;)]*(?:please|i think|i guess|final answer|is correct|is right|one)?[\s.!?)]*$", re.I)
_NUMBER_WORDS = {"one": 0, "first": 0, "1st": 0, "two": 1, "second": 1, "2nd": 1, "three": 2, "third": 2,
                 "3rd": 2, "four": 3, "fourth": 3, "4th": 3, "five": 4, "fifth": 4, "5th": 4, "last": -1}
# how speech recognizers write a spoken letter
_SPOKEN = {"a": 0, "ay": 0, "eh": 0, "hey": 0, "b": 1, "be": 1, "bee": 1, "bea": 1, "c": 2, "see": 2, "sea": 2,
           "si": 2, "cee": 2, "d": 3, "dee": 3, "de": 3, "e": 4, "ee": 4}
STOP_WORDS = re.compile(r"^\W*(skip|pass|next|next question|i don'?t know|no idea|dunno|give up|i give up|"
                        r"stop|stop the quiz|end the quiz|quit|quit the quiz|end quiz|stop quiz|exit|enough|"
                        r"no more|that's enough|done|i'm done|finish|finish the quiz)\W*$", re.I)


def _plain(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w%.,' -]+", " ", text)
    return " ".join(text.split()).strip(" .,'")


def _core(text: str) -> str:
    """What is left of an answer without its lead-in ("the answer is ...") and trailing words."""
    text = _plain(text)
    text = _LEAD.sub("", text)
    return _TAIL.sub("", text).strip(" .,'")


def by_letter(text: str, n: int, spoken: bool = False) -> int | None:
    """The choice a letter or number names ("B", "(b)", "2", "the second one"), else None."""
    raw = text.strip()
    # "A. A container" (a button's text): the letter before a period or bracket
    m = re.match(r"^\s*\(?([A-Ea-e])[.)]\s", raw + " ")
    if m and LETTERS.index(m.group(1).upper()) < n:
        return LETTERS.index(m.group(1).upper())
    core = _core(raw)
    led = core != _plain(raw)  # the message had a lead-in ("the answer is ...")
    if len(core) == 1 and core.upper() in LETTERS[:n]:
        return LETTERS.index(core.upper())
    m = re.fullmatch(r"\(?([a-e])\)?", core)
    if m and LETTERS.index(m.group(1).upper()) < n:
        return LETTERS.index(m.group(1).upper())
    if core.isdigit() and 1 <= int(core) <= n:
        return int(core) - 1
    for w in (core, core.removeprefix("the ").strip()):
        if w in _NUMBER_WORDS:
            i = _NUMBER_WORDS[w]
            return n - 1 if i == -1 else (i if i < n else None)
    if (spoken or led) and core in _SPOKEN and _SPOKEN[core] < n:
        return _SPOKEN[core]
    return None


def by_text(text: str, choices: Sequence[str]) -> int | None:
    """The choice whose text the answer gives (any case, small typos), when exactly one fits clearly."""
    said = _core(text)
    if not said:
        return None
    norm = [_plain(c) for c in choices]
    for i, c in enumerate(norm):
        if said == c or re.sub(r"^(a|an|the) ", "", said) == re.sub(r"^(a|an|the) ", "", c):
            return i
    contained = [i for i, c in enumerate(norm) if len(said) >= 3 and (said in c.split() or f" {said} " in f" {c} ")]
    if len(contained) == 1:
        return contained[0]
    digits = re.findall(r"\d[\d,.]*", said)
    if digits:  # "15" or "15 min" for "15 minutes"
        hits = [i for i, c in enumerate(norm) if re.findall(r"\d[\d,.]*", c)[:1] == digits[:1]]
        if len(hits) == 1:
            return hits[0]
    bare = re.sub(r"^(a|an|the) ", "", said)

    def similarity(c: str) -> float:
        return max(SequenceMatcher(None, said, c).ratio(),
                   SequenceMatcher(None, bare, re.sub(r"^(a|an|the) ", "", c)).ratio())

    scores = sorted(((similarity(c), i) for i, c in enumerate(norm)), reverse=True)
    best, i = scores[0]
    second = scores[1][0] if len(scores) > 1 else 0.0
    if best >= 0.75 and best - second >= 0.12:
        return i
    return None


def grade(text: str, choices: Sequence[str], spoken: bool = False) -> int | None:
    """The index of the choice ``text`` picks, or None when it picks none."""
    if not text or not text.strip() or not choices:
        return None
    picked = by_letter(text, len(choices), spoken)
    return picked if picked is not None else by_text(text, choices)


def looks_like_an_answer(text: str) -> bool:
    """A message that reads as an answer to a lettered question, whatever the choices are ("B",
    "the answer is 2", "option c"), or as leaving it ("skip", "stop")."""
    return by_letter(text or "", len(LETTERS), spoken=True) is not None or bool(STOP_WORDS.match(text or ""))
