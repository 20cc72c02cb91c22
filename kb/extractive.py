"""Extractive answers: the passage of the course PDFs that answers the question, with the answering
sentence(s) marked, and its citation.

No generation, so nothing is invented. The retrieved passages are reranked with the question
(sentence-level embedding similarity, coverage of the question's key terms, the kind of answer the
question asks for); the answer is a contiguous window of the best passage around its best sentence,
continued across a page break when the answer runs on, with that sentence in **bold**. A second
passage is added only when it brings a fact the first lacks. When the evidence does not answer, the
reply says so and names the nearest pages. Follow-up questions ("and how much does it cost?") are
condensed with the previous question; "tell me more" continues the passage.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

from bot.capabilities import Answer
from bot.turn import Citation
from kb.chunking import NUMBERED_TITLE, is_heading, question_title, sentences
from kb.words import STOPWORDS, folded

NOT_FOUND = "That's not in the course PDFs."
NOTHING_INDEXED = (NOT_FOUND + " The course has no PDFs yet: attach one (or `coursebot kb ingest`), "
                                "then ask me about it.")

# Evidence thresholds, calibrated on the labelled dev sets (answerable vs. unanswerable questions);
# `coursebot bench kb` prints both error kinds.
MIN_DENSE = 0.27  # best passage cosine below this: off-topic
MIN_COVERAGE = 0.26  # share of the question's key terms (weighted by rarity) found in one of the best passages
PARAPHRASE_DENSE = 0.6  # or, when the question names nothing the course lacks, a passage at least this close
COURSE_TERMS_COVERAGE = 0.4  # every term is the course's, no passage that close: with the student's fillers
# set aside (an embedder), the best passages must hold this share (dev: 3 of 15 wrong answers to unanswerable
# questions abstain, no answer with its facts lost)
UNSEEN_COVERAGE = 0.8  # the question names a rare term the best passages lack: they must hold at least this share
UNSEEN_WORD_COVERAGE = 0.4  # ... when every such term is an everyday word ("moment", "bigger"), not a name and
# not the question's topic (answerable dev questions go down to 0.21; dev8, written to test abstention, has an
# unanswerable one at 0.39: "raspberry" in "raspberry pi", whose "pi" still says it when the word goes)
READ_WORD_COVERAGE = 0.33  # ... in a question read word by word from another language, whose missing everyday
# words are often a dictionary's other sense ("Paket" read as "parcel"; dev: 3 more answered of 26, no abstention lost)
UNSEEN_WORD_COVERAGE_BLIND = 0.48  # ... when no embedder could tell whether such a word is the question's topic
RARE_SHARE = 0.002  # a term in at most this share of the course's passages (or in none) is rare
EMBED_SENTENCES = 10  # sentences embedded for the rerank: the most promising of each passage, then of all
RERANK = 6  # passages reranked with sentence embeddings
MAX_FAQ_ANSWERS = 4  # FAQ questions (and the first sentence after each) embedded besides those
FAQ_MATCH = 0.7  # a FAQ question this close to the student's is the same question (dev: unanswerable <= 0.62)
FAQ_WEIGHT = 0.25  # the answers of a FAQ question gain this times its cosine (0.2-0.3 one plateau on dev4)
WINDOW_CHARS = 950  # the passage shown around the marked sentence(s) (650 -> 800 -> 950: +2, then +4 of 440 on dev; 1100 adds nothing)
BEFORE_CHARS = 150  # of which before the marked sentence
FAQ_WINDOW_CHARS = 1000  # the window in a FAQ's entry, which ends at its next question (650 -> 1000: +1 on dev4)
SECOND_MARGIN = 0.15  # a second passage scores within this of the first (0.06 -> 0.15: dev key facts +5 of 420, answers 5% longer)
SECOND_WINDOW_CHARS = WINDOW_CHARS // 2  # the second passage's window
RUNNER_UP_MARGIN = 0.1  # ... or, saying something else, it scores within this of the first (0 -> 0.1: dev key facts +4 of 471, answers 8% longer)
SAME_SENSE = 0.8  # ... and its sentence's cosine to the first's is at most this (closer says the same)
MAX_MARKED = 2
MARK_NEXT = -0.05  # the next sentence is marked too when its words answer about as well (it was embedded with its start)
FOLLOW_CHARS = 400  # the sentence after the marked one is shown when no longer than this

_FOLLOW_START = re.compile(r"^\s*(and|but|also|so|then|what about|how about|what else|why|why not|and what|"
                           r"tell me more|more on|same for)\b", re.I)
_REFERRING = re.compile(r"\b(it|its|it's|that|this|they|them|their|those|these|there|one|ones|he|she)\b", re.I)
_MORE = re.compile(r"^\W*(please\W+)?(tell me more|more|go on|continue|keep going|and then|what else|"
                   r"(can you |could you )?(tell|say|show) (me )?more( about (it|that|this))?|"
                   r"more (details|detail|on (that|this|it))|what comes next|next( passage| part)?)\W*$", re.I)
# Words that ask *about* something without naming a topic ("how much does it cost")
_GENERIC = frozenset("""cost costs price pricing priced charge charged billed much many work works use used using
limit limits size big long time maximum minimum max min difference different better example examples mean means
need needs do does done make makes get gets kind type types way ways thing things again simpler terms more
happen happens possible set specify specified called call diff diffs differ differs differences vs versus
often frequently""".split())


# --- the question's focus ------------------------------------------------------------------------
_TYPES = (
    ("how_many", re.compile(r"\bhow many\b|\bnumber of\b", re.I)),
    ("how_much", re.compile(r"\bhow (much|big|large|long|often|durable|far)\b|\b(maximum|minimum|max|limit|size|"
                            r"cost|price|default value|timeout)\b", re.I)),
    ("when", re.compile(r"^\W*(when|since when|in which (year|version))\b", re.I)),
    ("why", re.compile(r"^\W*why\b", re.I)),
    ("who", re.compile(r"^\W*(who|whom|whose)\b", re.I)),
    ("which", re.compile(r"^\W*(which|what)\s+(\w+\s+){0,2}?(function|functions|command|commands|option|options|"
                         r"variable|variables|file|files|directory|tool|program|package|packages|macro|macros|"
                         r"argument|arguments|flag|format|formats|type|types|class|classes|element|field|key|"
                         r"attribute|environment variable|operator|value|values|name|names|extension|library)\b|"
                         r"^\W*which\b", re.I)),
    ("how_to", re.compile(r"^\W*(how (do|can|should|would|to|does one)|how is|how are|what('s| is) the way)\b", re.I)),
    ("what_is", re.compile(r"^\W*(what is|what are|what's|what does|define|definition of|explain|describe)\b", re.I)),
    ("yes_no", re.compile(r"^\W*(is|are|can|does|do|should|will|was|were|has|have|must)\b", re.I)),
)

_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|"
                     r"thousand|million|once|twice|single|several)\b", re.I)
_CODE_TOKEN = re.compile(r"\b[A-Za-z_][\w.]*\(|(?<![\w-])--?[a-z][\w-]+|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b(?!(MUST|SHOULD|MAY|NOT|SHALL|REQUIRED|OPTIONAL)\b)[A-Z]{3,}\b|"
                         r"\b[A-Za-z]\w*[_.][A-Za-z]\w*\b|`[^`]+`|\b[a-z]+[A-Z]\w*\b|(?<![\w.])[./]\w[\w/.-]*|"
                         r"\b[a-z]+-[a-z]+(-[a-z]+)+\b|\bR CMD \w+|\b\w+=|\"[^\"\s]{1,24}\"|%[^%\s]{1,8}%|\s(<-|->|&&|\|\||::|\$|@)\s")
_ENV_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z]{4,}\b")
_ASKS_ENV = re.compile(r"\benvironment variables?\b", re.I)
_ASKS_CODE = re.compile(r"\b(function|command|option|variable|macro|flag|argument|call|routine|operator|"
                        r"environment variable|file|directory|program|tool|package|attribute|field|key|name|"
                        r"extension|keyword|method)s?\b", re.I)
_ASKS_VERSION = re.compile(r"\b(since|from|in|which|what) (r )?versions?\b|\bsince when\b", re.I)
_VERSION = re.compile(r"\b\d+\.\d+(\.\d+)?\b")
_WHEN_ANSWER = re.compile(r"\b(1[89]\d\d|20\d\d|version|release|before|after|when|until|once|during|whenever|"
                          r"at (the )?(start|end|time))\b", re.I)
_WHY_ANSWER = re.compile(r"\b(because|since|so that|in order to|to avoid|to allow|to make|reason|otherwise|"
                         r"allows?|prevents?|ensures?|needed|necessary)\b", re.I)
# who did it: "was made by Bruce Perens", "founded by Ian Murdock", "the R Core Team maintains"
_WHO_ANSWER = re.compile(r"\bby\s+[A-Z][a-z]+\s+(?:[A-Z]\.\s+)?[A-Z][a-z]+|\b[A-Z][a-z]+\s+[A-Z][a-z]+\s+(founded|started|created|wrote|"
                         r"decided|proposed|maintains|leads|led)\b|\b(?i:team|committee|maintainers?|founder|author)\b")
_HOW_ANSWER = re.compile(r"\b(use|using|run|call|type|set|with|by|via|command|function|option)\b|[<(]|\$ |^\s*>", re.I)
_UNITS = re.compile(r"\b\d[\d,.]*\s*(%|percent|ms|milliseconds?|us|microseconds?|ns|nanoseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
                    r"KB|MB|GB|TB|Kb|Mb|kilobytes?|megabytes?|gigabytes?|characters|bytes|bits|tokens|lines|"
                    r"elements|times|pages|nines)\b|\$\d|\b(at most|up to|limited to|no more than|at least|per)\b",
                    re.I)
_ENUMERATION = re.compile(r"[\w)\"']+,\s+[\w\"'(]+.{0,80}?\b(or|and)\b|\n\s*[-\u2022*]", re.S)
_VALUE = re.compile(r"\d|\b(true|false|null|na|nan|inf|yes|no|none|empty)\b|[\"'‘’“”]", re.I)
_DEFINITION = r"\b(is|are|means|refers to|represents|denotes|describes|specifies|contains|holds|provides|lets|allows)\b"


_LEAD_CLAUSE = re.compile(r"^\W*(when|if|after|before|once|while|since|in|on|for|with|under)\b[^,?]{0,80},\s*"
                          r"(?=(how|what|which|where|who|why|when|is|are|can|does|do|should|will)\b)", re.I)


def question_type(question: str) -> str:
    """how_many | how_much | when | why | who | which | how_to | what_is | yes_no | other. A leading clause
    ("When you attach() a data frame, where ...?") is not the question."""
    q = _LEAD_CLAUSE.sub("", question.strip())
    # the asking part may follow a statement or a setting: "my C loop runs for minutes - how can I ...",
    # "on windows which make target ..."
    asking = re.search(r"(?:\s[-\u2013\u2014:]\s|[,;]\s|^(?:\S+\s){1,3}?)(?=(?:how|which|what|why|when|who)\b)", q, re.I)
    for text in (q, q[asking.end():] if asking else None):
        for name, pattern in _TYPES:
            if text and pattern.search(text):
                return name
    return "other"


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9_]+", folded(text)) if len(w) > 1 and w not in STOPWORDS]


def _stem(w: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


_BRITISH = ((re.compile(r"(?<=[a-z]{2})our(?=s?$|ed$|ing$|ite|able|ful|less)"), "or"),  # colours, behaviour
            (re.compile(r"(?<=[a-z]{3}[^aeiou])re(?=s?$|d$)"), "er"),  # centre, metres
            (re.compile(r"^licen[cs]"), "licens"), (re.compile(r"^grey"), "gray"))


def spelling(w: str) -> str:
    """British spelling as American ("colours" -> "colors", "centre" -> "center"), so a student's
    spelling meets the manual's."""
    for pattern, to in _BRITISH:
        w = pattern.sub(to, w)
    return w


@lru_cache(maxsize=1 << 16)  # pure, and called for every word of every passage read
def _prefix(w: str) -> str:
    """A term's matching key in the coverage rules: spelling, then stem and truncation (recognise/
    recognised, celebrity/celebrities, graded/grading)."""
    return _key(spelling(w))


def key_terms(question: str) -> set[str]:
    """The question's topical words (prefix-stemmed), without the words every question has."""
    return {_prefix(w) for w in content_words(question) if w not in _GENERIC}


@lru_cache(maxsize=2048)  # the same passages are read by the rerank, the evidence and the second passage
def _terms_in(text: str) -> frozenset[str]:
    """The matching keys of ``text``'s words, and of its runs of two to four words joined by "_": a
    PDF often shows ``asn1_node`` as "asn1 node"."""
    words = re.findall(r"[a-z0-9_]+", folded(text))
    joined = {"_".join(words[i:i + n]) for n in (2, 3, 4) for i in range(len(words) - n + 1)}
    return frozenset({_prefix(w) for w in words} | joined)


def is_follow_up(question: str) -> bool:
    words = content_words(question)
    topical = [w for w in words if w not in _GENERIC]
    if _FOLLOW_START.match(question) and len(topical) <= 2:
        return True
    return len(question.split()) <= 9 and bool(_REFERRING.search(question)) and len(topical) <= 1


def is_more(question: str) -> bool:
    """"tell me more", "go on", "more details": continue the last answer's passage."""
    return bool(_MORE.match(question or ""))


def condense(question: str, history: Sequence[str]) -> str:
    """The retrieval query for ``question``: joined with the previous question when it is a follow-up."""
    previous = next((h for h in reversed(history) if h and h.strip()), None)
    if previous and previous.strip() != question.strip() and is_follow_up(question):
        return f"{previous.strip()} {question.strip()}"
    return question


def coverage(question: str, texts: Sequence[str]) -> float:
    """The largest share of the question's topical words that one passage contains."""
    words = key_terms(question)
    if not words:
        return 1.0
    best = 0.0
    for t in texts:
        best = max(best, len(words & _terms_in(t)) / len(words))
    return best


def answer_type_bonus(question: str, sentence: str) -> float:
    """How well a sentence has the kind of answer the question asks for (a price for "how much does
    it cost", a number for "how many", a command for "which function")."""
    return ANSWER_TYPE_BONUS if _has_answer_kind(question, sentence) else 0.0


ANSWER_TYPE_BONUS = 0.2
DEFINITION_BONUS = 0.25
_PRICE_Q = re.compile(r"\b(cost|costs|price|prices|pricing|priced|charged?|billed|pay)\b|\bhow much does\b", re.I)
_PRICE_A = re.compile(r"\b(per|price|priced|charges?|charged|billed|cost|costs|free tier|\$\d)|\b(pay|pays|paid)\b",
                      re.I)
_DURATION_Q = re.compile(r"\bhow long\b|\bhow much time\b|\btimeouts?\b|\bduration\b", re.I)
_DURATION_A = re.compile(r"\b\d[\d,.]*\s*(ms|milliseconds?|us|\u00b5s|microseconds?|ns|nanoseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b|"
                         r"\b(one|two|three|four|five|six|seven|eight|nine|ten|fifteen|thirty) "
                         r"(seconds?|minutes?|hours?|days?|weeks?)\b", re.I)


_SIZE_Q = re.compile(r"\b(size|how (big|large)|maximum length|max length|how long is|how much (data|text|memory|"
                     r"storage|space))\b", re.I)
_SIZE_A = re.compile(r"\b\d[\d,.]*\s*(KB|MB|GB|TB|Kb|Mb|kilobytes?|megabytes?|gigabytes?|characters|chars|bytes|"
                     r"bits|tokens|lines|elements)\b", re.I)
_DEFAULT_Q = re.compile(r"\bdefault\b|\bby default\b", re.I)
_DEFAULT_A = re.compile(r"\bdefault|\bdefaults\b|\bunless\b|\botherwise\b", re.I)


def _has_answer_kind(question: str, sentence: str) -> bool | None:
    """True/False when the question asks for a kind of answer (None when it asks for none). Of a
    question in parts ("Can it be read from an attribute? which attribute name?") the last part
    that asks for a kind decides."""
    kinds = [_clause_kind(c, sentence) for c in re.split(r"\?\s+", question.strip()) if c.strip()]
    return next((k for k in reversed(kinds) if k is not None), None)


_RETURN_Q = re.compile(r"\bwhat (does|do|will|would|did|is)\b.{0,80}\b(returns?|returned|give back|evaluates? to)\b", re.I)


def _clause_kind(question: str, sentence: str) -> bool | None:
    if _RETURN_Q.search(question):  # what a function returns: a value, a constant, a code name
        return bool(re.search(r"(?<![\w-])-?\d", sentence) or _VALUE.search(sentence) or _CODE_TOKEN.search(sentence))
    if _ASKS_VERSION.search(question):
        return bool(_VERSION.search(sentence))
    if _PRICE_Q.search(question):
        return bool(_PRICE_A.search(sentence))
    if _DURATION_Q.search(question):
        return bool(_DURATION_A.search(sentence))
    if _SIZE_Q.search(question):
        return bool(_SIZE_A.search(sentence) or re.search(r"\b(at most|up to|limited to|no more than)\b", sentence))
    if _DEFAULT_Q.search(question):
        return bool(_DEFAULT_A.search(sentence))
    kind = question_type(question)
    if kind == "how_many":
        return bool(_NUMBER.search(sentence))
    if kind == "how_much":
        return bool(_UNITS.search(sentence) or re.search(r"\b\d", sentence))
    if kind == "which" and _ASKS_ENV.search(question):
        return bool(_ENV_TOKEN.search(sentence))
    if kind == "which" and _ASKS_CODE.search(question):
        return bool(_CODE_TOKEN.search(sentence))
    if kind == "which" and re.search(r"\b(which|what)\s+(\w+\s+)?values?\b", question, re.I):
        return bool(_VALUE.search(sentence) or _CODE_TOKEN.search(sentence))
    if kind == "which" and re.search(r"\b(which|what)\s+(\w+\s+)?(?!(is|was|has|does|this)\b)\w+s\b", question, re.I):
        return bool(_ENUMERATION.search(sentence))
    if kind == "when":
        return bool(_WHEN_ANSWER.search(sentence))
    if kind == "why":
        return bool(_WHY_ANSWER.search(sentence))
    if kind == "who":
        return bool(_WHO_ANSWER.search(sentence))
    if kind == "how_to":
        return bool(_HOW_ANSWER.search(sentence))
    return None


_DEFINITION_Q = re.compile(r"^\s*(?:what is|what are|what's|what does|define|explain)\s+(?:an?\s+|the\s+)?"
                           r"(?P<topic>[\w .()-]+?)(?:\s+(?:in|of|for|on|with|used|do|mean|stand)\b.*)?\s*\??$", re.I)


def definition_bonus(question: str, sentence: str) -> float:
    """For "what is X?", a sentence that says what X is ("An intent is ...", "X is the AWS service ...")."""
    m = _DEFINITION_Q.match(question)
    if not m:
        return 0.0
    topic = re.escape(m["topic"].strip().lower())
    topic = re.sub(r"(s)$", r"s?", topic)
    pattern = rf"\b{topic}s?\b[^.;:]{{0,40}}?{_DEFINITION}|^(the |an? )?{topic}s?\b( \([^)]*\))? [a-z]+s\b"
    return DEFINITION_BONUS if re.search(pattern, sentence.lower()) else 0.0


ECHO_SHARE = 0.6  # an echo holds at least this share of the question's words


def _echoes(question: str, sentence: str) -> bool:
    """The sentence restates the question (an FAQ heading, a question in the text) and adds no
    number or name of its own."""
    s = sentence.strip()
    if s.endswith("?"):
        return True
    q = set(content_words(question))
    w = set(content_words(s))
    new_values = set(re.findall(r"\d[\d.]*", s)) - set(re.findall(r"\d[\d.]*", question))
    # a short statement that shares a few of the question's words ("Coercion drops all attributes."
    # for "does coercion keep attributes like names?") answers it; an echo repeats most of them
    return (bool(w) and len(w - q) <= 1 and len(w) <= len(q) + 1 and not new_values
            and len(w & q) >= ECHO_SHARE * len(q))


# --- passages ------------------------------------------------------------------------------------
@dataclass
class _Sentence:
    text: str
    start: int  # offsets in the passage text
    end: int
    heading: bool
    score: float = 0.0
    words: float = 0.0  # the score from the question's words and the answer kind alone (no embedding)


@dataclass
class _Passage:
    hit: Any
    sentences: list[_Sentence]
    score: float = 0.0
    best: int = -1  # index of the best sentence
    vecs: Any = None  # (passage, sentence) -> embedding, for the embedded sentences
    index: int = 0
    sections: list[str] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)  # the chunks that continue it (next page)
    asked: float = 0.0  # the cosine of its FAQ question closest to the student's (0: none)


_NOT_A_HEADING = re.compile(r"^(it|this|that|these|they|there|we|you|he|she|if|when|for example)\b", re.I)


def _heading(s: str) -> bool:
    """A heading line, not a sentence cut by a page break ("It is signed with the ... and carries")."""
    return is_heading(s) and not (len(s.split()) >= 5 and _NOT_A_HEADING.match(s))


def is_title_like(s: str) -> bool:
    """A detected heading that reads as a title, not a sentence cut by a page break."""
    return _heading(s)


_CODE_CHARS = re.compile(r"[<>=(){}\[\]$;_#@|\\`]|<-|^\s*[-.~/*+]")
_NOT_TITLE = re.compile(_CODE_CHARS.pattern + r"|^\W*[a-z]")  # code, or a line that continues a sentence
MERGE_CHARS = 400  # a sentence and the short lines that continue it (a command, a list of options) up to this


_LEADS_ON = frozenset("like following using use execute invoke via including includes namely e.g i.e called named".split())


# "After configuring the kernel, simply run the following command: make deb-pkg": a sentence that leads in
_LEADS_IN = re.compile(r"^(\S+\s+){3,}[^:]*:\s+\S")


def _title(s: str) -> bool:
    """A line that heads what follows ("2.10 Platform-specific documentation", a FAQ's numbered
    question), not a line of code ("make check-all", "-o, --output=FILE output file") nor a sentence
    broken at a line end ("Other levels of checking are")."""
    if question_title(s):
        return True
    if not _heading(s) or _NOT_TITLE.search(s) or _LEADS_IN.search(s):
        return False
    words = s.split()
    last = re.sub(r"\W+$", "", words[-1]).lower()
    return not ((len(words) > 1 and (last in STOPWORDS or last in _LEADS_ON)) or (len(words) >= 3 and _NOT_A_HEADING.match(s)))


def _open(s: _Sentence) -> bool:
    """The sentence is unfinished at its line end: no closing punctuation, and what follows its last
    full stop is not a title run into it ("... a valid element. asn1 read node value")."""
    text = s.text.rstrip()
    if s.heading or text.endswith((".", "!", "?")):
        return False
    tail = re.split(r"[.!?]\s+", text)[-1]
    return tail == text or len(tail.split()) > 6 or _CODE_CHARS.search(tail.strip()) is not None


def _split(text: str) -> list[_Sentence]:
    """The passage's sentences; a short line that is no title (a command, an option, the rest of a
    sentence broken at a line end) stays with the sentence it continues, so "Other levels of checking
    are / make check-devel / for a more thorough check" is one sentence."""
    out: list[_Sentence] = []
    pos = 0
    for s in sentences(text):
        i = text.find(s, pos)
        if i < 0:
            i = text.find(s[:20], pos)
            if i < 0:
                continue
        end = i + len(s)
        pos = end
        prev = out[-1] if out else None
        # a FAQ's question in two sentences ("3.1.12 I am tracking testing (bookworm). What will happen ...?")
        k = len(out) - 2 if len(out) >= 2 and not out[-1].heading and NUMBERED_TITLE.match(out[-2].text) else len(out) - 1
        opener = out[k] if k >= 0 else None
        if opener is not None and not opener.heading and NUMBERED_TITLE.match(opener.text) and s.rstrip().endswith("?") \
                and end - opener.start <= 260 and question_title(text[opener.start:end]):
            del out[k:]
            out.append(_Sentence(text[opener.start:end], opener.start, end, True))
            continue
        continues = (is_heading(s) and not _title(s)) or re.match(r"\W*[a-z]", s) is not None
        if prev is not None and _open(prev) and end - prev.start <= MERGE_CHARS and continues:
            merged = text[prev.start:end]  # a FAQ's question broken at a line end is still its title
            out[-1] = _Sentence(merged, prev.start, end, question_title(merged))
            continue
        out.append(_Sentence(s, i, end, _title(s)))
    return out


_LEADERS = re.compile(r"(?:\.\s){5,}|\.{8,}")  # "Writing your own Flowable Objects . . . . . . 98"


# Ranking weights, tuned on the dev set.
SENTENCE_WEIGHT = 1.0
OVERLAP_WEIGHT = 0.3
PASSAGE_WEIGHT = 0.35
COVER_WEIGHT = 0.25


NEXT_CONTEXT = 100  # characters of the next sentence embedded with a sentence (it often completes the answer)
EMBED_CHARS = 300  # of section heading, sentence and that continuation
LONG_CHARS = 300
LONG_PENALTY = 0.3
KIND_PENALTY = 0.15  # the sentence lacks the kind of answer asked for (no number for "how many")


def _section_of(hit: Any) -> str:
    context = getattr(hit, "context", "") or ""
    return context.split(" - ", 1)[1] if " - " in context else context


def _key(w: str) -> str:
    """A word's matching key: stemmed, then cut so "name"/"named"/"names" and "compile"/"compiled" meet;
    a name with an underscore (``_R_CHECK_TIMINGS_``, ``asn1_read_value``) only meets itself."""
    if "_" in w.strip("_") or w.startswith("_"):
        return w
    w = _stem(w)
    return w[:4] if len(w) <= 5 else w[:5]


def _keys(text: str) -> frozenset[str]:
    return _terms_in(text)


def _rerank(question: str, query: str, hits: Sequence[Any], embedder: Any, query_vec: Any = None,
            weights: dict[str, float] | None = None, shown_only: bool = True) -> list[_Passage]:
    import numpy as np

    passages = [_Passage(h, _split(h.text)) for h in hits[:RERANK]]
    terms = [w for w in content_words(query) if w not in _GENERIC] or content_words(query)
    qweights: dict[str, float] = {}
    for w in terms:  # each key term weighs by its rarity in the course (1 when unknown)
        qweights[_prefix(w)] = max(qweights.get(_prefix(w), 0.0), (weights or {}).get(w, 1.0) if weights else 1.0)
    qwords = {_prefix(w): w for w in terms}
    qwhole = sum(qweights.values()) or 1.0
    top = max(h.score for h in hits) or 1.0
    cheap: list[tuple[float, int, int]] = []  # (words + answer kind score, passage, sentence)
    contexts: dict[tuple[int, int], str] = {}
    for pi, p in enumerate(passages):
        section = _section_of(p.hit)
        title = _keys(f"{p.hit.source} {getattr(p.hit, 'context', '')}".split(" - ")[0])
        p.sections = []
        for j, x in enumerate(p.sentences):
            if x.heading:
                section = x.text
            p.sections.append(section)
            # the document's title is what every sentence of it is about
            words = title | _keys(f"{section} {x.text}")
            overlap = sum(v for k, v in qweights.items()
                          if k in words or _in_glued(qwords[k], p.hit.text, x.text)) / qwhole
            kind = _has_answer_kind(question, x.text)
            x.score = (OVERLAP_WEIGHT * overlap + definition_bonus(question, x.text)
                       + (ANSWER_TYPE_BONUS if kind else -KIND_PENALTY if kind is False else 0.0))
            x.score -= LONG_PENALTY * max(0, len(x.text) - LONG_CHARS) / LONG_CHARS  # a run-on "sentence" (a table)
            skip = x.heading or len(x.text.split()) < 3 or _echoes(question, x.text) or _LEADERS.search(x.text)
            if skip:
                x.score -= 0.5  # a heading, a table-of-contents line or the question itself is not the answer
            x.words = x.score
            if not skip:
                cheap.append((x.score + 0.1 * p.hit.score / top, pi, j))
                nxt = p.sentences[j + 1] if j + 1 < len(p.sentences) else None
                contexts[(pi, j)] = ((f"{section}: " if section and section != x.text else "") + x.text
                                     + (f" {nxt.text[:NEXT_CONTEXT]}" if nxt is not None and not nxt.heading else ""))
    if not cheap:
        return [] if shown_only else _unranked(passages)
    # only the most promising sentences are embedded (each with its section heading): the rest keep
    # their passage's cosine as an estimate
    cheap.sort(reverse=True)
    # every passage keeps a chance: its most promising sentence is embedded, then the best of the rest
    chosen = list(dict.fromkeys(next((pi, j) for _, pi, j in cheap if pi == i) for i in {pi for _, pi, _ in cheap}))
    chosen += [(pi, j) for _, pi, j in cheap if (pi, j) not in chosen][:max(EMBED_SENTENCES - len(chosen), 0)]
    # a FAQ's answer starts right after its question: embedded with that question as its section
    chosen += [(pi, j + 1) for pi, p in enumerate(passages) for j, x in enumerate(p.sentences[:-1])
               if x.heading and x.text.rstrip().endswith("?") and (pi, j + 1) in contexts
               and (pi, j + 1) not in chosen][:MAX_FAQ_ANSWERS]
    # a FAQ's numbered questions: how close one is to the student's question says most about its answer
    asked = [(pi, j) for pi, p in enumerate(passages) for j, x in enumerate(p.sentences)
             if x.heading and x.text.rstrip().endswith("?")][:MAX_FAQ_ANSWERS]
    # sentences are passage text: the embedder's faster passage graph when it has one (p95 298 -> 205 ms
    # on 2 cores; dev key facts -1 of 408, abstention unchanged), the question keeps the exact one
    embed = getattr(embedder, "embed_documents", None) or embedder.embed
    vecs = embed([contexts[c][:EMBED_CHARS] for c in chosen]
                 + [passages[pi].sentences[j].text[:EMBED_CHARS] for pi, j in asked])
    qv = embedder.embed_one(query) if query_vec is None else query_vec
    if query != question:  # a follow-up: what is new in the question matters most
        qv = qv + embedder.embed_one(question)
        qv = qv / (np.linalg.norm(qv) or 1.0)
    faq = {c: float(v @ qv) for c, v in zip(asked, vecs[len(chosen):])}
    vecs = vecs[:len(chosen)]
    sims = {c: float(v @ qv) for c, v in zip(chosen, vecs)}
    p_vecs = {c: v for c, v in zip(chosen, vecs)}
    for pi, p in enumerate(passages):
        cover = coverage(query, [f"{p.hit.source} {getattr(p.hit, 'context', '')} {p.hit.text}"])
        best, best_i = -9.0, -1
        entry = 0.0  # the FAQ question this sentence answers: its closeness to the student's question
        estimate = -9.0  # a passage with no sentence to show: its best sentence's estimate, for ranked search
        for j, x in enumerate(p.sentences):
            if x.heading:
                entry = faq.get((pi, j), 0.0)
            sim = sims.get((pi, j), p.hit.dense - 0.15)
            x.score += SENTENCE_WEIGHT * sim + (FAQ_WEIGHT * entry if not x.heading else 0.0)
            estimate = max(estimate, x.score)
            if x.score > best and (pi, j) in sims:
                best, best_i = x.score, j
        best = best if best_i >= 0 else estimate
        p.best = best_i
        p.vecs = p_vecs
        p.index = pi
        p.asked = max((v for (i, _), v in faq.items() if i == pi), default=0.0)
        p.score = best + PASSAGE_WEIGHT * p.hit.score / top + COVER_WEIGHT * cover
    passages.sort(key=lambda p: p.score, reverse=True)
    return [p for p in passages if p.best >= 0] if shown_only else passages


def _unranked(passages: list[_Passage]) -> list[_Passage]:
    """Passages none of whose sentences could be shown, in search order, scored by search alone."""
    top = max((p.hit.score for p in passages), default=1.0) or 1.0
    for p in passages:
        p.best, p.score = -1, PASSAGE_WEIGHT * p.hit.score / top
    return passages


def _weights(question: str, doc_freq: Callable[[list[str]], tuple[dict[str, int], int]] | None,
             is_word: Callable[[str], bool] | None = None) -> tuple[dict[str, float], set[str]]:
    """Each key term's weight (rarer in the course weighs more), and the rare terms: in no PDF at
    all, or in so few passages that a passage without them is about something else."""
    words = list(dict.fromkeys([w for w in content_words(question) if w not in _GENERIC] + compounds(question)))
    if doc_freq is None:
        return {w: 1.0 for w in words}, set()
    df, total = doc_freq(words)
    # "wich", "wat": no topic; but "rust" (one edit from "just") is a word of its own
    acronyms = {a.lower() for a in re.findall(r"(?<![\w-])[A-Z][A-Z0-9]{1,5}(?![\w-])", question)}  # "AWS", "AUR"
    words = [w for w in words if df.get(w, 1) or not _misspelt_stopword(w) or w in acronyms
             or (len(w) > 3 and is_word is not None and is_word(w))]
    rare = {w for w in words if df.get(w, 1) == 0 or df.get(w, 1) <= RARE_SHARE * total}
    return {w: _idf(df.get(w, 0), total) for w in words}, rare


def _idf(df: int, total: int) -> float:
    return math.log((total + 1) / (df + 0.5))


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one letter dropped, added or changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _misspelt_stopword(word: str) -> bool:
    """One letter dropped, added, changed or two swapped from a question's filler word ("wich", "whta")."""
    if len(word) < 3 or len(word) > 7:
        return False
    return any(len(s) >= 3 and _one_edit(s, word) for s in STOPWORDS)


TYPO_LETTERS = 6  # a term this long that no PDF holds, one edit from a word of the passage, is that word mistyped


def _typo_of(term: str, texts: Sequence[str], is_word: Callable[[str], bool] | None = None,
             doc_freq: Callable[[list[str]], tuple[dict[str, int], int]] | None = None) -> str | None:
    """The word that ``term`` (a typo: in no PDF, not a word) is one edit from: a word of the passages
    (or its stem: "fuction" -> "functions"), else the everyday word one edit away that the course
    uses most ("cnsole" -> "console"), or None."""
    if len(term) < TYPO_LETTERS or not term.isalpha():
        return None

    def typo(w: str) -> bool:  # a plural is no typo ("pandas" is not "panda"): stems meet already
        return _one_edit(term, w) and w + "s" != term and term + "s" != w

    words = {w for t in texts for w in re.findall(r"[a-z]+", t.lower())}
    near = sorted(w for w in words if abs(len(w) - len(term)) <= 1 and typo(w))
    near += sorted(w for w in words if len(w) > len(term) and typo(_stem(w)))
    if near or is_word is None or doc_freq is None:
        return near[0] if near else None
    letters = "abcdefghijklmnopqrstuvwxyz"
    cut = [(term[:i], term[i:]) for i in range(len(term) + 1)]
    edits = ({a + b[1:] for a, b in cut if b} | {a + c + b[1:] for a, b in cut if b for c in letters}
             | {a + c + b for a, b in cut for c in letters} | {a + b[1] + b[0] + b[2:] for a, b in cut if len(b) > 1})
    candidates = sorted(w for w in edits if w != term and typo(w) and is_word(w))
    if not candidates:
        return None
    df, _ = doc_freq(candidates)
    best = max(candidates, key=lambda w: df.get(w, 0))
    return best if df.get(best, 0) else None


_COMPOUND = re.compile(r"(?<![\w.-])[a-z0-9]+(?:[-.][a-z0-9]+)+(?![\w-])")


def compounds(question: str) -> list[str]:
    """The question's hyphenated or dotted names ("k-means", "data.table"): one term each, since
    their parts alone ("means", "table") say little."""
    return [c for c in _COMPOUND.findall(question.lower()) if len(c) >= 4 and not re.fullmatch(r"[\d.]+", c)]


GLUED_LETTERS = 15  # a run of letters this long is rarely one word: the PDF lost its spaces ("Readingthecopies")
GLUED_SHARE = 0.2  # a text with this share of its letters in such runs is glued throughout
GLUED_RUN = 8  # ... and in it, a term is looked for inside every run of letters at least this long
GLUED_STEM = 4  # the shortest stem looked for inside a run ("mark" in "thebuttonmark"; not "red" in "required")


@lru_cache(maxsize=512)
def _glued(text: str) -> str:
    """The runs of letters of ``text`` that may hold several words, when its PDF lost the spaces between
    words (some PDFs place each glyph without a space: "Openquestions Onecansometimesrequire..."), else ""."""
    runs = re.findall(r"[a-z]+", text.lower())
    letters = sum(len(r) for r in runs)
    if not letters or sum(len(r) for r in runs if len(r) >= GLUED_LETTERS) < GLUED_SHARE * letters:
        return ""
    return _runs(text)


def _runs(text: str) -> str:
    return " ".join(r for r in re.findall(r"[a-z]+", text.lower()) if len(r) >= GLUED_RUN)


def _in_glued(term: str, text: str, part: str | None = None) -> bool:
    """``term`` (by its stem) inside a glued run of ``text``'s letters (of ``part`` of it, when given)."""
    stem = _stem(spelling(term))[:5]
    if not stem.isalpha() or not _glued(text):
        return False
    if len(stem) < GLUED_STEM:  # an acronym keeps its capitals inside a run ("ThevalueMSD(mean...")
        return 2 <= len(term) <= 4 and re.search(rf"(?<![A-Z]){re.escape(term.upper())}(?![A-Z])",
                                                 text if part is None else part) is not None
    return stem in (_glued(text) if part is None else _runs(part))


def _holds(term: str, found: set[str], text: str) -> bool:
    if "-" in term or "." in term:  # a compound, in any inflection of its last part ("cross-building")
        head, last = re.split(r"(?<=[-.])(?=[a-z0-9]+$)", term, maxsplit=1) if re.search(r"[-.][a-z0-9]+$", term) \
            else (term, "")
        stem = _stem(last) if last.isalpha() else last
        return re.search(rf"(?<![\w-]){re.escape(head + stem)}{'[a-z]{0,4}' if stem.isalpha() else ''}(?![\w-])",
                         text.lower()) is not None
    return _prefix(term) in found or _in_glued(term, text)


def weighted_coverage(question: str, texts: Sequence[str],
                      doc_freq: Callable[[list[str]], tuple[dict[str, int], int]] | None,
                      weights: dict[str, float] | None = None) -> float:
    """The largest share of the question's key terms one passage holds, each term weighted by how rare
    it is in the course (a word no PDF contains, like "numpy", weighs most)."""
    weights = _weights(question, doc_freq)[0] if weights is None else weights
    if not weights:
        return 1.0
    whole = sum(weights.values()) or 1.0
    best = 0.0
    for t in texts:
        found = _terms_in(t)
        best = max(best, sum(v for w, v in weights.items() if _holds(w, found, t)) / whole)
    return best


FILLER_COS = 0.95  # the question without the word embeds at least this close to the question: a filler
TOPIC_COS = 0.85  # ... at most this close: the word is the question's topic ("julia", "rust"), a word or not
HELD_FILLER_COS = 0.98  # ... for a word the passages hold (evidence, unless the question plainly does not need it)


def fillers(question: str, words: Sequence[str], embedder: Any, query_vec: Any = None,
            held: Sequence[str] = (), heavy: set[str] | None = None) -> set[str]:
    """Of ``words`` and ``held`` (of ``question``), those the question's meaning hardly depends on: the
    question without the word embeds within ``FILLER_COS`` of it ("what does CompleteMulti *actually*
    do" is still about CompleteMulti; "how do I call *julia* functions" without "julia" is not).
    Each of ``words`` (the ones the passages lack) is judged in the question without the others, so
    that a lead-in of fillers ("quick question, i'm a bit confused: ...") does not make a topic word
    look light; each of ``held`` in the whole question, by the stricter ``HELD_FILLER_COS``. One batch
    of embeddings. ``heavy`` receives the ``words`` the question's meaning rests on (``TOPIC_COS``)."""
    words = list(dict.fromkeys(words))
    held = [w for w in dict.fromkeys(held) if w not in words]
    if not words and not held:
        return set()

    def drop(text: str, gone: Sequence[str]) -> str:
        for w in gone:
            text = re.sub(rf"(?<![\w-]){re.escape(w)}(?![\w-])", " ", text, flags=re.I)
        return text

    question = question[:2000]
    whole = [question] * len(held)
    contexts = [drop(question, [o for o in words if o != w]) for w in words] if len(words) > 1 else [question] * len(words)
    bases = whole + contexts
    judged = held + words
    qv = embedder.embed_one(question) if query_vec is None else query_vec
    fresh = [i for i, b in enumerate(bases) if b != question]  # contexts other than the question itself
    vecs = embedder.embed([drop(b, [w]) for b, w in zip(bases, judged)] + [bases[i] for i in fresh])
    base_vecs = {i: vecs[len(judged) + k] for k, i in enumerate(fresh)}
    cos = {w: float(vecs[i] @ base_vecs.get(i, qv)) for i, w in enumerate(judged)}
    if heavy is not None:
        heavy.update(w for w in words if cos[w] < TOPIC_COS)
    return {w for i, w in enumerate(judged) if cos[w] >= (HELD_FILLER_COS if i < len(held) else FILLER_COS)}


NAME_FILLER_COS = 0.96  # a missing name whose removal leaves the question this close is chat, not its topic
MAX_NAME_CHECKS = 6


def _chat_names(question: str, names: Sequence[str], embedder: Any, query_vec: Any = None) -> set[str]:
    """Of the missing ``names`` (not vocabulary words), those whose removal leaves the question's embedding
    within ``NAME_FILLER_COS``: "it never ends *lol*", "*esp* on small output", "numbers like *100L*"; a
    package or product the question asks about ("numpy", "docx", "julia") moves it much more."""
    question = question[:2000]

    def drop(text: str, gone: Sequence[str]) -> str:
        for w in gone:
            text = re.sub(rf"(?<!\w){re.escape(w)}(?![\w-])", " ", text, flags=re.I)
        return text

    qv = embedder.embed_one(question) if query_vec is None else query_vec
    # each name judged in the question without the others: "AWS EC2 instance" is no chat when one of the two goes
    bases = [drop(question, [o for o in names if o not in w and w not in o]) for w in names]  # not its own parts
    fresh = [i for i, b in enumerate(bases) if b != question]  # one batch; the question's own vector is known
    vecs = embedder.embed([drop(b, [w]) for b, w in zip(bases, names)] + [bases[i] for i in fresh])
    base_vecs = {i: vecs[len(names) + k] for k, i in enumerate(fresh)}
    return {w for i, w in enumerate(names) if float(vecs[i] @ base_vecs.get(i, qv)) >= NAME_FILLER_COS}


_EXAMPLE_VALUE = re.compile(r"^\d+[a-z_]|_\d+$")  # "100l", "2fast", "6_amd64"; "nginx_1" (of nginx_1.18.0)


def _example_value(term: str) -> bool:
    """A term that starts with a digit or ends in a version number: a value from the student's case."""
    return _EXAMPLE_VALUE.search(term) is not None


_FILE_NAME = re.compile(r"^[a-z0-9_-]+((?:\.[a-z0-9]{1,4})+)$")  # "backup.tar.gz", "notes.txt"


def _file_name(term: str, found: Sequence[tuple[set[str], str]]) -> bool:
    """The name of the student's own file, with an extension ("tar.gz") a passage holds."""
    m = _FILE_NAME.match(term)
    if not m or m[1][1:].replace(".", "").isdigit():
        return False
    exts = m[1][1:].split(".")
    return any(all(_prefix(x) in f for x in exts) for f, _ in found)


_NOT_EXTENSIONS = frozenset("io com org net".split())  # "shinyapps.io" is a site, not a file


def _own_names(question: str, found: Sequence[tuple[set[str], str]]) -> set[str]:
    """Names the student gives their own things: a file's name before an extension a passage holds
    ("myapp.xml", "resultats_tp3.txt"), the last part of a path ("/usr/bin/xyzzy"), and "my..."
    names of the course's words ("mypackage", "my_schema")."""
    q = question.lower()
    out = set()
    for stem, ext in re.findall(r"(?<![\w.-])([a-z][a-z0-9_-]*)\.([a-z][a-z0-9]{0,4})(?![\w-])", q):
        if ext not in _NOT_EXTENSIONS and any(_prefix(ext) in f for f, _ in found):
            out.add(stem)
    out |= set(re.findall(r"(?<![\w~.])/(?:[\w.-]+/)+([a-z][\w-]*)(?![\w/.])", q))
    for name in re.findall(r"(?<![\w-])my_?([a-z]{4,})(?![\w-])", q):
        if any(_prefix(name) in f for f, _ in found):
            out.add(next(w for w in re.findall(r"(?<![\w-])my_?[a-z]{4,}(?![\w-])", q) if w.endswith(name)))
    return out


def _parts_held(term: str, found: Sequence[tuple[set[str], str]], own: set[str] = frozenset()) -> bool:
    """A hyphenated compound each of whose parts (3 letters or more) one passage holds, or that a
    passage writes as one word ("auto-printed": "autoprinting"); a dotted name made of the course's
    words and the student's own ("print.myclass")."""
    if "." in term:
        parts = term.split(".")
        return (any(p in own for p in parts) and len(parts) == 2
                and any(all(p in own or _prefix(p) in f for p in parts) for f, _ in found))
    parts = term.split("-")
    if len(parts) < 2 or any(len(x) < 3 or not x.isalpha() for x in parts):
        return False
    joined = _stem("".join(parts))
    return any(all(_prefix(x) in f for x in parts) or (len(joined) >= 8 and joined in t.lower()) for f, t in found)


def has_evidence(question: str, hits: Sequence[Any],
                 doc_freq: Callable[[list[str]], tuple[dict[str, int], int]] | None = None,
                 is_word: Callable[[str], bool] | None = None, embedder: Any = None,
                 query_vec: Any = None, trace: dict[str, Any] | None = None, asked: float = 0.0,
                 read: bool = False) -> bool:
    """Whether the best passages answer: on topic (cosine), holding the question's rare terms, and
    not missing a term that no course PDF contains. A missing everyday word ("at the moment") is
    weaker evidence of another topic than a missing name ("numpy"): ``is_word`` tells them apart;
    an everyday word the question's meaning hardly depends on ("what does X *actually* do", "is it
    a bad *idea* to ...", "... exactly? thanks in advance") is the student's wording, no key term,
    whether the passages hold it or not (with ``embedder``, the question's embedding ``query_vec``
    is compared with the question without the word); so is a missing name that hardly moves it ("lol",
    "100L"). A mistyped word is the word meant. ``asked``: the cosine of the FAQ question (of the best
    passages) closest to the student's; ``read``: the question was read word by word from another language;
    ``trace`` receives what the verdict rests on. Calibrated on the labelled dev sets."""
    if not hits:
        return False
    if max(h.dense for h in hits) < MIN_DENSE:
        return False
    weights, rare = _weights(question, doc_freq, is_word)
    texts = [f"{h.source} {getattr(h, 'context', '')} {h.text}" for h in hits[:3]]
    found = [(_terms_in(t), t) for t in texts]
    unseen = [w for w in rare if not any(_holds(w, f, t) for f, t in found)]
    typos = [w for w in unseen if is_word is not None and doc_freq is not None and not is_word(w)
             and len(w) >= TYPO_LETTERS and w.isalpha()]
    if typos:  # a mistyped word is the word meant, and weighs as that word does
        absent = doc_freq(typos)[0]
        fixed = {w: _typo_of(w, texts, is_word, doc_freq) for w in typos if not absent.get(w)}
        fixed = {w: c for w, c in fixed.items() if c}
        if fixed:
            df, total = doc_freq(list(fixed.values()))
            weights = {fixed.get(w, w): _idf(df.get(fixed[w], 0), total) if w in fixed else v for w, v in weights.items()}
            unseen = [fixed.get(w, w) for w in unseen
                      if w not in fixed or not any(_holds(fixed[w], f, t) for f, t in found)]
    # a value quoted from the student's own case ("100L", "2fast", "nginx_1.18.0") and a hyphenated
    # compound whose parts the passages hold ("source-built", "auto-printed") name no other topic
    own = _own_names(question, found)
    quoted = {w for w in unseen if _example_value(w) or _parts_held(w, found, own) or _file_name(w, found) or w in own}
    if quoted and set(weights) - quoted:
        weights = {w: v for w, v in weights.items() if w not in quoted}
        unseen = [w for w in unseen if w not in quoted]
    topics: set[str] = set()
    if is_word is not None and embedder is not None:
        everyday = [w for w in weights if is_word(w)]
        missing = [w for w in everyday if not any(_holds(w, f, t) for f, t in found)]
        # when the passages hold every everyday word, no filler can change the verdict much: no embedding
        filler = fillers(question, missing, embedder, query_vec, held=[w for w in everyday if w not in missing],
                         heavy=topics) if missing else set()
        if filler and set(weights) - filler:
            weights = {w: v for w, v in weights.items() if w not in filler}
            unseen = [w for w in unseen if w not in filler]
    names = [w for w in unseen if is_word is None or not is_word(w)][:MAX_NAME_CHECKS]
    if names and embedder is not None:  # chat no vocabulary holds ("lol", "esp", "100L") moves the question little
        chat = _chat_names(question, names, embedder, query_vec)
        if chat and set(weights) - chat:
            weights = {w: v for w, v in weights.items() if w not in chat}
            unseen = [w for w in unseen if w not in chat]
    cover = weighted_coverage(question, texts, doc_freq, weights)
    if trace is not None:  # what the verdict rests on, for diagnostics
        trace.update(dense=max(h.dense for h in hits), cover=cover, unseen=list(unseen), topics=sorted(topics),
                     words=[w for w in unseen if is_word is not None and is_word(w)])
    if asked >= FAQ_MATCH:  # a FAQ asks the student's question in other words: its entry answers it
        return cover >= MIN_COVERAGE
    if not unseen:  # every term is the course's: a paraphrase holds few of them, but its meaning is close
        needed = COURSE_TERMS_COVERAGE if embedder is not None and is_word is not None else MIN_COVERAGE
        return cover >= needed or max(h.dense for h in hits) >= PARAPHRASE_DENSE
    # a missing everyday word is weaker evidence of another topic than a name, unless the question rests on it
    if is_word is not None and all(is_word(w) and w not in topics for w in unseen):
        if embedder is None:
            return cover >= UNSEEN_WORD_COVERAGE_BLIND
        return cover >= (READ_WORD_COVERAGE if read else UNSEEN_WORD_COVERAGE)
    return cover >= UNSEEN_COVERAGE


# --- rendering -----------------------------------------------------------------------------------
def _marked(p: _Passage) -> list[int]:
    """The best sentence, with the next one when it continues the answer (a list after a colon,
    a sentence that refers back)."""
    b = p.best
    chosen = [b]
    s = p.sentences
    if b + 1 < len(s) and len(chosen) < MAX_MARKED:
        nxt = s[b + 1]
        if s[b].text.rstrip().endswith(":") or (not nxt.heading and nxt.score >= s[b].score - 0.05
                                               and re.match(r"(it|this|that|these|they|such|the (latter|former))\b",
                                                            nxt.text, re.I)) \
                or (not nxt.heading and nxt.words >= s[b].words + MARK_NEXT):
            chosen.append(b + 1)
    if b > 0 and re.match(r"(it|this|these|they|such)\b", s[b].text, re.I) and not s[b - 1].heading:
        chosen.insert(0, b - 1)
    return chosen


def _lists(text: str) -> str:
    """Bullet items on lines of their own (the chunk text runs a page's list into one line)."""
    return re.sub(r"[ \t]*\u2022[ \t]*", "\n\u2022 ", text)


def _bold(text: str) -> str:
    """``**text**`` line by line (markdown bold does not cross line breaks); a bullet stays outside."""
    def line(ln: str) -> str:
        ln = ln.strip()
        if ln.startswith("\u2022 ") and ln[2:].strip():
            return f"\u2022 **{ln[2:].strip()}**"
        return f"**{ln}**" if ln else ln
    return "\n".join(line(ln) for ln in text.split("\n"))


def _window(p: _Passage, marked: list[int], following: Callable[[int], list[Any]] | None,
            size: int = WINDOW_CHARS, previous: Callable[[int], Any] | None = None,
            entry: bool = False) -> tuple[str, str, Any, int]:
    """(markdown window with the marked span in bold, the marked text, the last chunk used, the end
    offset in that chunk): a contiguous window of the passage around the marked sentences. ``entry``:
    the passage is a FAQ's answer, which goes on into the next chunk until the next question."""
    text = p.hit.text
    s = p.sentences

    def section_break(x: Any) -> bool:
        # in a FAQ's entry only the next numbered heading ends it: the lines of an example ("Release: 7.4")
        # look like headings too
        return bool(x.heading) and (not entry or NUMBERED_TITLE.match(x.text) is not None)

    m0, m1 = s[marked[0]].start, s[marked[-1]].end
    start, first = m0, marked[0]
    for j in range(marked[0] - 1, -1, -1):  # context before: the sentences (or heading) that lead in
        if m0 - s[j].start > BEFORE_CHARS:
            break
        start, first = s[j].start, j
        if s[j].heading:
            break
    end = m1
    budget = max(size - (m1 - start), 0)
    lead_in = s[marked[-1]].text.rstrip().endswith(":")  # "... the following:" then a list or code
    for j in range(marked[-1] + 1, len(s)):
        if section_break(s[j]) and not lead_in and s[j - 1].text.rstrip().endswith((".", "!", "?")):
            break  # the next section
        if s[j].end - m1 > budget and not lead_in and (j > marked[-1] + 1 or s[j].end - m1 > FOLLOW_CHARS):
            break  # the sentence right after the marked one is shown unless it is very long
        if s[j].end - m1 > 2 * size:
            break
        end = s[j].end
    # the section ends soon after the marked sentences: what room is left goes to the sentences before
    for j in range(first - 1, -1, -1):
        if s[first].heading or end - s[j].start > size:
            break
        start, first = s[j].start, j
    last_chunk, last_end = p.hit, end
    body = _lists(text[start:m0]) + _bold(_lists(text[m0:m1])) + _lists(text[m1:end])
    marked_text = text[m0:m1]
    if start == 0 and text[:1].islower() and previous is not None:
        # the page starts mid-sentence: the sentence began at the end of the previous page
        before = previous(getattr(p.hit, "chunk_id", -1))
        # chunks of a page overlap: when the previous one holds this sentence too, it is whole here
        if before is not None and " ".join(s[0].text.split()[:8]) not in " ".join(before.text.split()):
            tail = _split(before.text)
            if tail:
                lead = tail[-1].text
                body = lead.rstrip() + " " + body
    # the answer runs on past the passage (a list, a page break): continue with the next chunk
    runs_on = end >= len(text.rstrip()) - 1 and (entry or m1 >= len(text.rstrip()) - 200 or text.rstrip().endswith(":")
                                                 or not text.rstrip().endswith((".", "!", "?")))
    seen = {x.text for x in s}
    chunk = p.hit
    for _ in range(3):  # the chunks of a page share a boundary sentence: one may add nothing new
        if not runs_on or following is None:
            break
        nxt = following(getattr(chunk, "chunk_id", getattr(chunk, "id", -1)))
        if not nxt:
            break
        cont = nxt[0]
        cont_s = _split(cont.text)
        new = [x for x in cont_s if x.text not in seen]
        # the boundary sentence both chunks share may open a longer sentence here ("For example:" and
        # the code after it): that start was shown already
        shared = next((t for t in seen if new and new[0] is cont_s[0] and len(t) < len(new[0].text)
                       and new[0].text.startswith(t)), None)
        seen |= {x.text for x in cont_s}
        chunk = cont
        if not new:
            continue
        if section_break(new[0]) and body.rstrip().endswith((".", "!", "?")):
            break
        first = stop = new[0].start
        if shared:
            first = new[0].start + len(shared)
            first += len(cont.text[first:]) - len(cont.text[first:].lstrip())
        ends = body.rstrip().endswith((".", "!", "?"))
        for x in new:
            if section_break(x) and (ends or stop > first):
                break  # a new section starts: the answer does not run on
            if stop > first and x.end - first > max(size - len(body) if entry else size // 2, 250):
                break
            stop = x.end
        extra = _lists(cont.text[first:stop]).strip()
        joiner = "\n" if body.rstrip().endswith(":") or extra[:1] in "-\u2022*" or new[0].heading else " "
        body = body.rstrip() + joiner + extra
        last_chunk, last_end = cont, stop
        # still mid-sentence at the end of that chunk (a list, a sentence across the page break): go on
        runs_on = stop >= len(cont.text.rstrip()) - 1 and (not body.rstrip().endswith((".", "!", "?"))
                                                          or (entry and len(body) < size))
    return body.strip(), " ".join(marked_text.split()), last_chunk, last_end


def _new_terms(question: str, text: str, shown: str) -> set[str]:
    return (key_terms(question) & _terms_in(text)) - _terms_in(shown)


def rank(question: str, query: str, hits: Sequence[Any], embedder: Any, *, query_vec: Any = None,
         doc_freq: Callable[[list[str]], tuple[dict[str, int], int]] | None = None,
         is_word: Callable[[str], bool] | None = None, shown_only: bool = True) -> list[_Passage]:
    """The best RERANK of ``hits`` as passages, best first: each scored by its best sentence (closeness to
    the question, the question's terms weighed by their rarity in the course, the kind of answer asked for)
    and its search score. A passage without a sentence to show (a lone heading, the question's own words)
    is left out, or with ``shown_only=False`` ranked by its sentences' estimate (``best`` is then -1)."""
    if not hits:
        return []
    weights = _weights(query, doc_freq, is_word)[0] if doc_freq is not None else None
    return _rerank(question, query, hits, embedder, query_vec, weights, shown_only)


def answer(question: str, query: str, hits: Sequence[Any], embedder: Any,
           link: Callable[[str | None, int | None], str | None], *,
           following: Callable[[int], list[Any]] | None = None,
           previous: Callable[[int], Any] | None = None,
           heading: Callable[[str, int], str | None] | None = None,
           doc_freq: Callable[[list[str]], tuple[dict[str, int], int]] | None = None,
           query_vec: Any = None, is_word: Callable[[str], bool] | None = None, read: bool = False) -> Answer:
    """The best passage of ``hits`` with its answering sentence(s) in bold and its citation, or
    "not in the course PDFs" with the nearest pages. ``read``: ``question`` is another language's read word by
    word in English."""
    if not hits:
        return Answer(False, NOT_FOUND)
    passages = rank(question, query, hits, embedder, query_vec=query_vec, doc_freq=doc_freq, is_word=is_word)
    asked = max((p.asked for p in passages[:3]), default=0.0)
    if not passages or not has_evidence(query, hits, doc_freq, is_word, embedder, query_vec, asked=asked, read=read):
        return not_found(hits, link, heading)
    p0 = passages[0]
    marked = _marked(p0)
    # a FAQ's answer is the whole entry under its question, up to the next one
    in_faq = bool(p0.sections) and question_title(p0.sections[marked[0]])
    body, quote, last, end = _window(p0, marked, following, size=FAQ_WINDOW_CHARS if in_faq else WINDOW_CHARS,
                                     previous=previous, entry=in_faq)
    citations = [_cite(p0.hit, link, quote, body)]
    parts = [f"{body} [1]"]
    shown = body
    for p in passages[1:]:  # a second passage only when it adds a distinct fact
        if p.score < p0.score - SECOND_MARGIN:
            break
        best = p.sentences[p.best].text
        if best in shown or getattr(p.hit, "chunk_id", None) == getattr(p0.hit, "chunk_id", -1):
            continue
        if float(p.vecs[(p.index, p.best)] @ p0.vecs[(p0.index, p0.best)]) > SAME_SENSE:
            continue
        kind0 = _has_answer_kind(question, quote)
        adds = (_new_terms(query, best, shown) or (kind0 is False and _has_answer_kind(question, best))
                or p.score >= p0.score - RUNNER_UP_MARGIN)
        if not adds:
            continue
        body2, quote2, _, _ = _window(p, _marked(p), None, size=SECOND_WINDOW_CHARS)
        same = p.hit.source == p0.hit.source and p.hit.page == p0.hit.page
        if not same:
            citations.append(_cite(p.hit, link, quote2, body2))
        parts.append(f"{body2} [{1 if same else 2}]")
        break
    last_id = getattr(last, "chunk_id", getattr(last, "id", None))
    more = {"chunk": last_id, "end": end} if last_id is not None else None
    return Answer(True, "\n\n".join(parts), tuple(citations), more=more)


def _cite(hit: Any, link: Callable[[str | None, int | None], str | None], quote: str, passage: str) -> Citation:
    return Citation(hit.source, hit.page, link(hit.blob_key, hit.page), quote[:300] or None,
                    passage=passage.replace("**", "")[:1500])


def not_found(hits: Sequence[Any], link: Callable[[str | None, int | None], str | None],
              heading: Callable[[str, int], str | None] | None = None, n: int = 3) -> Answer:
    """"That's not in the course PDFs", with the nearest pages (file, page, section heading)."""
    nearest: list[Citation] = []
    seen = set()
    for h in hits:
        if (h.source, h.page) in seen or h.dense < MIN_DENSE * 0.6:
            continue
        seen.add((h.source, h.page))
        title = heading(h.source, h.page) if heading else None
        nearest.append(Citation(h.source, h.page, link(h.blob_key, h.page), title))
        if len(nearest) >= n:
            break
    if not nearest:
        return Answer(False, NOT_FOUND)
    places = "; ".join(f"{c.source} p. {c.page}" + (f" \u2014 {c.quote}" if c.quote else "") for c in nearest)
    return Answer(False, f"{NOT_FOUND} Closest: {places}.", nearest=tuple(nearest))


def continue_from(row: Any, offset: int, following: Callable[[int], list[Any]],
                  link: Callable[[str | None, int | None], str | None], size: int = WINDOW_CHARS) -> Answer:
    """"Tell me more": the passage that follows ``offset`` in chunk ``row`` (continuing into the next
    chunks of the document)."""
    text = row.text[offset:]
    chunk = row
    if len(text.strip()) < 80:
        nxt = following(row.id)
        if not nxt:
            return Answer(True, f"That's the end of {row.source}; ask me another question about the course.")
        chunk = nxt[0]
        prev = {s.text for s in _split(row.text)}
        sents = _split(chunk.text)
        offset = next((s.start for s in sents if s.text not in prev), 0)
        text = chunk.text[offset:]
    sents = _split(text)
    stop = 0
    for s in sents:
        if stop and s.end > size:
            break
        stop = s.end
    body = text[:stop].strip() or text[:size].strip()
    cite = Citation(chunk.source, chunk.page, link(chunk.blob_key, chunk.page), None, passage=body[:1500])
    return Answer(True, f"{body} [1]", (cite,), more={"chunk": chunk.id, "end": offset + stop})


# --- overview ------------------------------------------------------------------------------------
_OVERVIEW = re.compile(
    r"\b(what|which) (topics|subjects|chapters|sections|lectures|material)\b"
    # "which files ..." asks about the course only when the course (or the bot) is what holds them: "which files
    # are protected", "what files are inside a .deb" ask about the subject
    r"|\b(what|which) (things|pdfs|documents|files)( are| do| does| did| can)? (there|available|loaded|indexed|"
    r"uploaded|included|(you|we) (have|know|got)(?! to\b))( about)?( (in|on|for|to) (here|(the |this |our |my )?"
    r"(course|class|bot|kb|knowledge base|lecture|syllabus)\b)|\W*$)"
    r"|\b(what|which) (things|pdfs|documents|files)( are| do| does| did| can)? (in|on|for|of) (the |this |our |my )?"
    r"(course|class|bot|kb|knowledge base|lecture|syllabus)\b"
    r"|\b(what|which) (things|pdfs|documents|files) (does|do|did) (the|this|our|my) (course|class|bot|kb) "
    r"(have|hold|contain|include|cover)\b"
    r"|\bwhat (does|do|will|did) (the|this|our|my) (course|class|module|pdf|document|lecture|manual|book|"
    r"chapter|syllabus|notes?|material)s? (cover|contain|include|teach|discuss|say|talk about)\s*\??$"
    r"|\bwhat('s| is| are) (covered|in) (in )?(the|this|our|my|lecture|chapter|pdf|course|document)"
    r"|\bwhat('s| is| are) (the |this |that |my |our )?(course|class|pdf|document|lecture|manual|notes?|"
    r"slides|syllabus|chapter|[\w.-]+\.pdf|lecture \d+)( \d+)? (all )?about\b"
    r"|\b(overview|outline|table of contents|contents|syllabus|summary) of (the|this|my|our|lecture|[\w.-]+\.pdf)"
    r"|\b(give|show|list) (me )?(an? )?(overview|outline|the (topics|contents|documents|pdfs|chapters|sections))\b"
    r"|^\W*(course )?(overview|outline|table of contents|contents|topics)\W*$"
    r"|\bwhat lectures (are|do you have|does the course have)\b"
    r"|\btopics (are |does )?(in|of|does) (the |this |lecture|[\w.-]+\.pdf)"
    r"|\bwhat (does|do|did) (the |this |that |our |my |an? )?[\w .:-]{0,60}?(course|class|pdf|document|lecture|manual|"
    r"book|chapter|spec|specification|guide|handbook|notes|material|syllabus|reference|introduction)s? "
    r"(cover|contain|include|teach|discuss|describe|explain|talk about)\s*\??$"
    r"|\bsummari[sz]e what\b.{0,60}\b(teach|teaches|covers?|contains?|says?|discuss(es)?|describes?)\b"
    r"|\b(main |major )?(chapters|sections|parts|topics) (of|in) (the |this )?[\w .-]{0,60}"
    r"(course|pdf|document|lecture|manual|book|spec|specification|guide|definition|introduction|\.pdf)\b"
    r"|^\W*what('s| is| are)( in)? (chapter|section|part|lecture|unit|week) \d+\b.{0,60}\babout\b"
    r"|^\W*what('s| is)( in)? (chapter|section|part) \d+ (of|in)\b", re.I)


def is_overview(question: str) -> bool:
    """"What does the course cover?", "what is this PDF about?", "what topics are in lecture 3?"."""
    return bool(_OVERVIEW.search(question or ""))


_TITLE_NOISE = frozenset("r a an the of and to for in on manual guide specification spec pdf book introduction".split())



_COURSE_NOUNS = frozenset("course topics document documents lecture notes pdf pdfs".split())
_ABOUT_COURSE = _COURSE_NOUNS | frozenset("what which cover about contain is are the this".split())


def is_overview_words(english: str) -> bool:
    """A question read word by word in English (another language's) asks for the overview: an English
    overview question, or nothing but question words and words about the course ("what topics cover course")."""
    tokens = {w.lower() for w in english.split()}
    return is_overview(english) or (tokens <= _ABOUT_COURSE and bool(tokens & _COURSE_NOUNS))


def overview_target(question: str, names: Sequence[str], about: str | None = None,
                    titles: Sequence[str | None] = ()) -> str | None:
    """The document an overview question is about (by file name, by title, by number: "lecture 3"),
    or None for the whole course. ``about`` is the document the conversation is on, for "this PDF"."""
    q = question.lower()
    qwords = set(re.findall(r"[a-z0-9]+", q))
    for name in names:
        stem = name.lower().rsplit(".", 1)[0]
        if name.lower() in q or (len(stem) >= 4 and re.search(rf"(?<![\w-]){re.escape(stem)}(?![\w-])", q)):
            return name
    best, longest = None, 2
    for i, name in enumerate(names):  # the start of its title, word for word ("An Introduction to R teaches")
        words = re.findall(r"[a-z0-9]+", ((titles[i] if i < len(titles) else None) or "").lower())
        for n in range(len(words), longest, -1):
            if re.search(rf"\b{' '.join(words[:n])}\b", " ".join(re.findall(r"[a-z0-9]+", q))):
                best, longest = name, n
                break
    if best is not None:
        return best
    best, best_score = None, 0.0
    for i, name in enumerate(names):  # the words of its name or its title ("the R internals manual")
        title = titles[i] if i < len(titles) else None
        for label in (name.rsplit(".", 1)[0], title or ""):
            words = {w for w in re.findall(r"[a-z0-9]+", label.lower()) if w not in _TITLE_NOISE and len(w) > 1}
            words = {w for w in words if not w.isdigit()}
            if not words:
                continue
            score = len(words & qwords) / len(words)
            if score > best_score and score >= 0.6 and len(words & qwords) >= 1:
                best, best_score = name, score
    if best is not None:
        return best
    m = re.search(r"\b(lecture|week|unit|module|session|pdf|document|lesson|topic|part)\s*#?(\d{1,3})\b", q)
    if m:
        n = int(m[2])
        for name in names:
            lead = re.match(r"^\D{0,12}?0*(\d{1,3})\D", name)
            if lead and int(lead[1]) == n:
                return name
    if re.search(r"\b(this|that|the attached|my) (pdf|document|file|manual|handout|paper|lecture|chapter)\b", q):
        if about in names:
            return about
        if len(names) == 1:
            return names[0]
    return None


def _chapter(question: str, heads: list[Any], top: int) -> list[Any] | None:
    """For "what is chapter 3 about?": that chapter's heading and the headings under it."""
    m = re.search(r"\b(chapter|section|part)\s+(\d{1,3})\b", question, re.I)
    if not m:
        return None
    n = m[2]
    tops = [i for i, h in enumerate(heads) if h.level == top]
    start = next((i for i in tops if re.match(rf"^(chapter\s+)?{n}(\.|\s|:)", heads[i].title, re.I)), None)
    if start is None and 0 < int(n) <= len(tops):
        start = tops[int(n) - 1]
    if start is None:
        return None
    end = next((i for i in tops if i > start), len(heads))
    return heads[start:end]


def overview(question: str, documents: Sequence[Any], headings: Callable[[str], Sequence[Any]],
             link: Callable[[str | None, int | None], str | None], about: str | None = None) -> Answer:
    """The documents with their titles and section headings, with page links."""
    if not documents:
        return Answer(False, "The course has no PDFs yet. Add some (attach a PDF, or `coursebot kb ingest`), "
                             "then ask me what it covers.")
    names = [d.name for d in documents]
    target = overview_target(question, names, about, [getattr(d, "title", None) for d in documents])
    if target is not None:
        doc = next(d for d in documents if d.name == target)
        heads = list(headings(doc.name))
        top = min((h.level for h in heads), default=0)
        chapter = _chapter(question, heads, top)
        title = f" \u2014 {doc.title}" if getattr(doc, "title", None) else ""
        if chapter:
            shown = [h for h in chapter if h.level <= top + 2][:30]
            lines = [f"**{doc.name}**{title}, {chapter[0].title} (p. {chapter[0].page}):"]
            shown = shown[1:] or shown
            top += 1
        else:
            shown = [h for h in heads if h.level <= top + 1][:30]
            if len(shown) < 4:
                shown = heads[:30]
            lines = [f"**{doc.name}**{title} ({_pages(doc.pages)}) covers:"]
        citations = []
        for h in shown:
            indent = "  " * max(h.level - top, 0)
            lines.append(f"{indent}- {h.title} (p. {h.page})")
            citations.append(Citation(doc.name, h.page, link(doc.blob_key, h.page), h.title))
        if not shown:
            lines = [f"**{doc.name}**{title} ({_pages(doc.pages)}). I found no section headings in it."]
            citations = [Citation(doc.name, 1, link(doc.blob_key, 1), None)]
        rest = 0 if chapter else len([h for h in heads if h.level <= top + 1]) - len(shown)
        if rest > 0:
            lines.append(f"\u2026 and {rest} more sections.")
        return Answer(True, "\n".join(lines), tuple(citations[:30]))
    lines = [f"The course has {len(documents)} PDF{'s' if len(documents) != 1 else ''}:"]
    citations = []
    for d in documents:
        heads = list(headings(d.name))
        top = min((h.level for h in heads), default=0)
        chapters = [h for h in heads if h.level == top]
        listed = "; ".join(f"{h.title} (p. {h.page})" for h in chapters[:6])
        more = f"; \u2026 {len(chapters) - 6} more" if len(chapters) > 6 else ""
        title = f" \u2014 {d.title}" if getattr(d, "title", None) else ""
        lines.append(f"- **{d.name}**{title} ({_pages(d.pages)})" + (f": {listed}{more}" if listed else ""))
        citations.append(Citation(d.name, 1, link(d.blob_key, 1), getattr(d, "title", None)))
    lines.append("Ask me about any of them, e.g. \"what topics are in " + names[0] + "?\"")
    return Answer(True, "\n".join(lines), tuple(citations))


def _pages(n: int) -> str:
    return f"{n} page" if n == 1 else f"{n} pages"
