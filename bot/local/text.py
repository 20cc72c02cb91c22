"""Offline text analysis (yake key phrases, VADER sentiment, langid language, spaCy entities when installed)
and an extractive summarizer that ranks the input's own sentences with the embedding model."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import numpy as np

from bot import textutil
from bot.capabilities import TextInsights
from bot.errors import missing_extra

log = logging.getLogger(__name__)

_lock = threading.Lock()

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


@functools.lru_cache(maxsize=4)
def _ner(model_name: str):
    """The spaCy pipeline, or None when spaCy or the model is not installed (entities are then skipped)."""
    try:
        import spacy

        return spacy.load(model_name, disable=["lemmatizer", "textcat"])
    except Exception as e:  # ImportError, OSError (model not installed), incompatible versions
        log.info("offline NER not available: %s", e)
        return None


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language, offline."""
    with _lock:
        lang, prob = _langid().classify(text[:5000])
    return lang, float(prob)


class LocalTextAnalyzer:
    """Key phrases, sentiment and language offline; entities when a spaCy NER model is installed.

    Args:
        ner_model: spaCy package name to load for entities (e.g. ``en_core_web_sm``).
        max_phrases: how many key phrases to return.
    """

    def __init__(self, ner_model: str = "en_core_web_sm", max_phrases: int = 10):
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
        nlp = _ner(self.ner_model)
        if nlp is None:
            notes.append("Named entities need an offline NER model, which is not installed here "
                         f"(pip install spacy and the '{self.ner_model}' model), or COURSEBOT_BACKEND=aws "
                         "for Amazon Comprehend.")
        elif lang != "en":
            notes.append(f"The offline entity model is English-only, so entities were skipped for this "
                         f"{textutil.language_name(lang)} text.")
        else:
            entities = self.entities(nlp, text)
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

    @staticmethod
    def entities(nlp: Any, text: str) -> tuple[dict[str, Any], ...]:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        with _lock:
            doc = nlp(text[:100_000])
        for ent in doc.ents:
            key = (ent.text.strip(), ent.label_)
            if key[0] and key not in seen:
                seen[key] = {"text": key[0], "type": ent.label_, "score": None}
        return tuple(seen.values())[:25]


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


def build_summarizer(settings: Any, services: Any) -> ExtractiveSummarizer:
    return ExtractiveSummarizer(services.embedder)
