"""The offline question generator: fill-in-the-blank multiple choice built from course sentences.

A question is one sentence of a passage with a key phrase blanked out: the term a definition
sentence defines ("_____ is a running instance of an image"), a number with its unit (a limit, a
size, a duration), or a name (a service, an API operation, a function). The distractors are phrases
of the same kind from *other* passages of the course (sizes with sizes, services with services);
a number without enough of them gets nearby values of the same unit. A question is dropped when
its text gives the answer away, and a distractor is dropped when it is the answer in disguise
(the same words, the same quantity), appears in the cited passage, or appears in the question.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Callable, Iterable, Sequence

from bot import textutil
from bot.quiz import DEFAULT_QUESTIONS, MAX_CHOICES, MIN_CHOICES, Question, QuizPassage

BLANK = "_____"
MIN_WORDS, MAX_WORDS = 7, 45

STOP = frozenset("""a an the of to in on for and or but with by from at as is are was were be been being it its this that
these those their there which who whom what when where how than then so such can may might must will would should could
into onto over under about after before between each every any all some most more less not no nor only also very your
you we our they them he she his her one two three""".split())
_GENERIC = frozenset("amazon aws service services function functions the api".split())
_PRONOUN_START = re.compile(r"^(it|its|this|that|these|those|they|them|their|such|both|he|she|here|there|then|"
                            r"also|however|otherwise|instead|thus|hence|so|but|and|or)\b", re.I)
_BACK_REFERENCE = re.compile(r"\b(it|its|this|these|those|they|them|their|the former|the latter|above|below|"
                             r"previous|following)\b", re.I)
_CODE = re.compile(r"<-|[{}\[\]$#@|\\;<>=~^]|\b\w+\s*\(\s*\w[^)]*,|\w\([^()]*\(|--\w")  # code, formulas, calls
_NOISE = re.compile(r"\b(figure|table|appendix|see section|see chapter|page \d+|chapter \d+|section \d+|et al)\b"
                    r"|\(\d{4}\)", re.I)  # cross-references and bibliography entries
_NOT_PASSAGES = re.compile(r"\b(index|references|bibliography|contents|acknowledg\w*|preface)\b", re.I)

# --- units of quantities -----------------------------------------------------------------------------
_BYTES = {"b": 1, "byte": 1, "bytes": 1, "kb": 1e3, "kib": 1024, "mb": 1e6, "mib": 1024 ** 2, "gb": 1e9,
          "gib": 1024 ** 3, "tb": 1e12, "tib": 1024 ** 4}
_TIME = {"ms": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
         "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "day": 86400,
         "days": 86400, "week": 604800, "weeks": 604800, "month": 2.6e6, "months": 2.6e6, "year": 3.15e7,
         "years": 3.15e7}
_PERCENT = {"%": 1, "percent": 1, "per cent": 1}
_FAMILIES = (("bytes", _BYTES), ("time", _TIME), ("percent", _PERCENT))
_NUMBER = re.compile(r"(?<![\w.,$/#*-])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
                     r"(?:(?P<pct>\s?%)|(?P<tight>(?:KB|MB|GB|TB|KiB|MiB|GiB|ms))\b|\s+(?P<unit>[A-Za-z][A-Za-z-]{0,20}))?")
_NOT_UNITS = STOP | frozenset("""times percent per more less fewer or and to gives means makes uses returns takes has does
goes runs works equals becomes needs shows contains includes requires yields sets gets lets puts""".split())


@dataclass(frozen=True)
class Phrase:
    """A blankable phrase of a sentence: its text, where it is, and its kind (``number:bytes``, ``service``...)."""

    text: str
    start: int
    end: int
    kind: str
    weight: float
    value: float | None = None  # numbers: the quantity in the family's base unit
    unit: str = ""


def _unit_family(unit: str) -> tuple[str, float] | None:
    low = unit.lower()
    for family, table in _FAMILIES:
        if low in table:
            return family, table[low]
    return None


def _number_value(num: str) -> float:
    return float(num.replace(",", ""))


def numbers(sentence: str) -> list[Phrase]:
    """Quantities with a unit ("15 minutes", "10,240 MB", "5 requests"); bare numbers are no blanks."""
    out = []
    for m in _NUMBER.finditer(sentence):
        num = m.group("num")
        unit = (m.group("pct") or m.group("tight") or m.group("unit") or "").strip()
        if not unit or unit.lower() in _NOT_UNITS:
            continue
        end = m.end()
        fam = _unit_family(unit)
        if fam is None:
            if not re.fullmatch(r"[a-z][a-z-]+s", unit) or len(unit) < 4:  # a counted thing: "5 requests"
                continue
            kind, value = f"number:{unit.lower()}", _number_value(num)
        else:
            kind, value = f"number:{fam[0]}", _number_value(num) * fam[1]
        out.append(Phrase(sentence[m.start():end], m.start(), end, kind, 3.4 if fam else 2.6, value, unit))
    return out


_SERVICE = re.compile(r"\b(?:Amazon|AWS)(?:\s+(?:[A-Z][\w-]*|\d\w*)){1,3}")
_CAMEL = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+\b(?:\s+[A-Z][a-z]+\b(?!\s+[a-z]+s\b))?")
_OPERATION_VERBS = frozenset("""add analyze associate batch call complete compare converse create delete describe detect
disassociate elicit get index invoke list put query recognize retrieve search send start stop synthesize tag translate
update upload""".split())
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,5}s?\b")
_PROPER = re.compile(r"\b[A-Z][a-z][\w-]*(?:\s+[A-Z][\w-]*){0,3}")
_CALL = re.compile(r"(?<![\w.])[A-Za-z][\w.]*\(\)")
_DEFINITION = re.compile(
    r"^(?P<term>(?:(?:A|An|The)\s+)?[A-Za-z][\w-]*(?:\s+[\w()-]+){0,3}?)\s+"
    r"(?P<verb>is an?|is the|are|means|refers to|stands for|lets you|let you|allows you to|allow you to|"
    r"is used to|are used to|is|describes|decides|keeps|maps|returns|reads|gives|finds|checks|creates|adds|"
    r"combines|names|looks for|packages|runs|converts|splits|holds|stores|computes|produces|generates)\b")
_NOT_TERMS = re.compile(r"^(?:(?:a|an|the)\s+)?(each|every|some|most|many|any|all|one|first|second|last|other|"
                        r"once|since|although|though|while|whilst|if|unless|because|as|after|before|until|whereas|"
                        r"similarly|likewise|however|thus|hence|therefore|note|now|again|finally|also|even|then|"
                        r"often|usually|sometimes|generally|normally|typically|currently|alternatively|indeed|"
                        r"permission|section|chapter|appendix|figure|table|example|examples|around|about|over|"
                        r"under|approximately|nearly|almost|just|roughly|up|another|suppose|consider|let|use|see|"
                        r"assume|recall|remember|imagine|try|"
                        r"same|this|that|it|there|here|you|we|they|what|which|when|where|how|why|if|only|both|whenever|wherever|"
                        r"result|results|default|example|answer|following|use|way|idea|user|users|reason|"
                        r"problem|point|case|value|values|number|rest)\b", re.I)


def _names(sentence: str) -> list[Phrase]:
    out: list[Phrase] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match, kind: str, weight: float) -> None:
        s, e = m.start(), m.end()
        text = m.group(0).rstrip(".,;:")
        e = s + len(text)
        if any(s < te and ts < e for ts, te in taken) or len(text) < 2:
            return
        taken.append((s, e))
        out.append(Phrase(text, s, e, kind, weight))

    for m in _SERVICE.finditer(sentence):
        add(m, "service", 2.6)
    for m in _CALL.finditer(sentence):
        add(m, "call", 2.8)
    for m in _CAMEL.finditer(sentence):
        first = re.match(r"[A-Z][a-z]+", m.group(0)).group(0).lower()
        add(m, "operation" if first in _OPERATION_VERBS and " " not in m.group(0) else "camel", 2.7)
    for m in _PROPER.finditer(sentence):
        if m.start() == 0 or re.match(r"(A|An|The)\s", m.group(0)):  # a capital at the start of a sentence says nothing
            continue
        words = m.group(0).split()
        if all(w.lower() in STOP for w in words) or len(words[-1]) == 1 or sentence[m.end():m.end() + 1] == ".":
            continue  # "John M. Chambers" is cut at the initial: no blank
        add(m, "proper", 1.9 if len(words) > 1 else 1.5)
    return out


_VAGUE = frozenset("""advantage disadvantage reader user users latter former input output function functions problem
idea result results difference reason main aim purpose point rest effect answer question thing things way ways
method methods approach process step steps part parts case cases number numbers value values name names item items
list object objects type types kind kinds form forms term terms word words line lines command commands file files
program programs system systems data option options argument arguments key main goal trick solution
alternative defaults dimension dimensions details detail""".split())
_VAGUE_ANY = frozenset("related latter former first second third fourth fifth last next previous following above "
                       "below other same such certain particular various several larger smaller large small big "
                       "new old simple common useful usual little few much".split())


def definition_term(sentence: str) -> Phrase | None:
    """The term a definition sentence defines ("A container is ...", "Docker packages ..."), or None."""
    m = _DEFINITION.match(sentence)
    if not m:
        return None
    term = m.group("term")
    words = term.split()
    bare = [w for w in words if w.lower() not in ("a", "an", "the")]
    if not bare or len(bare) > 4 or _NOT_TERMS.match(term) or _PRONOUN_START.match(term):
        return None
    if any(w.lower() in STOP for w in bare) or re.search(r"\((?!\))", term) or len("".join(bare)) < 2:
        return None
    if len(bare) == 1 and len(bare[0]) < 3 and not any(c.isdigit() for c in bare[0]):
        return None  # "R", "D": a letter is no term to recognise
    if all(w.lower().strip("()") in _VAGUE for w in bare) or any(w.lower() in _VAGUE_ANY for w in bare):
        return None  # "The advantage", "The reader", "A related function": no term a student could learn
    if any(c.isdigit() for c in term) and not _SERVICE.fullmatch(term):
        return None
    if bare[0].lower().endswith("ly") or (bare[-1].lower().endswith("est") and len(bare[-1]) > 5):
        return None  # "Internally calculations", "The simplest"
    if re.search(r"\b(whose|which|that|where|when|who)\b", term, re.I):
        return None  # "Numeric calculations whose result": a clause, no term
    if len(bare) > 3 and not all(w[:1].isupper() for w in bare):
        return None  # "The R specific function typeof": a description around the term, not the term
    if re.match(r"\s*(that|how|why|what|when|where|whether|because|to)\b", sentence[m.end():]):
        return None  # "The point is that ...": no definition
    verb = m.group("verb")
    strong = verb.startswith(("is", "are", "means", "refers", "stands", "lets", "let", "allow"))
    agree = "plural" if verb.startswith("are") or verb in ("let you", "allow you to") else "singular"
    return Phrase(term, 0, len(term), f"term:{agree}", 3.2 if strong else 2.3)


def phrases(sentence: str) -> list[Phrase]:
    """Every blankable phrase of ``sentence``, best first."""
    found = numbers(sentence)
    term = definition_term(sentence)
    if term is not None:
        found.append(term)
    spans = [(p.start, p.end) for p in found]
    found += [p for p in _names(sentence) if not any(p.start < e and s < p.end for s, e in spans)]
    return sorted(found, key=lambda p: -p.weight)


# --- comparing phrases ---------------------------------------------------------------------------
def _norm(text: str) -> str:
    text = re.sub(r"[^\w%.]+", " ", text.lower()).strip()
    return re.sub(r"^(a|an|the)\s+", "", text)


def _tokens(text: str) -> set[str]:
    return {(w[:-1] if len(w) > 3 and w.endswith("s") else w)[:5] for w in re.findall(r"[a-z0-9]+", text.lower())
            if (len(w) >= 3 or (len(w) == 2 and any(c.isdigit() for c in w))) and w not in STOP}


def _content(text: str) -> set[str]:
    return _tokens(text) - {w[:5] for w in _GENERIC}


def same_answer(a: Phrase | str, b: Phrase | str) -> bool:
    """Whether two phrases say the same thing (the right answer in disguise)."""
    ta, tb = (x.text if isinstance(x, Phrase) else x for x in (a, b))
    qa = a if isinstance(a, Phrase) and a.value is not None else next(iter(numbers(ta + " ")), None)
    qb = b if isinstance(b, Phrase) and b.value is not None else next(iter(numbers(tb + " ")), None)
    if qa is not None and qb is not None:  # quantities: the same amount, whatever the unit
        return qa.kind == qb.kind and math.isclose(qa.value or 0.0, qb.value or 0.0, rel_tol=0.05)
    if re.search(r"\d", ta) and re.search(r"\d", tb) and re.findall(r"\d+", ta) != re.findall(r"\d+", tb):
        return False
    na, nb = _norm(ta), _norm(tb)
    if not na or not nb or na == nb or re.sub(r"^(amazon|aws) ", "", na) == re.sub(r"^(amazon|aws) ", "", nb):
        return True
    ca, cb = _content(ta), _content(tb)
    if ca and cb and (ca <= cb or cb <= ca):
        return True
    return SequenceMatcher(None, na, nb).ratio() >= 0.8


def _mentions(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` (as words, ignoring case and articles)."""
    core = _norm(phrase)
    if not core:
        return False
    return re.search(r"(?<![\w])" + re.escape(core).replace(r"\ ", r"\s+") + r"(?![\w])",
                     re.sub(r"[^\w%.]+", " ", text.lower())) is not None


_KEYWORD_CALLS = frozenset("for while repeat if else function return switch next break in".split())


def _split_words(text: str) -> list[str]:
    """Words of ``text`` with camelCase and dotted names split ("DetectText" -> detect, text)."""
    text = re.sub(r"\(\)", " ", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return re.findall(r"[a-z0-9]+", text.lower())


def _root(word: str) -> str:
    """A crude stem: plural and common endings off ("axes", "axis" -> "ax"; "reads" -> "read")."""
    w = word.lower()
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "es", "is", "ed", "s", "y", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 2:
            w = w[:-len(suffix)]
            break
    return w[:6]


def _roots(text: str) -> set[str]:
    return {_root(w) for w in _split_words(text)
            if len(w) >= 3 and w not in STOP and w not in _GENERIC and not w.isdigit()}


def gives_away(question: str, answer: Phrase) -> bool:
    """The question text already names the answer: its distinctive words (or their roots: "axes" for
    axis(), "text" for DetectText), or the same number."""
    if answer.value is not None:
        num = re.match(r"[\d,.]+", answer.text)
        if not num:
            return False
        digits = num.group(0).rstrip(".,")
        rest = question.replace(BLANK, " ")
        if len(digits) >= 2 and digits in rest:  # also inside a name: "LD50" gives away 50%
            return True
        return re.search(r"(?<![\w.,])" + re.escape(digits) + r"(?![\w,])", rest) is not None
    rest = question.replace(BLANK, " ")
    call = _CALL.search(answer.text)
    if call and call.group(0)[:-2].lower() in _KEYWORD_CALLS:
        return True  # "_____ loops": a keyword is no function to choose among functions
    if call and re.search(r"(?<![\w.])" + re.escape(call.group(0)[:-2]) + r"(?![\w(])", rest):
        return True  # "t()" and "a function named t"
    words = _content(answer.text)
    if words & _tokens(rest):
        return True
    return bool(_roots(answer.text) & _roots(rest))


# --- sentences worth asking about ------------------------------------------------------------------
@dataclass(frozen=True)
class _Sentence:
    text: str
    passage: QuizPassage
    previous: str = ""
    section: str = ""  # the heading the sentence sits under inside the passage ("" when none is seen)


def _usable(s: str) -> bool:
    words = s.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or "?" in s or s.endswith(":"):
        return False
    if re.match(r"\d{1,2}\s+[A-Z][a-z]", s) and not numbers(s[:40]):  # "5 Note that ...": a footnote mark
        return False
    if not re.match(r"[A-Z0-9\u201c\"]", s):  # a fragment ("would create ...", "(alternatively ...", "--debug ...")
        return False
    if re.search(r"\u2212|\s[.,;]|[a-z]\.\d|\.\.\.|\u2026|[,.)]\d\b", s):  # formulas, footnote marks, elisions
        return False
    if s.count("(") != s.count(")") or s.count("\u201c") != s.count("\u201d"):
        return False
    if _CODE.search(s) or _NOISE.search(s) or not re.search(r"[.!]\W*$", s):
        return False
    letters = sum(c.isalpha() for c in s)
    return letters >= 0.6 * len(s) and not s.isupper()


def _clean(text: str) -> str:
    text = re.sub(r"\*\*|__", "", text)
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return re.sub(r"\s+", " ", text).strip()


def passage_sentences(p: QuizPassage) -> list[_Sentence]:
    out: list[_Sentence] = []
    if _NOT_PASSAGES.search(p.context.split(" - ")[-1] if " - " in p.context else ""):
        return out
    previous = ""
    section = ""
    lines = p.text.split("\n")
    for n, line in enumerate(lines):  # a heading ends its line: it never joins a sentence
        parts = textutil.sentences(line)
        for i, raw in enumerate(parts):
            s = _clean(raw)
            ends_line = i == len(parts) - 1 and n < len(lines) - 1
            if section and len(parts) == 1 and ends_line and re.fullmatch(r"[a-z][\w-]*(?: [a-z][\w-]*){0,2}", s) \
                    and n > 0 and _heading_line(lines[n - 1].rsplit(". ", 1)[-1]):
                section = f"{section} {s}"  # a heading wrapped onto a second line: "... learning" + "platform"
                continue
            if (ends_line and _heading_line(s)) or (s.endswith("?") and _heading_like(s[:-1])):
                section, previous = s, ""
                continue
            if _usable(s):
                out.append(_Sentence(s, p, previous, section))
            previous = s if len(s.split()) >= MIN_WORDS else ""
    return out


def _heading_line(line: str) -> bool:
    """A line that is a section heading: short, capitalised or numbered, no sentence end, no code."""
    text = _clean(line)
    words = text.split()
    if not 1 <= len(words) <= 10 or len(text) < 4 or re.search(r"[.!?;:,]$", text) or _CODE.search(text):
        return False
    if not (text[:1].isupper() or re.match(r"\d+(\.\d+)*\s+[A-Z]", text)):
        return False
    body = re.sub(r"^\d+(\.\d+)*\s+", "", text)
    if any(re.search(r"\d", w) and re.search(r"[A-Za-z]", w) or re.search(r"\w\.\w", w) for w in body.split()):
        return False  # "Syntax error: 12iL 0x1.1" is an example, not a heading
    return not re.search(r"\b(is|are|was|were|has|have|can|will|returns|runs)\b", text)


# --- the pool of distractors -------------------------------------------------------------------------
class Pool:
    """Blankable phrases of every passage of the course, by kind, to draw distractors from; where each
    phrase was seen (document, passage order, the words of its sentences) and, given an embedder,
    how close in meaning two phrases are."""

    def __init__(self, passages: Iterable[QuizPassage], embed: "Callable[[list[str]], Any] | None" = None):
        self.by_kind: dict[str, list[tuple[Phrase, str]]] = {}
        self.family: dict[str, list[tuple[Phrase, str]]] = {}
        self.names: set[str] = set()  # names written with capitals in the middle of a sentence
        self.counts: dict[str, int] = {}  # how often each name occurs: a one-off capitalised word is no name
        self.places: dict[str, tuple[str, int]] = {}  # passage ident -> (document, order in the course)
        self.contexts: dict[str, list[set[str]]] = {}  # phrase -> the content words of each sentence it is in
        self.slots: dict[str, str] = {}  # phrase -> a sentence it fills, with the phrase blanked
        self.embed = embed
        self._vectors: dict[str, Any] = {}
        seen: set[tuple[str, str]] = set()
        for order, p in enumerate(passages):
            self.places.setdefault(p.ident, (p.source, order))
            for s in passage_sentences(p):
                for ph in phrases(s.text):
                    key = (ph.kind, _norm(ph.text))
                    self.counts[key[1]] = self.counts.get(key[1], 0) + 1
                    rest = s.text[:ph.start] + " " + s.text[ph.end:]
                    self.contexts.setdefault(key[1], []).append(_roots(rest))
                    self.slots.setdefault(key[1], s.text[:ph.start] + BLANK + s.text[ph.end:])
                    if ph.kind == "service" or (ph.start > 0 and ph.kind in ("camel", "proper", "operation")) or \
                            _SERVICE.fullmatch(ph.text) or _CAMEL.fullmatch(ph.text):
                        self.names.add(key[1])
                        self.names.add(re.sub(r"^(amazon|aws)\s+", "", key[1]))
                    if key in seen:
                        continue
                    seen.add(key)
                    self.by_kind.setdefault(ph.kind, []).append((ph, p.ident))
                    self.family.setdefault(ph.kind.split(":")[0], []).append((ph, p.ident))

    def also_true(self, candidate: Phrase, stem: str) -> bool:
        """Whether the course says of ``candidate`` what the stem says of the answer: a sentence holding
        the candidate shares most of the stem's content words (then two choices would be right)."""
        words = _roots(stem)
        if not words:
            return False
        need = max(3, math.ceil(0.6 * len(words)))
        return any(len(words & ctx) >= need for ctx in self.contexts.get(_norm(candidate.text), ()))

    def closeness(self, answer: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of ``answer`` to each of ``texts`` by the embedder (zeros without one)."""
        if self.embed is None or not texts:
            return [0.0] * len(texts)
        missing = [t for t in dict.fromkeys([answer, *texts]) if t not in self._vectors]
        if missing:
            try:
                vectors = self.embed(missing)
            except Exception:  # an embedder that fails leaves the ranking by shape and place
                self.embed = None
                return [0.0] * len(texts)
            for t, v in zip(missing, vectors):
                norm = float((v @ v) ** 0.5) or 1.0
                self._vectors[t] = v / norm
        a = self._vectors[answer]
        return [float(a @ self._vectors[t]) for t in texts]

    def fit(self, stem: str, candidates: Sequence[Phrase]) -> list[float]:
        """How close in meaning each candidate is to the answer, by the phrases and by the sentences they
        fill: a candidate whose own sentence reads like the stem is of the same kind ("Fine-tuning adapts a
        model ..." for "_____ is the cheapest way to steer a model")."""
        slots = [self.slots.get(_norm(c.text), c.text) for c in candidates]
        return self.closeness(stem, slots)

    def is_name(self, ph: Phrase) -> bool:
        """Whether a phrase can stand as a name: anything but a capitalised word (or words) seen only once."""
        return ph.kind != "proper" or self.counts.get(_norm(ph.text), 0) >= 2

    def candidates(self, answer: Phrase) -> list[tuple[Phrase, str]]:
        same = list(self.by_kind.get(answer.kind, []))
        if answer.kind.startswith("term:"):  # terms of the same number first, then names of the same shape
            names = self.family.get("service", []) + self.family.get("camel", [])
            same += [c for c in names if shape(c[0], self.names) == shape(answer, self.names)]
        elif answer.kind in ("service", "camel", "proper"):
            related = {"service": ("camel",), "camel": ("service",), "proper": ("service", "camel")}[answer.kind]
            for kind in related:
                same += self.family.get(kind, [])
            if answer.kind == "proper":  # "John Chambers" among two-word names, never "Delete"
                n = len(answer.text.split())
                same = [c for c in same if len(c[0].text.split()) == n]
        return same


def shape(ph: Phrase, names: set[str] | frozenset[str] = frozenset()) -> str:
    """What a phrase looks like: an API operation, a noun phrase ("a training job"), or a name ("Amazon Polly")."""
    text = ph.text
    if ph.kind == "operation" or (_CAMEL.fullmatch(text) and
                                  re.match(r"[A-Z][a-z]+", text).group(0).lower() in _OPERATION_VERBS):
        return "operation"
    if ph.kind == "call" or ph.value is not None:
        return ph.kind
    if "()" in text:
        return "call"
    words = text.split()
    if words[0].lower() in ("a", "an", "the") and len(words) > 1:
        words = words[1:]
    if all(w[:1].isupper() or any(c.isdigit() for c in w) for w in words):
        # a capital at the start of a sentence is a name only when the course writes it so elsewhere too
        if ph.kind.startswith("term:") and ph.start == 0 and _norm(text) not in names and " " not in text:
            return "noun"
        return "name"
    return "noun"


def _shape_distance(a: Phrase, b: Phrase, names: set[str] | frozenset[str] = frozenset()) -> float:
    wa, wb = len(a.text.split()), len(b.text.split())
    d = abs(wa - wb) * 0.6 + abs(len(a.text) - len(b.text)) / 12
    if a.kind != b.kind:
        d += 1.5
    if shape(a, names) != shape(b, names):
        d += 4.0
    if a.kind.startswith("term:") and b.kind.startswith("term:") and b.weight < 3:
        d += 1.0  # a defined term ("X is a ...") beats a subject of any verb
    if a.value is not None and b.value is not None and a.value > 0 and b.value > 0:
        d += abs(math.log10(a.value) - math.log10(b.value)) * 0.5
        if a.unit.lower() != b.unit.lower():
            d += 0.7
    if a.text[:1].isupper() != b.text[:1].isupper():
        d += 1.0
    return d


def _fmt_number(value: float, like: str) -> str:
    if "," in like or (value >= 10_000 and value == int(value)):
        return f"{int(value):,}" if value == int(value) else f"{value:,.1f}"
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nearby_numbers(answer: Phrase, rng: random.Random) -> list[Phrase]:
    """Plausible wrong values of the same unit: doubled, halved, ten times, ..."""
    m = re.match(r"([\d,]+(?:\.\d+)?)(.*)$", answer.text, re.S)
    if not m or answer.value is None:
        return []
    num, rest = m.group(1), m.group(2)
    n = _number_value(num)
    integral = "." not in num
    factors = [2, 0.5, 4, 0.25, 10, 0.1, 3, 1.5, 5]
    out = []
    for f in factors:
        v = n * f
        if answer.kind == "number:percent" and v > 100:
            continue
        if integral:
            if v < 1 or v != int(v):
                continue
        elif v <= 0:
            continue
        if v == n:
            continue
        text = _fmt_number(v, num) + rest
        scale = answer.value / n if n else 1
        out.append(Phrase(text, 0, len(text), answer.kind, 0, v * scale, answer.unit))
    head = out[:4]
    rng.shuffle(head)
    return head + out[4:]


def _fits(distractor: str, answer: Phrase) -> str:
    """The distractor written to fit the blank: capitalised like the answer."""
    if answer.start == 0 and distractor[:1].islower() and not _CALL.fullmatch(distractor):
        return distractor[:1].upper() + distractor[1:]
    if answer.start > 0 and re.match(r"^(A|An|The)\s", distractor):
        return distractor[:1].lower() + distractor[1:]
    return distractor


def _plural(ph: Phrase) -> bool | None:
    """Whether a phrase is plural ("Slots", "HTTP APIs"), singular ("Bucket"), or neither (calls, numbers)."""
    if ph.kind.startswith("term:"):
        return ph.kind == "term:plural"
    if ph.value is not None or ph.kind in ("call", "operation") or "()" in ph.text:
        return None
    last = ph.text.split()[-1]
    if ph.kind in ("proper", "service", "camel") and re.fullmatch(r"[A-Z][a-z][\w-]*", last):
        return None  # "John Chambers", "Amazon Comprehend": a name's last letter says nothing of number
    return bool(re.search(r"[^su']s$", last) or re.search(r"[A-Z]s$", last)) and not re.search(r"(ss|us|is|ics)$", last)


def _caps(text: str) -> str:
    core = re.sub(r"^(A|An|The)\s+", "", text).replace("()", "")
    return "caps" if re.fullmatch(r"[A-Z][A-Z0-9_.]+", core) else "other"


def _agrees(answer: Phrase, candidate: Phrase) -> bool:
    """The candidate fits the blank's grammar: singular for "_____ is", plural for "_____ are"."""
    a, c = _plural(answer), _plural(candidate)
    if a is True and c is None and candidate.value is None and candidate.kind not in ("call", "operation"):
        return False  # "_____ are simpler ...": "HTTP APIs", never "Amazon Alexa"
    return a is None or c is None or a == c


# how much a distractor from the same document, and from a passage close by, is preferred
SAME_DOCUMENT, NEARBY, NEARBY_SPAN, MEANING = 1.6, 1.2, 6, 5.0
MEANING_SHORTLIST = 40


def distractors(answer: Phrase, sentence: _Sentence, pool: Pool, rng: random.Random,
                want: int = MAX_CHOICES - 1) -> list[str]:
    """Up to ``want`` wrong choices for ``answer``: phrases of the same kind and grammatical number from
    other passages, the closest in shape, preferring the same document, passages close by and (with an
    embedder) phrases close in meaning to the answer; never one the course says the stem of too."""
    question = sentence.text
    passage_text = _clean(sentence.passage.text)
    here = pool.places.get(sentence.passage.ident, (sentence.passage.source, -1))
    options = []
    for ph, where in pool.candidates(answer):
        if where == sentence.passage.ident or not _agrees(answer, ph):
            continue
        d = _shape_distance(answer, ph, pool.names) + rng.random() * 0.8
        source, order = pool.places.get(where, ("", -10 ** 6))
        if source == here[0]:
            d -= SAME_DOCUMENT
            if here[1] >= 0 and abs(order - here[1]) <= NEARBY_SPAN:
                d -= NEARBY * (1 - abs(order - here[1]) / (NEARBY_SPAN + 1))
        options.append((d, ph))
    options.sort(key=lambda o: o[0])
    if pool.embed is not None and answer.value is None and options:
        short = options[:MEANING_SHORTLIST]
        sims = pool.closeness(answer.text, [ph.text for _, ph in short])
        blanked = question[:answer.start] + BLANK + question[answer.end:]
        sims = [0.5 * a + 0.5 * b for a, b in zip(sims, pool.fit(blanked, [ph for _, ph in short]))]
        options = sorted(((d - MEANING * sim, ph) for (d, ph), sim in zip(short, sims)), key=lambda o: o[0]) \
            + options[MEANING_SHORTLIST:]
    stem = question[:answer.start] + " " + question[answer.end:]
    chosen: list[Phrase] = []

    def acceptable(ph: Phrase) -> bool:
        if same_answer(ph, answer) or any(same_answer(ph, c) for c in chosen) or not pool.is_name(ph):
            return False
        if _mentions(passage_text, ph.text) or _mentions(question, ph.text):
            return False
        if answer.kind.startswith("term:") and ph.text.split()[0].lower() in ("a", "an", "the") \
                and answer.text.split()[0].lower() not in ("a", "an", "the"):
            return False
        if answer.value is None and pool.also_true(ph, stem):
            return False
        if _caps(answer.text) != _caps(ph.text) and "caps" in (_caps(answer.text), _caps(ph.text)):
            return False  # NULL among NA and TRUE, never among "Debugging"
        return True

    for _, ph in options:
        if len(chosen) >= want:
            break
        if acceptable(ph):
            chosen.append(ph)
    if answer.value is not None and len(chosen) < want:
        for ph in nearby_numbers(answer, rng):
            if len(chosen) >= want:
                break
            if acceptable(ph):
                chosen.append(ph)
    return [_fits(c.text, answer) for c in chosen]


# --- questions -------------------------------------------------------------------------------------
def _heading_like(text: str) -> bool:
    words = text.split()
    long = [w for w in words if len(w) > 3]
    capitals = sum(w[:1].isupper() for w in long)
    return len(words) <= 6 and bool(long) and (bool(re.match(r"\d", text)) or capitals >= len(long) / 2)


def _good_label(text: str) -> bool:
    """A label worth showing: a title-like heading, not a code token ("CPICFLAGS"), a wrapped fragment of a
    sentence ("Then check the built system works ...") or an example ("With Intel compilers on 32-bit")."""
    text = text.strip()
    body = re.sub(r"^\d+(\.\d+)*\s+", "", text)
    words = body.split()
    if not words or _PRONOUN_START.match(body) or _DISCOURSE_START.match(body):
        return False
    if any(re.search(r"\d", w) and re.search(r"[A-Za-z]", w) for w in words):
        return False
    if len(words) == 1 and re.fullmatch(r"[A-Z0-9_]{5,}", words[0]):
        return False
    numbered = body != text
    return (numbered and len(words) <= 10) or _heading_like(body) or (
        len(words) <= 8 and not re.search(r"\b(is|are|does|do|did|was|were|has|have|can|will|must|should)\b", body)
        and body[:1].isupper() and not body.lower().split()[-1] in STOP)


def _lead(p: QuizPassage, section: str = "") -> str:
    """"Fill in the blank (<section>)": the heading the sentence sits under, else the passage's section
    heading or its document's title (completed from the passage when the index cut it short)."""
    if section and _good_label(section):
        return f"Fill in the blank ({_whole_label(section)})"
    context = (p.context or "").strip()
    if not context:
        return "Fill in the blank"
    parts = [c.strip() for c in context.split(" - ") if c.strip()]
    where = parts[-1] if parts and _good_label(parts[-1]) else parts[0] if parts else context
    where = re.sub(r"\s+\d+$", "", where)  # a running header's page number
    lines = [_clean(x) for x in p.text.split("\n")]
    for n, line in enumerate(lines):  # "Amazon SageMaker: the machine learning" is "... learning platform"
        if n + 1 < len(lines) and re.fullmatch(r"[a-z][\w-]*(?: [a-z][\w-]*){0,2}", lines[n + 1]):
            line = f"{line} {lines[n + 1]}"
        if len(line) > len(where) and line.startswith(where + " ") and _heading_line(line):
            where = line
            break
    return f"Fill in the blank ({_whole_label(where)})"


def _whole_label(text: str, limit: int = 80) -> str:
    """``text`` within ``limit`` characters, cut at a word and never in the middle of a phrase."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return re.split(r"[:\u2013-]\s", cut)[0].strip() if re.search(r"[:\u2013-]\s", cut) else cut


_DISCOURSE_START = re.compile(
    r"^(suppose|supposing|assume|assuming|imagine|consider|note|notice|remember|recall|warning|caution|"
    r"unfortunately|fortunately|similarly|likewise|conversely|moreover|furthermore|further|additionally|"
    r"in addition|in the process|in this|in that|in particular|in practice|in contrast|in fact|as a result|"
    r"as before|as above|as such|for example|for instance|for this|on the other hand|one thing|another|"
    r"the other|among the other|the same|the next|the first|the second|the last|finally|again|next|now|"
    r"first|second|third|lastly|meanwhile|still|yet|nevertheless|nonetheless|rather|indeed|of course)\b",
    re.I)
_LEANS_BACK = re.compile(
    r"\b(this|these|those|such(?! as\b)|also|former|latter|above|aforementioned|previous|previously|"
    r"as well|again|here|there(?! (is|are|was|were)\b)|the same|as follows|the following|below)\b"
    r"|(?<!,\s)(?<!\bof\s)(?<!\bin\s)(?<!\bby\s)(?<!\bto\s)(?<!\bfor\s)(?<!\bon\s)(?<!\bwith\s)\bwhich\b",
    re.I)
_EARLY_PRONOUN = re.compile(r"^(\S+\s+){0,3}(it|its|they|them|their|he|she|his|her)\b", re.I)


def leans_back(sentence: str) -> bool:
    """Whether a sentence depends on what came before it: it opens with a pronoun or a discourse marker
    ("Suppose ...", "Note that ...", "One thing to consider ..."), or refers back ("this", "also", "which
    version")."""
    text = re.sub(r"^[\u201c\"']+", "", sentence.strip())
    return bool(_PRONOUN_START.match(text) or _DISCOURSE_START.match(text) or _LEANS_BACK.search(text)
                or _EARLY_PRONOUN.match(text))


def _question_text(s: _Sentence, answer: Phrase) -> tuple[str, str]:
    """(question, quote): the sentence with the blank; ("", "") for a sentence that needs the one before it."""
    if leans_back(s.text):
        return "", ""
    blanked = s.text[:answer.start] + BLANK + s.text[answer.end:]
    return f"{_lead(s.passage, s.section)}: \u201c{blanked}\u201d", s.text


def _order(choices: list[str], answer: Phrase, rng: random.Random) -> list[str]:
    if answer.value is not None:
        def value(c: str) -> float:
            m = re.match(r"[\d,]+(?:\.\d+)?", c)
            fam = numbers(c)
            return fam[0].value if fam and fam[0].value is not None else (_number_value(m.group(0)) if m else 0.0)
        return sorted(choices, key=value)
    rng.shuffle(choices)
    return choices


def question_from(s: _Sentence, pool: Pool, rng: random.Random) -> Question | None:
    """The best question ``s`` makes (its best blank with enough distractors), or None."""
    for answer in phrases(s.text):
        if not pool.is_name(answer) or (answer.kind == "proper" and " " not in answer.text):
            continue  # a lone capitalised word may be any word: no blank
        if re.match(r"\s+[A-Z]", s.text[answer.end:]) and answer.value is None:
            continue  # "_____ Pipelines", "_____ APIs": half a name, whose other half says what kind it is
        question, quote = _question_text(s, answer)
        if not question or gives_away(question, answer):
            continue
        wrong = distractors(answer, s, pool, rng)
        if len(wrong) < MIN_CHOICES - 1:
            continue
        right = _fits(answer.text, answer)
        choices = _order([right, *wrong], answer, rng)
        p = s.passage
        return Question(question=question, choices=tuple(choices), answer=choices.index(right), source=p.source,
                        page=p.page, quote=quote, passage=p.text, kind=answer.kind.split(":")[0], url=p.url)
    return None


def _candidates(s: _Sentence) -> float:
    best = max((p.weight for p in phrases(s.text)), default=0.0)
    n = len(s.text.split())
    return best - (0.4 if n > 32 else 0.0) - 0.15 * s.text.count(",")


def generate(passages: Sequence[QuizPassage], pool_passages: "Sequence[QuizPassage] | Pool | None" = None, *,
             count: int = DEFAULT_QUESTIONS, avoid: Iterable[str] = (), seed: int = 0) -> list[Question]:
    """Up to ``count`` questions from ``passages`` (in their order of relevance), distractors drawn from
    ``pool_passages`` (default: the same passages; a built Pool is reused). No two questions share a
    sentence or an answer, and questions whose id is in ``avoid`` are skipped."""
    rng = random.Random(seed)
    if isinstance(pool_passages, Pool):
        pool = pool_passages
    else:
        pool = Pool(pool_passages if pool_passages is not None else passages)
    avoid = set(avoid)
    per_passage: list[list[_Sentence]] = []
    for p in passages:
        ranked = sorted(passage_sentences(p), key=lambda s: -(_candidates(s) + rng.random() * 0.9))
        if ranked:
            per_passage.append(ranked)
    out: list[Question] = []
    answers: list[str] = []
    rounds = 0
    while len(out) < count and any(per_passage) and rounds < 50:
        rounds += 1
        for sentences in per_passage:
            if len(out) >= count:
                break
            while sentences:
                s = sentences.pop(0)
                q = question_from(s, pool, rng)
                if q is None or q.id in avoid or any(same_answer(q.right, a) for a in answers):
                    continue
                out.append(q)
                answers.append(q.right)
                break
    return out
