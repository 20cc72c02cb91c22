"""Summaries read like a person wrote them: citation markers are not analyzed ("1 (quantity)" from "[1]"),
implausible entities are dropped (single common words tagged as names, bare numbers, low confidence), and
the sentiment is said in words. Offline engines for real; Amazon Comprehend through botocore's Stubber."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import Stubber

from bot.turn import Turn
from conftest import require_module

# a course answer as the bot gives it: markers, emphasis, a heading line, a list of sections
ANSWER = (
    "Cold starts\n"
    "**The first request to a new execution environment pays a cold start while the runtime and your code load.** "
    "Provisioned concurrency keeps environments initialised to avoid it. [1]\n"
    "The course covers: Versions and aliases (p. 1); Inference parameters (p. 1); Durability and versioning (p. 2). "
    "Teams at Netflix deploy functions built with Docker from Seattle, and AWS bills them per millisecond. [2] [12]"
)


def _entities_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.startswith("Entities: ")), "")


def test_local_summary_strips_markers_drops_junk_entities_and_says_the_tone(router):
    require_module("spacy", "spaCy (the `ner` extra)")
    reply = router.handle(Turn(conversation="sum-1", text="summarize: " + ANSWER))
    assert reply.intent == "SummarizeText" and reply.error is None, reply.text
    text = reply.text
    assert not re.search(r"\[\d+\]", text) and "**" not in text, text
    entities = _entities_line(text)
    assert entities, text
    names = [re.sub(r" \([a-z_]+\)$", "", part) for part in entities.removeprefix("Entities: ").split("; ")]
    assert not any(n.isdigit() for n in names), names  # no "1", "12" from the markers
    for common in ("Versions", "Inference", "Durability", "Cold"):
        assert common not in names, names  # capitalized only because a heading or item starts with it
    assert {"Netflix", "Seattle", "AWS"} <= set(names), names
    sentiment = next(line for line in text.splitlines() if line.startswith("Sentiment: "))
    assert not re.search(r"\d", sentiment), sentiment  # no "(14%)"
    assert sentiment.removeprefix("Sentiment: ") in {
        "neutral", "mostly neutral, slightly positive", "mostly neutral, slightly negative",
        "mostly neutral, somewhat positive", "mostly neutral, somewhat negative"}, sentiment
    summary = next(line for line in text.splitlines() if line.startswith("Summary: "))
    assert "Cold starts — The first request" in summary  # the heading is set off, not run into the sentence
    assert reply.details["entities"] and all(e["text"] in names for e in reply.details["entities"])


def test_summarize_that_after_a_cited_answer_does_not_count_the_markers(router, services, tmp_path):
    from kb.sample import build as build_sample

    lex = next(p for p in build_sample(tmp_path / "sample") if p.name.startswith("01-"))
    services.kb.ingest([str(lex)])
    answer = router.handle(Turn(conversation="sum-2", text="What is Amazon Lex?"))
    assert answer.citations and re.search(r"\[1\]", answer.text), answer.text
    summary = router.handle(Turn(conversation="sum-2", text="summarize that"))
    assert summary.intent == "SummarizeText" and summary.error is None, summary.text
    assert not re.search(r"\[\d+\]|\b\d+ \(quantity\)", summary.text), summary.text
    assert "Sentiment: " in summary.text and not re.search(r"Sentiment: .*\d", summary.text), summary.text


@pytest.mark.parametrize("label,scores,words", [
    ("POSITIVE", {"Positive": 0.103, "Negative": 0.0, "Neutral": 0.897}, "mostly neutral, slightly positive"),
    ("NEGATIVE", {"Positive": 0.0, "Negative": 0.3, "Neutral": 0.7}, "mostly neutral, somewhat negative"),
    ("POSITIVE", {"Positive": 0.97, "Negative": 0.01, "Neutral": 0.02}, "clearly positive"),
    ("NEGATIVE", {"Positive": 0.1, "Negative": 0.6, "Neutral": 0.3}, "negative"),
    ("NEUTRAL", {"Positive": 0.034, "Negative": 0.042, "Neutral": 0.924}, "neutral"),
    ("NEUTRAL", {"Positive": 0.3, "Negative": 0.02, "Neutral": 0.68}, "mostly neutral, slightly positive"),
    ("MIXED", {"Positive": 0.4, "Negative": 0.35, "Neutral": 0.05, "Mixed": 0.2}, "mixed: partly positive, partly negative"),
])
def test_sentiment_in_words(label, scores, words):
    from intents.summarize_text import sentiment_words

    assert sentiment_words(label, scores) == words


def test_comprehend_results_are_rendered_the_same_way(settings):
    """The aws path: Comprehend gets the text without markers; low-confidence and junk entities are not shown."""
    from bot.aws.comprehend import ComprehendAnalyzer
    from bot.router import Router
    from bot.services import Services

    text = ("Jeff Barr announced Amazon Polly in Seattle [1]. Pricing starts at 4 dollars per million "
            "characters [2]. The students loved the new voices [3].")
    sent = "Jeff Barr announced Amazon Polly in Seattle. Pricing starts at 4 dollars per million characters. " \
           "The students loved the new voices."
    client = boto3.client("comprehend", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    with Stubber(client) as stub:
        stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.99}]},
                          {"Text": sent})
        stub.add_response("detect_key_phrases", {"KeyPhrases": [
            {"Text": "Amazon Polly", "Score": 0.99, "BeginOffset": 20, "EndOffset": 32}]},
            {"Text": sent, "LanguageCode": "en"})
        stub.add_response("detect_entities", {"Entities": [
            {"Text": "Jeff Barr", "Type": "PERSON", "Score": 0.998, "BeginOffset": 0, "EndOffset": 9},
            {"Text": "Amazon Polly", "Type": "COMMERCIAL_ITEM", "Score": 0.95, "BeginOffset": 20, "EndOffset": 32},
            {"Text": "Seattle", "Type": "LOCATION", "Score": 0.99, "BeginOffset": 36, "EndOffset": 43},
            {"Text": "Pricing", "Type": "ORGANIZATION", "Score": 0.91, "BeginOffset": 45, "EndOffset": 52},
            {"Text": "4 dollars", "Type": "QUANTITY", "Score": 0.97, "BeginOffset": 63, "EndOffset": 72},
            {"Text": "million", "Type": "QUANTITY", "Score": 0.85, "BeginOffset": 77, "EndOffset": 84},
            {"Text": "students", "Type": "PERSON", "Score": 0.41, "BeginOffset": 101, "EndOffset": 109}]},
            {"Text": sent, "LanguageCode": "en"})
        stub.add_response("detect_sentiment", {"Sentiment": "POSITIVE", "SentimentScore": {
            "Positive": 0.93, "Negative": 0.01, "Neutral": 0.05, "Mixed": 0.01}}, {"Text": sent, "LanguageCode": "en"})
        services = Services(settings, overrides={"text": ComprehendAnalyzer(client)})
        reply = Router(services).handle(Turn(conversation="sum-aws", text="summarize: " + text))
        stub.assert_no_pending_responses()
    assert reply.error is None, reply.text
    assert _entities_line(reply.text) == ("Entities: Jeff Barr (person); Amazon Polly (commercial_item); "
                                          "Seattle (location); 4 dollars (quantity)"), reply.text
    assert "Sentiment: clearly positive" in reply.text and "%)" not in reply.text.split("Language:")[0]
