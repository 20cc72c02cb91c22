"""Every capability as a small Protocol, with its result types; providers implement them (bot/providers.py).

Result types are plain frozen dataclasses so every implementation returns the same shape.
"""

from __future__ import annotations

from concurrent.futures import Future

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, runtime_checkable

from bot.turn import Citation

if TYPE_CHECKING:
    import numpy as np

    from bot.conversation import Conversation


# --- knowledge base ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Passage:
    source: str
    page: int | None
    score: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "page": self.page, "score": round(float(self.score), 4), "text": self.text}


@dataclass(frozen=True)
class Answer:
    found: bool
    text: str
    citations: tuple[Citation, ...] = ()
    session_id: str | None = None  # Bedrock RetrieveAndGenerate session; None locally
    nearest: tuple[Citation, ...] = ()  # when not found: the closest pages (quote = their section heading)
    more: dict[str, Any] | None = None  # where "tell me more" continues (opaque to callers)
    kind: str = "answer"  # "answer" | "overview" | "more" (continues the previous passage)
    read_as: str | None = None  # the question as searched when that differs (another language, read in English)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"found": self.found, "answer": self.text,
                             "citations": [c.to_dict() for c in self.citations]}
        if self.nearest:
            d["nearest"] = [c.to_dict() for c in self.nearest]
        if self.kind != "answer":
            d["kind"] = self.kind
        if self.read_as:
            d["read_as"] = self.read_as
        return d


@dataclass(frozen=True)
class IngestResult:
    source: str
    status: str  # "added" | "replaced" | "unchanged" | "duplicate" | "failed" | "submitted"
    pages: int = 0
    chunks: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class IngestProgress:
    """How far an ingest has got, for a progress display (a terminal line, the web chat).

    ``stage``: "reading" (text of page ``page`` of ``pages`` extracted), "indexing" (pages up to ``page``
    embedded), "uploading", "syncing" (the Bedrock ingestion job's ``status``), "done" (``result`` set).
    """

    source: str
    stage: str
    page: int = 0
    pages: int = 0  # 0 while unknown
    file: int = 1  # 1-based position of this PDF among ``files``
    files: int = 1
    status: str | None = None
    result: IngestResult | None = None

    def describe(self) -> str:
        if self.stage == "done" and self.result is not None:
            return f"{self.result.status} {self.source}"
        if self.stage == "syncing":
            state = (self.status or "starting").lower().replace("_", " ")
            return f"the knowledge base is indexing {self.source} ({state})…"
        if self.stage == "uploading":
            return f"uploading {self.source}…"
        if self.pages:
            verb = "reading" if self.stage == "reading" else "indexing"
            return f"{verb} page {self.page} of {self.pages}…"
        return f"reading {self.source}…"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None and k != "result"}
        if self.result is not None:
            out["result"] = self.result.to_dict()
        out["text"] = self.describe()
        return out


IngestListener = Callable[[IngestProgress], None]


@runtime_checkable
class KnowledgeBase(Protocol):
    def ingest(self, paths: Sequence[str], *, progress: IngestListener | None = None) -> list[IngestResult]: ...

    def search(self, query: str, k: int = 5) -> list[Passage]: ...

    def ask(self, question: str, *, session_id: str | None = None, history: Sequence[str] = ()) -> Answer: ...

    def retrieval_query(self, question: str, history: Sequence[str] = ()) -> str:
        """The query ``ask`` searches for: a follow-up question joined with the previous one."""
        ...


# --- text ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextInsights:
    language: str | None = None
    language_score: float | None = None
    sentiment: str | None = None  # POSITIVE | NEGATIVE | NEUTRAL | MIXED
    sentiment_scores: dict[str, float] = field(default_factory=dict)
    key_phrases: tuple[str, ...] = ()
    # {"text", "type", "score", "begin", "end"}: type is one of Comprehend's (PERSON, LOCATION, ORGANIZATION,
    # COMMERCIAL_ITEM, EVENT, DATE, QUANTITY, TITLE, OTHER); begin/end are character offsets of the first
    # occurrence; score is None when the engine gives none (offline spaCy)
    entities: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()  # what could not be computed, and why


class TextAnalyzer(Protocol):
    def analyze(self, text: str) -> TextInsights: ...


class Summarizer(Protocol):
    def summarize(self, text: str, *, max_sentences: int = 3) -> str: ...


class Translator(Protocol):
    def translate(self, text: str, target_language: str) -> str: ...


class LanguageDetector(Protocol):
    def detect(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the text's language."""
        ...


class Embedder(Protocol):
    def embed(self, texts: Sequence[str], batch_size: int = 16) -> "np.ndarray": ...

    def embed_one(self, text: str) -> "np.ndarray": ...


class Nlu(Protocol):
    """Intent and slots of a message (bot/nlu.py); ``parse`` returns an ``NluResult``. ``course`` and
    ``owner`` scope the knowledge base it may consult as evidence to what the conversation may read."""

    def parse(self, text: str, attachment_kinds: Sequence[str] = (), *, course: str | None = None,
              owner: str | None = None) -> Any: ...


# --- speech and blobs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Audio:
    data: bytes
    mime: str  # audio/mpeg | audio/ogg | audio/wav
    duration_s: float | None = None
    voice: str | None = None


class Speech(Protocol):
    def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None) -> Audio: ...


@dataclass(frozen=True)
class StoredBlob:
    key: str
    url: str
    path: str | None = None  # local file, when there is one
    expires_at: float | None = None


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, mime: str) -> StoredBlob: ...

    def get(self, key: str) -> bytes: ...

    def url(self, key: str, expires_in: int | None = None) -> str: ...


class RemoteFiles(Protocol):
    """Files a channel names by link instead of sending them (Lex: ``s3://bucket/key``)."""

    def read(self, url: str, limit: int, *, what: str = "the file") -> bytes:
        """The file's bytes; InputError when the link is invalid or the file is over ``limit`` bytes."""
        ...


class LinkStore(Protocol):
    """Short links ``<base>/l/<id>`` to stored files (bot/shortlinks.py)."""

    def shorten(self, key_or_url: str, expires_in: int | None = None) -> str: ...

    def resolve(self, link_id: str) -> Any: ...  # bot.shortlinks.ShortLink; LinkError when unknown or expired

    def target_url(self, link: Any) -> str: ...  # a freshly signed URL of the link's file


# --- vision --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoDescription:
    summary: str
    labels: tuple[dict[str, Any], ...] = ()
    faces: tuple[dict[str, Any], ...] = ()
    text: tuple[str, ...] = ()
    celebrities: tuple[dict[str, Any], ...] = ()
    known_faces: tuple[dict[str, Any], ...] = ()
    moderation: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()


class Vision(Protocol):
    def describe(self, image: bytes, mime: str) -> PhotoDescription: ...


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str
    seed: int | None = None


class ImageGenerator(Protocol):
    def generate(self, prompt: str, *, negative_prompt: str | None = None, width: int = 1024, height: int = 1024,
                 seed: int | None = None) -> GeneratedImage: ...


# --- state ---------------------------------------------------------------------------------------
class ConversationStore(Protocol):
    """What the bot remembers per conversation key (bot/conversation.py)."""

    def load(self, key: str) -> "Conversation": ...

    def save(self, key: str, conversation: "Conversation") -> None: ...

    def delete(self, key: str) -> None: ...


class DedupeStore(Protocol):
    """Seen Slack deliveries: a retried or replayed event is answered once."""

    def claim(self, key: str) -> bool:
        """True for the first delivery of ``key``; False for a retry or a replay."""
        ...

    def begin(self, key: str) -> bool:
        """True once per claimed key: the worker that may do the work."""
        ...


# --- instructor insight --------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerRecord:
    """One answered turn as instructors see it: never the student's identity, only the conversation hash."""

    answer_id: str
    conversation: str  # the conversation hash (bot.insight.conversation_hash), never the key itself
    course: str
    intent: str
    question: str
    answer: str
    citations: tuple[tuple[str, int | None], ...] = ()  # (source, page)
    found: bool | None = None  # AskCoursePdfs: whether the course had the answer; None for other intents
    at: float = 0.0  # epoch seconds


@dataclass(frozen=True)
class Rating:
    """A student's rating of one answer; one per answer and conversation, the last one counts."""

    answer_id: str
    conversation: str  # hash, as in AnswerRecord
    rating: str  # "up" | "down"
    comment: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class CuratedAnswer:
    """An answer an instructor pinned for a question (and its paraphrases)."""

    id: str
    course: str
    question: str
    answer: str
    at: float = 0.0


class InsightStore(Protocol):
    """Answers, ratings and curated answers, per course. Local: SQLite; aws: the state table."""

    def record(self, record: AnswerRecord) -> None: ...

    def get(self, answer_id: str) -> AnswerRecord | None: ...

    def rate(self, rating: Rating) -> None: ...

    def answers(self, *, since: float = 0.0, course: str | None = None) -> list[AnswerRecord]: ...

    def ratings(self, *, since: float = 0.0) -> list[Rating]: ...

    def pin(self, curated: CuratedAnswer) -> None: ...

    def unpin(self, course: str, curated_id: str) -> bool: ...

    def curated(self, course: str) -> list[CuratedAnswer]: ...


# --- fair use and chat uploads -------------------------------------------------------------------
class Quotas(Protocol):
    """Counters over sliding windows: uploads per hour, pages per day, turns per minute (bot/quotas.py)."""

    def take(self, what: str, who: str, amount: int, limit: int, window: int) -> float | None:
        """Count ``amount`` for ``who``; None when within ``limit``, else the seconds until there is room."""
        ...


class UploadQueue(Protocol):
    """Runs chat uploads outside the request, one at a time per user (bot/uploads.py)."""

    def submit(self, user: str, job: Callable[[], Any]) -> "Future[Any]": ...
