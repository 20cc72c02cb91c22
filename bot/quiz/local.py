"""The local quiz engine: passages from the course index (a document, a chapter, or what a search finds),
questions from the offline generator, distractors from every passage of the course."""

from __future__ import annotations

import inspect
import random
import re
from typing import Any, Sequence

from bot.quiz import DEFAULT_QUESTIONS, QuizMaker, QuizPassage, QuizSet, offline

MAX_PASSAGES = 400  # a course's passages read for one set (the pool of distractors); larger courses are sampled
_ORDINAL = re.compile(r"\b(?:lecture|chapter|module|week|unit|part|lesson|section|session|pdf|document|doc|"
                      r"topic|class)\s*#?\s*(\d{1,3})\b", re.I)
_TOPIC_NOISE = frozenset("""quiz quizzes question questions test tests lecture lectures chapter chapters notes note
pdf pdfs document documents doc docs course courses material materials module topic about on the a an me my of in for
and slides flashcards flashcard practice""".split())


def topic_words(topic: str | None) -> list[str]:
    """The words of a topic that name something ("AWS Lambda" -> aws, lambda)."""
    words = re.findall(r"[a-z0-9]+", (topic or "").lower())
    return [w for w in words if w not in _TOPIC_NOISE and w not in offline.STOP]


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def finish(make: Any, passages: Sequence[QuizPassage], pool: Sequence[QuizPassage], count: int,
           avoid: Sequence[str], seed: int) -> list[Any]:
    """Questions not asked before, topped up with earlier ones when the passages have no new ones left."""
    fresh = make(passages, pool, count=count, avoid=avoid, seed=seed)
    if len(fresh) < count and avoid:
        ids = {q.id for q in fresh}
        answers = [q.right for q in fresh]
        for q in make(passages, pool, count=count * 2, avoid=(), seed=seed + 1):
            if len(fresh) >= count:
                break
            if q.id not in ids and not any(offline.same_answer(q.right, a) for a in answers):
                fresh.append(q)
                ids.add(q.id)
                answers.append(q.right)
    return fresh


class LocalQuizMaker:
    """Implements :class:`bot.quiz.QuizMaker` over the local knowledge base (any KB with ``search``
    works; the local index also scopes a set to one document or chapter)."""

    engine = "offline"

    def __init__(self, kb: Any):
        self.kb = kb
        self._pools: dict[tuple[Any, ...], offline.Pool] = {}  # distractor pools by course and index version

    # --- passages ------------------------------------------------------------------------------------
    def _course_passages(self, course: str, owner: str | None) -> list[tuple[QuizPassage, str, str]] | None:
        """Every passage of the course (and the asker's own files): (passage, document name, title)."""
        index = getattr(self.kb, "index", None)
        if index is None or not hasattr(index, "db"):
            return None
        from kb.index import SOURCE_SQL, Scope

        where, params = Scope(course, owner).where("d")
        rows = index.db.execute(
            f"SELECT c.id, {SOURCE_SQL}, c.page, c.text, d.blob_key, c.context, d.name, COALESCE(d.title, '') "
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where} ORDER BY d.name, c.ordinal",
            params).fetchall()
        link = getattr(self.kb, "link", None)
        links: dict[tuple[str | None, int], str | None] = {}
        outline = _Outline(index)
        out = []
        for cid, source, page, text, blob_key, context, name, title in rows:
            if (blob_key, page) not in links:
                links[(blob_key, page)] = link(blob_key, page) if callable(link) else None
            context = outline.context(name, page, text, context or "")
            out.append((QuizPassage(source, page, text, context, links[(blob_key, page)], f"chunk:{cid}"),
                        name, title))
        return out

    def _documents(self, topic: str | None, rows: list[tuple[QuizPassage, str, str]]) -> list[str]:
        """The documents a topic names: "lecture 3" (by number), or a name/title holding every topic word."""
        names = sorted({name for _, name, _ in rows})
        m = _ORDINAL.search(topic or "")
        if m:
            n = int(m.group(1))
            numbered = [d for d in names if re.match(rf"^0*{n}(?!\d)", d)]
            if numbered:
                return numbered
            if len(names) > 1 and 1 <= n <= len(names):
                return [names[n - 1]]
            return []
        words = topic_words(topic)
        if not words:
            return []
        titles = {name: title for _, name, title in rows}
        out = []
        for name in names:
            have = set(re.findall(r"[a-z0-9]+", f"{name} {titles.get(name, '')}".lower()))
            if all(w in have for w in words):
                out.append(name)
        return out

    def _chapter(self, topic: str | None, name: str, rows: list[tuple[QuizPassage, str, str]]) -> list[QuizPassage]:
        """The passages of chapter N of one document ("chapter 2"), from its headings."""
        m = _ORDINAL.search(topic or "")
        headings = getattr(getattr(self.kb, "index", None), "headings", None)
        if not m or headings is None:
            return []
        n = m.group(1)
        heads = [h for h in headings(name) if h.level == 0] or list(headings(name))
        for i, h in enumerate(heads):
            if re.match(rf"^(chapter\s+)?{n}(\.?\s|$)", h.title.strip(), re.I):
                end = heads[i + 1].page if i + 1 < len(heads) else 10 ** 6
                return [p for p, d, _ in rows if d == name and p.page is not None and h.page <= p.page <= max(end, h.page)]
        return []

    def passages(self, topic: str | None, course: str, owner: str | None, seed: int = 0
                 ) -> tuple[list[QuizPassage], list[QuizPassage]]:
        """(passages to ask about, in order of relevance; every passage of the course, for distractors)."""
        rng = random.Random(seed)
        rows = self._course_passages(course, owner)
        if rows is None:  # a knowledge base without the local index: what a search finds
            found = self._search(topic or "the main ideas of the course", course, owner, k=12)
            return found, found
        pool = [p for p, _, _ in rows]
        if len(pool) > MAX_PASSAGES:
            pool = rng.sample(pool, MAX_PASSAGES)
        if not topic or not topic_words(topic) and not _ORDINAL.search(topic):
            chosen = [p for p, _, _ in rows]
            rng.shuffle(chosen)
            return chosen, pool
        docs = self._documents(topic, rows)
        if len(docs) == 1 and _ORDINAL.search(topic) and not re.match(rf"^0*{_ORDINAL.search(topic).group(1)}(?!\d)",
                                                                        docs[0]):
            chapter = self._chapter(topic, docs[0], rows)
            if chapter:
                rng.shuffle(chapter)
                return chapter, pool
        if not docs and _ORDINAL.search(topic):
            names = sorted({d for _, d, _ in rows})
            if len(names) == 1:
                chapter = self._chapter(topic, names[0], rows)
                if chapter:
                    rng.shuffle(chapter)
                    return chapter, pool
        if docs:
            chosen = [p for p, d, _ in rows if d in docs]
            rng.shuffle(chosen)
            return chosen, pool + [p for p in chosen if p not in pool]
        by_key = {p.key: p for p, _, _ in rows}
        found = []
        for hit in self._hits(topic, course, owner):
            p = by_key.get(f"chunk:{hit.chunk_id}")
            if p is not None:
                found.append(p)
        return found, pool + [p for p in found if p not in pool]

    def _hits(self, topic: str, course: str, owner: str | None) -> list[Any]:
        from kb.index import Scope

        hits = self.kb.hits(topic, k=12, scope=Scope(course, owner))
        if not hits:
            return []
        top = hits[0].score
        return [h for h in hits if h.score >= 0.7 * top and (h.lexical > 0 or h.dense >= 0.35)]

    def _search(self, query: str, course: str, owner: str | None, k: int) -> list[QuizPassage]:
        kwargs = {name: value for name, value in (("course", course), ("owner", owner), ("rerank", False))
                  if _accepts(self.kb.search, name)}  # a topic is no question: hybrid search's order
        link = getattr(self.kb, "page_link", None)
        out = []
        for p in self.kb.search(query, k, **kwargs):
            url = link(p.source, p.page) if callable(link) else None
            out.append(QuizPassage(p.source, p.page, p.text, "", url))
        return out

    # --- questions ---------------------------------------------------------------------------------
    def make(self, topic: str | None, *, count: int = DEFAULT_QUESTIONS, course: str = "default",
             owner: str | None = None, avoid: Sequence[str] = (), seed: int = 0) -> QuizSet:
        passages, pool = self.passages(topic, course, owner, seed)
        if not passages:
            return QuizSet((), found=False)
        questions = finish(offline.generate, passages, self._pool(pool, course, owner), count, avoid, seed)
        return QuizSet(tuple(questions), found=True)

    def _pool(self, passages: list[QuizPassage], course: str, owner: str | None) -> offline.Pool:
        """The course's distractor pool, built once per version of the index (a big course takes a second)."""
        index = getattr(self.kb, "index", None)
        try:
            version = index.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        except Exception:  # no local index: nothing to key a cache on
            return offline.Pool(passages, embed=self._embed())
        key = (course, owner, version, len(passages), passages[0].ident if passages else "")
        pool = self._pools.get(key)
        if pool is None:
            if len(self._pools) > 16:
                self._pools.clear()
            pool = self._pools[key] = offline.Pool(passages, embed=self._embed())
        return pool

    def _embed(self) -> Any:
        """The knowledge base's embedder (phrases close in meaning make better distractors), or None."""
        embedder = getattr(self.kb, "embedder", None)
        embed = getattr(embedder, "embed", None)
        return embed if callable(embed) else None


class _Outline:
    """The section a chunk starts in, from the document's outline (headings with their pages): the last
    heading of an earlier page, or of the same page once an earlier chunk has shown it. A chunk's stored
    context is the heading last seen by the chunker, which a PDF's running text often leaves stale."""

    def __init__(self, index: Any):
        self.index = index
        self.heads: dict[str, list[tuple[str, int]]] = {}
        self.seen: dict[str, set[str]] = {}

    def _outline(self, name: str) -> list[tuple[str, int]]:
        if name not in self.heads:
            try:
                rows = self.index.db.execute(
                    "SELECT h.title, h.page FROM headings h JOIN documents d ON d.id = h.doc_id "
                    "WHERE d.name = ? AND d.owner = '' ORDER BY h.position", (name,)).fetchall()
            except Exception:  # an index without an outline: the stored contexts stand
                rows = []
            self.heads[name] = [(" ".join(str(t).split()), int(p)) for t, p in rows if t and p is not None]
        return self.heads[name]

    def context(self, name: str, page: int | None, text: str, context: str) -> str:
        heads = self._outline(name)
        if not heads or page is None:
            return context
        seen = self.seen.setdefault(name, set())
        flat = " ".join(text.split())
        current = ""
        for title, at in heads:
            if at < page or (at == page and title in seen):
                current = title
        seen.update(title for title, at in heads if at == page and title in flat)
        if not current:
            return context
        parts = [c.strip() for c in context.split(" - ") if c.strip()]
        return f"{parts[0]} - {current}" if parts and parts[0] != current else current


def build(settings: Any, services: Any) -> QuizMaker:
    """Services factory for the local backend."""
    return LocalQuizMaker(services.kb)
