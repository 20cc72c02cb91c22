"""Amazon Comprehend text analysis: dominant language, key phrases, entities and sentiment within each
operation's byte limits."""

from __future__ import annotations

from typing import Any

from bot import textutil
from bot.aws.clients import call, make_client
from bot.capabilities import TextInsights

# Comprehend's real-time limits (UTF-8 bytes per document): DetectSentiment 5 KB; DetectKeyPhrases,
# DetectEntities and DetectDominantLanguage 100 KB. Stay a little under each.
SENTIMENT_MAX_BYTES = 5_000 - 8
DOCUMENT_MAX_BYTES = 100_000 - 1_000
MAX_SENTIMENT_CALLS = 25  # bounds cost: 25 x 5 KB = the first ~125 KB for sentiment at most
# Languages Comprehend's key phrases, entities and sentiment support (the LanguageCode enum).
SUPPORTED = {"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"}
_LABELS = ("Positive", "Negative", "Neutral", "Mixed")


def _utf8(s: str) -> int:
    return len(s.encode("utf-8"))


def cut_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, at a sentence boundary when there is one."""
    if _utf8(text) <= max_bytes:
        return text
    pieces = textutil.chunks(text, max_bytes)
    return pieces[0] if pieces else text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


class ComprehendAnalyzer:
    """TextAnalyzer on Amazon Comprehend.

    Args:
        client: a boto3 ``comprehend`` client (tests pass a stubbed one).
    """

    def __init__(self, client: Any):
        self.client = client

    def analyze(self, text: str) -> TextInsights:
        notes: list[str] = []
        doc = cut_bytes(text, DOCUMENT_MAX_BYTES)
        if doc != text:
            notes.append(f"Amazon Comprehend reads at most 100 KB at once, so only the first {_utf8(doc) // 1000} KB "
                         "were analyzed for language, key phrases and entities.")
        resp = call(self.client.detect_dominant_language, Text=doc, what="Amazon Comprehend")
        languages = sorted(resp.get("Languages", []), key=lambda x: -x.get("Score", 0))
        lang = languages[0]["LanguageCode"] if languages else None
        lang_score = float(languages[0]["Score"]) if languages else None
        if lang not in SUPPORTED:
            notes.append(f"Amazon Comprehend cannot extract key phrases, entities or sentiment from "
                         f"{textutil.language_name(lang)} text.")
            return TextInsights(language=lang, language_score=lang_score, notes=tuple(notes))

        phrases = call(self.client.detect_key_phrases, Text=doc, LanguageCode=lang, what="Amazon Comprehend")
        ranked = sorted(phrases.get("KeyPhrases", []), key=lambda p: -p.get("Score", 0))
        key_phrases: list[str] = []
        for p in ranked:
            t = p["Text"].strip()
            if t and t.lower() not in (k.lower() for k in key_phrases):
                key_phrases.append(t)
            if len(key_phrases) == 10:
                break

        found = call(self.client.detect_entities, Text=doc, LanguageCode=lang, what="Amazon Comprehend")
        entities: dict[tuple[str, str], dict[str, Any]] = {}
        for e in found.get("Entities", []):  # in order of appearance; offsets count characters (code points)
            key = (e["Text"].strip(), e["Type"])
            score = round(float(e.get("Score", 0)), 4)
            if not key[0]:
                continue
            if key not in entities:  # one entry per (text, type): its first span and its best score
                entities[key] = {"text": key[0], "type": e["Type"], "score": score,
                                 "begin": e.get("BeginOffset"), "end": e.get("EndOffset")}
            elif score > entities[key]["score"]:
                entities[key]["score"] = score

        label, scores, sentiment_note = self.sentiment(text, lang)
        if sentiment_note:
            notes.append(sentiment_note)
        return TextInsights(language=lang, language_score=lang_score, sentiment=label, sentiment_scores=scores,
                            key_phrases=tuple(key_phrases), entities=tuple(entities.values())[:25], notes=tuple(notes))

    def sentiment(self, text: str, lang: str) -> tuple[str, dict[str, float], str | None]:
        """DetectSentiment on ≤ 5 KB pieces split at sentence boundaries, aggregated by byte length.

        Pieces that agree give their label; POSITIVE pieces next to NEGATIVE ones make the text MIXED;
        otherwise the label with the highest length-weighted mean score wins.
        """
        pieces = textutil.chunks(text, SENTIMENT_MAX_BYTES)
        note = None
        if len(pieces) > MAX_SENTIMENT_CALLS:
            note = (f"Sentiment was measured on the first {MAX_SENTIMENT_CALLS} parts "
                    f"(about {MAX_SENTIMENT_CALLS * 5} KB) of the text.")
            pieces = pieces[:MAX_SENTIMENT_CALLS]
        totals = dict.fromkeys(_LABELS, 0.0)
        weight = 0
        labels: list[str] = []
        for piece in pieces:
            r = call(self.client.detect_sentiment, Text=piece, LanguageCode=lang, what="Amazon Comprehend")
            w = _utf8(piece)
            for k in _LABELS:
                totals[k] += float(r.get("SentimentScore", {}).get(k, 0.0)) * w
            weight += w
            labels.append(r.get("Sentiment", "NEUTRAL"))
        scores = {k: round(v / max(weight, 1), 4) for k, v in totals.items()}
        if len(set(labels)) == 1:
            label = labels[0]
        elif ("POSITIVE" in labels and "NEGATIVE" in labels) or "MIXED" in labels and scores["Mixed"] >= 0.3:
            label = "MIXED"
        else:
            label = max(_LABELS, key=lambda k: scores[k]).upper()
        return label, scores, note


def build(settings: Any, services: Any) -> ComprehendAnalyzer:
    return ComprehendAnalyzer(make_client("comprehend", settings))
