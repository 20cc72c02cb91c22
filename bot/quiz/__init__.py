"""Practice quizzes: multiple-choice questions built from course passages, and the engine Protocol.

The offline generator (``bot.quiz.offline``) builds questions from the passages themselves; the
engines (``bot.quiz.local`` over the local index, ``bot.quiz.bedrock`` with a Bedrock model grounded
on Knowledge Base passages) find the passages and are registered in bot/providers.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence

LETTERS = "ABCDE"
MAX_CHOICES = 4
MIN_CHOICES = 3
MAX_QUESTIONS = 10  # per set
DEFAULT_QUESTIONS = 5


@dataclass(frozen=True)
class QuizPassage:
    """A passage questions can be built from: its document, 1-based page, text and (optional) section context."""

    source: str
    page: int | None
    text: str
    context: str = ""
    url: str | None = None  # a link that opens the document at the page
    key: str = ""  # identifies the passage within the course (distractors come from other passages)

    @property
    def ident(self) -> str:
        return self.key or f"{self.source}#{self.page}#{hashlib.sha1(self.text.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; ``answer`` is the index of the right choice, ``quote`` the passage's
    key sentence (which holds the answer), ``kind`` what the blank is (number, name, term, ...)."""

    question: str
    choices: tuple[str, ...]
    answer: int
    source: str
    page: int | None
    quote: str
    passage: str = ""
    kind: str = ""
    url: str | None = None
    engine: str = "offline"
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha1(f"{self.source}|{self.page}|{self.quote}|{self.choices[self.answer]}".encode())
            object.__setattr__(self, "id", digest.hexdigest()[:12])

    @property
    def letter(self) -> str:
        return LETTERS[self.answer]

    @property
    def right(self) -> str:
        return self.choices[self.answer]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["choices"] = list(self.choices)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Question":
        choices = tuple(str(c) for c in d.get("choices") or ())
        answer = int(d.get("answer", -1))
        if not (MIN_CHOICES - 1 <= len(choices) <= len(LETTERS)) or not 0 <= answer < len(choices):
            raise ValueError("not a question")
        page = d.get("page")
        return cls(question=str(d["question"]), choices=choices, answer=answer, source=str(d.get("source") or ""),
                   page=int(page) if isinstance(page, int) else None, quote=str(d.get("quote") or ""),
                   passage=str(d.get("passage") or ""), kind=str(d.get("kind") or ""), url=d.get("url") or None,
                   engine=str(d.get("engine") or "offline"), id=str(d.get("id") or ""))


@dataclass(frozen=True)
class QuizSet:
    """What an engine made for one request: the questions, and (when there are none) why."""

    questions: tuple[Question, ...]
    found: bool = True  # the course has passages on the topic
    note: str | None = None


class QuizMaker(Protocol):
    """Builds a set of questions on ``topic`` (None: the whole course) from the course passages."""

    def make(self, topic: str | None, *, count: int = DEFAULT_QUESTIONS, course: str = "default",
             owner: str | None = None, avoid: Sequence[str] = (), seed: int = 0) -> QuizSet: ...
