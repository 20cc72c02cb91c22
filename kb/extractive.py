"""Extractive answers: the sentences of the retrieved passages that answer the question, each cited.

No generation, so nothing is invented: when the evidence is weak the answer is "not found".
Follow-up questions ("and how much does it cost?") are condensed with the previous question.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from bot.capabilities import Answer
from bot.turn import Citation
from kb.chunking import is_heading, sentences
from kb.words import STOPWORDS

NOT_FOUND = ("I couldn't find that in the course PDFs. Try asking with the words the course uses, "
             "or ask me what the course covers.")

# Evidence thresholds, tuned on kb/data/dev_qa.jsonl (answerable vs. unanswerable questions).
MIN_DENSE = 0.27  # best passage cosine below this: off-topic (dev set: off-topic <= 0.24, answerable >= 0.30)
STRONG_DENSE = 0.55  # at or above this the passage is on topic even without shared words
MIN_COVERAGE = 0.5  # share of the question's topical words found in one of the top passages
MAX_SENTENCES = 3
EXTRA_MARGIN = 0.07  # further sentences are added when they score within this of the best one
MAX_ANSWER_CHARS = 700

_FOLLOW_START = re.compile(r"^\s*(and|but|also|so|then|what about|how about|what else|why|why not|and what|"
                           r"tell me more|more on|same for)\b", re.I)
_REFERRING = re.compile(r"\b(it|its|it's|that|this|they|them|their|those|these|there|one|ones|he|she)\b", re.I)
# Words that ask *about* something without naming a topic ("how much does it cost")
_GENERIC = frozenset("""cost costs price pricing priced charge charged billed much many work works use used using
limit limits size big long time maximum minimum max min difference different better example examples mean means
need needs do does done make makes get gets kind type types way ways thing things again simpler terms more""".split())


# What kind of sentence answers a question: (question pattern, answer pattern). A sentence that has
# the expected kind of answer (a duration for "how long", a size for "maximum size") gets a bonus.
_ANSWER_TYPES = (
    (re.compile(r"\bhow long\b|\bhow much time\b|\btimeouts?\b|\bduration\b", re.I),
     re.compile(r"\b\d[\d,.]*\s*(ms|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b", re.I)),
    (re.compile(r"\b(how (big|large)|size|maximum|max|limits?|how much (data|text|memory|storage))\b", re.I),
     re.compile(r"\b\d[\d,.]*\s*(KB|MB|GB|TB|kilobytes?|megabytes?|gigabytes?|characters|bytes|tokens)\b|"
                r"\bat most\b|\bup to\b|\blimited to\b", re.I)),
    (re.compile(r"\b(cost|costs|price|prices|pricing|priced|charged?|billed|pay)\b|\bhow much does\b", re.I),
     re.compile(r"\b(per|price|priced|charges?|charged|billed|cost|costs|free tier|\$\d)|\b(pay|pays|paid)\b", re.I)),
    (re.compile(r"\bhow many\b", re.I), re.compile(r"\b\d[\d,.]*\b")),
    (re.compile(r"^\s*(what is|what are|what's|define|definition of)\b", re.I),
     re.compile(r"\b(is|are) (a|an|the)\b|\brefers to\b|\bmeans\b", re.I)),
)


OVERLAP_WEIGHT = 0.25
ANSWER_TYPE_BONUS = 0.2
COVER_WEIGHT = 0.2
PASSAGE_WEIGHT = 0.3
DEFINITION_BONUS = 0.3
_DEFINITION_Q = re.compile(r"^\s*(?:what is|what are|what's|define|explain)\s+(?:an?\s+|the\s+)?(?P<topic>[\w .-]+?)"
                           r"(?:\s+(?:in|of|for|on|with|used|in the)\b.*)?\s*\??$", re.I)


def definition_bonus(question: str, sentence: str) -> float:
    """For "what is X?", a sentence that says what X is ("An intent is ...", "X is the AWS service ...")."""
    m = _DEFINITION_Q.match(question)
    if not m:
        return 0.0
    topic = re.escape(m["topic"].strip().lower())
    topic = re.sub(r"(s)$", r"s?", topic)  # intents / intent
    pattern = rf"\b{topic}s?\b[^.;:]{{0,40}}?\b(is|are|means|refers to|represents|lets|does|turns|converts|provides|offers|analy[sz]es|stores|runs|reads|connects|gives|helps|builds)\b"
    return DEFINITION_BONUS if re.search(pattern, sentence.lower()) else 0.0


_DANGLING = re.compile(r"^(it|its|this|that|these|those|they|their|he|she|such|also|however)\b", re.I)


def answer_type_bonus(question: str, sentence: str) -> float:
    for q_pat, a_pat in _ANSWER_TYPES:
        if q_pat.search(question):
            return ANSWER_TYPE_BONUS if a_pat.search(sentence) else 0.0
    return 0.0


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1 and w not in STOPWORDS]


def _stem(w: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def is_follow_up(question: str) -> bool:
    words = content_words(question)
    topical = [w for w in words if w not in _GENERIC]
    if _FOLLOW_START.match(question) and len(topical) <= 2:
        return True
    return len(question.split()) <= 9 and bool(_REFERRING.search(question)) and len(topical) <= 1


def condense(question: str, history: Sequence[str]) -> str:
    """The retrieval query for ``question``: joined with the previous question when it is a follow-up."""
    previous = next((h for h in reversed(history) if h and h.strip()), None)
    if previous and previous.strip() != question.strip() and is_follow_up(question):
        return f"{previous.strip()} {question.strip()}"
    return question


def _prefix(w: str) -> str:
    return w[:5]  # truncation "stemming": recognise/recognised, celebrity/celebrities


def coverage(question: str, texts: Sequence[str]) -> float:
    """The largest share of the question's topical words that one passage contains."""
    words = {_prefix(w) for w in content_words(question) if w not in _GENERIC}
    if not words:
        return 1.0
    best = 0.0
    for t in texts:
        found = {_prefix(w) for w in re.findall(r"[a-z0-9]+", t.lower())}
        best = max(best, len(words & found) / len(words))
    return best


def has_evidence(question: str, hits: Sequence[Any]) -> bool:
    if not hits:
        return False
    best = max(h.dense for h in hits)
    if best < MIN_DENSE:
        return False
    if best >= STRONG_DENSE:
        return True
    return coverage(question, [h.text for h in hits[:3]]) >= MIN_COVERAGE


def answer(question: str, query: str, hits: Sequence[Any], embedder: Any,
           link: Callable[[str | None, int | None], str | None]) -> Answer:
    """Stitch the best sentences of ``hits`` into a cited answer, or say it was not found."""
    if not has_evidence(query, hits):
        return Answer(False, NOT_FOUND)
    candidates: list[tuple[int, int, str]] = []  # (hit index, position, sentence)
    contexts: list[str] = []  # the sentence with its section heading, for embedding
    seen = set()
    for hi, hit in enumerate(hits[:4]):
        heading = ""
        for pos, s in enumerate(sentences(hit.text)):
            if is_heading(s) or s.rstrip().endswith("?"):  # a question (an FAQ heading) never answers
                heading = s
                continue
            key = s.lower()
            if len(s.split()) < 4 or key in seen:
                continue
            seen.add(key)
            candidates.append((hi, pos, s))
            contexts.append(f"{heading}: {s}" if heading else s)
    if not candidates:
        return Answer(False, NOT_FOUND)
    vecs = embedder.embed(contexts)
    qv = embedder.embed_one(query)
    import numpy as np

    if query != question:  # a follow-up: what is new in the question matters most
        qv = qv + embedder.embed_one(question)
        qv = qv / (np.linalg.norm(qv) or 1.0)
    qwords = {_stem(w) for w in content_words(query)}
    top = max(h.score for h in hits) or 1.0
    # how much of what the question is about each passage covers ("Rekognition" in "how much does
    # Rekognition cost?"): a sentence from a passage about another service is a different answer
    covers = [coverage(query, [f"{h.source} {h.text}"]) for h in hits[:4]]
    scores = []
    for (hi, _pos, s), v in zip(candidates, vecs):
        swords = {_stem(w) for w in re.findall(r"[a-z0-9]+", s.lower())}
        overlap = len(qwords & swords) / max(len(qwords), 1)
        scores.append(float(v @ qv) + OVERLAP_WEIGHT * overlap + PASSAGE_WEIGHT * hits[hi].score / top
                      + answer_type_bonus(question, s) + definition_bonus(question, s) + COVER_WEIGHT * covers[hi])
    order = sorted(range(len(candidates)), key=lambda i: scores[i], reverse=True)
    best = scores[order[0]]
    chosen = [order[0]]
    length = len(candidates[order[0]][2])
    for i in order[1:]:
        if len(chosen) >= MAX_SENTENCES or scores[i] < best - EXTRA_MARGIN:
            break
        if hits[candidates[i][0]].source != hits[candidates[order[0]][0]].source:
            continue  # stitch sentences of one document; another PDF is a different answer
        if length + len(candidates[i][2]) > MAX_ANSWER_CHARS:
            continue
        if any(float(vecs[i] @ vecs[j]) > 0.85 for j in chosen):
            continue
        chosen.append(i)
        length += len(candidates[i][2])
    # a sentence that starts with "It"/"This"/"They" needs the one before it to make sense
    for i in list(chosen):
        hi, pos, s = candidates[i]
        if _DANGLING.match(s):
            prev = next((j for j, c in enumerate(candidates) if c[0] == hi and c[1] == pos - 1), None)
            if prev is not None and prev not in chosen and len(chosen) < MAX_SENTENCES + 1:
                chosen.append(prev)
    chosen.sort(key=lambda i: (candidates[i][0], candidates[i][1]))

    citations: list[Citation] = []
    index: dict[tuple[str, int], int] = {}
    parts = []
    for i in chosen:
        hi, _pos, s = candidates[i]
        hit = hits[hi]
        key = (hit.source, hit.page)
        if key not in index:
            citations.append(Citation(hit.source, hit.page, link(hit.blob_key, hit.page), s[:300]))
            index[key] = len(citations)
        parts.append(f"{_sentence(s)} [{index[key]}]")
    return Answer(True, " ".join(parts), tuple(citations))


def _sentence(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return s if s[-1:] in ".!?:" else s + "."
