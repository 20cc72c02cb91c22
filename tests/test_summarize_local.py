"""Offline text engines for real: text helpers, yake/VADER/langid analysis, the extractive summarizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import textutil

SAMPLE = (Path(__file__).parents[1] / "bot" / "bench" / "data" / "summarize_sample.md").read_text(encoding="utf-8")


# --- text helpers --------------------------------------------------------------------------------------
def test_clean_drops_invisible_and_bidi_controls_but_keeps_rtl_letters():
    raw = "\u202eمرحبا\u200b بكم\u200d\ufeff في \u2066الدورة\u2069.\x00 שלום\u200f"
    out = textutil.clean(raw)
    assert out == "مرحبا بكم في الدورة. שלום"


def test_sentence_spans_are_verbatim_slices_and_respect_abbreviations():
    text = "Lex has intents, e.g. BookHotel. Polly speaks!  Does Comprehend work?\n\nYes it does"
    spans = textutil.sentence_spans(text)
    assert [s.text for s in spans] == ["Lex has intents, e.g. BookHotel.", "Polly speaks!", "Does Comprehend work?",
                                       "Yes it does"]
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_cut_stops_at_a_sentence_boundary_and_says_so():
    text = "First sentence here. Second sentence is longer than the first. Third."
    assert textutil.cut(text, 30) == ("First sentence here.", True)
    # when the last sentence boundary would drop more than half, cut at a space instead
    assert textutil.cut(text, 50) == ("First sentence here. Second sentence is longer", True)
    assert textutil.cut(text, 1000) == (text, False)


def test_chunks_respect_the_byte_limit_and_keep_every_word():
    text = " ".join(f"Sentence número {i} tiene acentos y más palabras." for i in range(300))
    pieces = textutil.chunks(text, 5000)
    assert len(pieces) > 2
    assert all(len(p.encode("utf-8")) <= 5000 for p in pieces)
    assert " ".join(pieces) == text
    # one giant word with no spaces is still split under the limit
    huge = "x" * 12_000
    assert all(len(p) <= 5000 for p in textutil.chunks(huge, 5000)) and "".join(textutil.chunks(huge, 5000)) == huge


def test_ssml_escapes_markup_so_it_is_spoken_literally():
    doc = textutil.ssml('Hi </speak><break time="100s"/> & bye')
    assert doc == "<speak>Hi &lt;/speak&gt;&lt;break time=&quot;100s&quot;/&gt; &amp; bye</speak>"
    import xml.etree.ElementTree as ET

    root = ET.fromstring(doc)  # well-formed, and the only element is <speak>
    assert root.tag == "speak" and list(root) == [] and "<break" in root.text


def test_voice_wish():
    assert textutil.voice_wish("british") == textutil.VoiceWish(accent="en-GB")
    assert textutil.voice_wish("male") == textutil.VoiceWish(gender="Male")
    assert textutil.voice_wish("Joanna") == textutil.VoiceWish(name="Joanna")
    assert textutil.voice_wish(None) == textutil.VoiceWish()


# --- offline analyzer ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def analyzer():
    from bot.local.text import LocalTextAnalyzer

    return LocalTextAnalyzer(ner_model="coursebot_no_such_model")


def test_key_phrases_of_a_fixed_text_contain_the_expected_terms(analyzer):
    insights = analyzer.analyze(SAMPLE)
    phrases = " | ".join(insights.key_phrases).lower()
    assert len(insights.key_phrases) == 10
    for term in ("amazon lex", "comprehend", "bedrock", "students"):
        assert term in phrases, phrases
    assert insights.language == "en" and insights.language_score > 0.9


def test_sentiment_and_language(analyzer):
    good = analyzer.analyze("I love this course. The labs are great and the teachers are wonderful.")
    bad = analyzer.analyze("The lab was terrible. The instructions were wrong and I hated waiting for hours.")
    mixed = analyzer.analyze("The lectures were excellent and inspiring. The exam was awful and unfair.")
    assert (good.sentiment, bad.sentiment, mixed.sentiment) == ("POSITIVE", "NEGATIVE", "MIXED")
    assert good.sentiment_scores["Positive"] > good.sentiment_scores["Negative"]
    assert set(good.sentiment_scores) == {"Positive", "Negative", "Neutral", "Mixed"}
    fr = analyzer.analyze("Ce cours explique comment construire un assistant avec les services d'Amazon.")
    es = analyzer.analyze("Este curso explica cómo construir un asistente con los servicios de Amazon.")
    assert (fr.language, es.language) == ("fr", "es")
    assert any("VADER" in n for n in fr.notes)


def test_entities_note_when_no_offline_ner_model(analyzer):
    insights = analyzer.analyze("Jeff Bezos founded Amazon in Seattle.")
    assert insights.entities == ()
    assert any("NER model" in n and "on this server" in n for n in insights.notes), insights.notes
    assert not any("COURSEBOT_" in n or "pip install" in n for n in insights.notes)


def test_rtl_text_with_zero_width_characters(analyzer):
    insights = analyzer.analyze(textutil.clean("مرحبا\u200b بكم في الدورة. هذا نص\u200c باللغة العربية عن الخدمات السحابية."))
    assert insights.language == "ar"
    assert insights.key_phrases and all("\u200b" not in p for p in insights.key_phrases)


# --- extractive summarizer (real embedding model) ------------------------------------------------------
@pytest.fixture(scope="module")
def summarizer():
    from bot.local.embedding import shared_embedder
    from bot.local.text import ExtractiveSummarizer

    return ExtractiveSummarizer(shared_embedder())


def test_summary_sentences_come_verbatim_from_the_input_in_order(summarizer):
    summary = summarizer.summarize(SAMPLE, max_sentences=3)
    picked = textutil.sentences(summary)
    source = textutil.sentences(SAMPLE)
    assert len(picked) == 3
    assert all(s in source for s in picked), picked
    assert [source.index(s) for s in picked] == sorted(source.index(s) for s in picked)
    assert len(set(picked)) == 3


def test_summary_prefers_central_sentences_over_an_off_topic_one(summarizer):
    text = ("Amazon Polly converts text to speech with neural voices. Polly voices support SSML for pauses. "
            "Neural text to speech in Polly sounds natural. My neighbour's cat likes sardines on Sundays. "
            "Speech synthesis with Polly returns MP3 audio.")
    summary = summarizer.summarize(text, max_sentences=2)
    assert "sardines" not in summary


def test_short_text_is_returned_whole(summarizer):
    assert summarizer.summarize("One sentence only.", max_sentences=3) == "One sentence only."
