"""AWS text paths through botocore's Stubber: requests and responses validated against the service models."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from bot import textutil
from bot.errors import InputError, ServiceError


def _client(service):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def _capture(client, op):
    """Record the params of every call of ``op`` (Stubber checks them against the model)."""
    calls = []
    client.meta.events.register(f"provide-client-params.{client.meta.service_model.endpoint_prefix}.{op}",
                                lambda params, **_: calls.append(dict(params)))
    return calls


TEXT = ("Jeff Barr announced Amazon Polly in Seattle. The students loved the new voices. "
        "The lab in Dublin was slow and frustrating.")


def _sentiment(label, pos, neg, neu=0.0, mixed=0.0):
    return {"Sentiment": label, "SentimentScore": {"Positive": pos, "Negative": neg, "Neutral": neu, "Mixed": mixed}}


def test_comprehend_analyze_calls_each_operation_and_maps_results():
    from bot.aws.comprehend import ComprehendAnalyzer

    client = _client("comprehend")
    with Stubber(client) as stub:
        stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.99}]},
                          {"Text": TEXT})
        stub.add_response("detect_key_phrases", {"KeyPhrases": [
            {"Text": "Amazon Polly", "Score": 0.99, "BeginOffset": 13, "EndOffset": 25},
            {"Text": "the new voices", "Score": 0.97, "BeginOffset": 62, "EndOffset": 76},
            {"Text": "amazon polly", "Score": 0.5, "BeginOffset": 0, "EndOffset": 1}]},
            {"Text": TEXT, "LanguageCode": "en"})
        stub.add_response("detect_entities", {"Entities": [
            {"Text": "Jeff Barr", "Type": "PERSON", "Score": 0.998, "BeginOffset": 0, "EndOffset": 9},
            {"Text": "Seattle", "Type": "LOCATION", "Score": 0.99, "BeginOffset": 29, "EndOffset": 36},
            {"Text": "Amazon Polly", "Type": "COMMERCIAL_ITEM", "Score": 0.9, "BeginOffset": 13, "EndOffset": 25}]},
            {"Text": TEXT, "LanguageCode": "en"})
        stub.add_response("detect_sentiment", _sentiment("MIXED", 0.4, 0.35, 0.05, 0.2),
                          {"Text": TEXT, "LanguageCode": "en"})
        insights = ComprehendAnalyzer(client).analyze(TEXT)
        stub.assert_no_pending_responses()
    assert insights.language == "en" and insights.language_score == 0.99
    assert insights.key_phrases == ("Amazon Polly", "the new voices")
    assert {"text": "Jeff Barr", "type": "PERSON", "score": 0.998, "begin": 0, "end": 9} in insights.entities
    assert insights.sentiment == "MIXED" and insights.sentiment_scores["Mixed"] == 0.2


def test_sentiment_is_split_under_5kb_at_sentence_boundaries_and_aggregated():
    from bot.aws.comprehend import SENTIMENT_MAX_BYTES, ComprehendAnalyzer

    text = " ".join(f"Sentence {i} says the course was great, très bien." for i in range(300))  # ~15 KB
    pieces = textutil.chunks(text, SENTIMENT_MAX_BYTES)
    assert len(pieces) >= 3
    client = _client("comprehend")
    calls = _capture(client, "DetectSentiment")
    with Stubber(client) as stub:
        for i, _ in enumerate(pieces):
            resp = _sentiment("POSITIVE", 0.9, 0.05, 0.05) if i else _sentiment("NEGATIVE", 0.1, 0.8, 0.1)
            stub.add_response("detect_sentiment", resp, {"Text": ANY, "LanguageCode": "en"})
        label, scores, note = ComprehendAnalyzer(client).sentiment(text, "en")
    assert len(calls) == len(pieces)
    assert all(len(c["Text"].encode()) <= 5000 for c in calls)
    assert all(c["Text"].endswith("bien.") for c in calls)  # whole sentences only
    assert " ".join(c["Text"] for c in calls) == text
    assert label == "MIXED"  # one negative piece among positive ones
    assert 0.1 < scores["Positive"] < 0.9 and note is None


def test_long_text_is_cut_under_100kb_for_key_phrases_and_entities():
    from bot.aws.comprehend import ComprehendAnalyzer

    text = "Amazon Comprehend finds phrases in text. " * 4000  # 164 KB
    client = _client("comprehend")
    calls = {op: _capture(client, op) for op in ("DetectDominantLanguage", "DetectKeyPhrases", "DetectEntities")}
    with Stubber(client) as stub:
        stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.9}]})
        stub.add_response("detect_key_phrases", {"KeyPhrases": []})
        stub.add_response("detect_entities", {"Entities": []})
        for _ in range(25):
            stub.add_response("detect_sentiment", _sentiment("NEUTRAL", 0.1, 0.1, 0.8))
        insights = ComprehendAnalyzer(client).analyze(text)
    for op, seen in calls.items():
        assert len(seen) == 1 and len(seen[0]["Text"].encode()) < 100_000, op
    assert any("100 KB" in n for n in insights.notes)
    assert any("first 25 parts" in n for n in insights.notes)


def test_unsupported_language_stops_after_language_detection():
    from bot.aws.comprehend import ComprehendAnalyzer

    client = _client("comprehend")
    with Stubber(client) as stub:
        stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "he", "Score": 0.97}]})
        insights = ComprehendAnalyzer(client).analyze("שלום לכולם, זה קורס על שירותי ענן.")
        stub.assert_no_pending_responses()
    assert insights.language == "he" and insights.sentiment is None
    assert any("Hebrew" in n for n in insights.notes)


def test_throttling_becomes_a_polite_service_error():
    from bot.aws.comprehend import ComprehendAnalyzer

    client = _client("comprehend")
    with Stubber(client) as stub:
        stub.add_client_error("detect_dominant_language", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(ServiceError) as e:
            ComprehendAnalyzer(client).analyze(TEXT)
    assert "busy" in e.value.user_message and "Throttling" not in e.value.user_message


def test_bedrock_converse_summary():
    from bot.aws.llm import SYSTEM, BedrockSummarizer

    client = _client("bedrock-runtime")
    with Stubber(client) as stub:
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "Polly speaks; students liked it."}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 50, "outputTokens": 9, "totalTokens": 59},
            "metrics": {"latencyMs": 420}},
            {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "system": [{"text": SYSTEM}], "messages": ANY,
             "inferenceConfig": {"maxTokens": 400, "temperature": 0.2}})
        out = BedrockSummarizer(client, "anthropic.claude-3-haiku-20240307-v1:0").summarize(TEXT, max_sentences=2)
    assert out == "Polly speaks; students liked it."


def test_bedrock_guardrail_intervention_is_reported():
    from bot.aws.llm import BedrockSummarizer

    client = _client("bedrock-runtime")
    with Stubber(client) as stub:
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "Sorry."}]}},
            "stopReason": "guardrail_intervened", "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6},
            "metrics": {"latencyMs": 10}})
        with pytest.raises(ServiceError, match="declined"):
            BedrockSummarizer(client, "anthropic.claude-3-haiku-20240307-v1:0").summarize(TEXT)


@pytest.mark.parametrize("payload", [[{"generated_text": " A short summary. "}], {"generated_texts": ["A short summary."]}])
def test_jumpstart_endpoint_summary(payload):
    from bot.aws.llm import JumpStartSummarizer

    client = _client("sagemaker-runtime")
    raw = json.dumps(payload).encode()
    calls = _capture(client, "InvokeEndpoint")
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(raw), len(raw)),
                                              "ContentType": "application/json"},
                          {"EndpointName": "jumpstart-llm", "ContentType": "application/json",
                           "Accept": "application/json", "Body": ANY})
        out = JumpStartSummarizer(client, "jumpstart-llm").summarize(TEXT)
    assert out == "A short summary."
    body = json.loads(calls[0]["Body"])
    assert "<document>" in body["inputs"] and body["parameters"]["max_new_tokens"] == 300


def test_build_summarizer_picks_the_endpoint_when_configured(settings):
    from bot.aws.llm import BedrockSummarizer, JumpStartSummarizer, build_summarizer

    assert isinstance(build_summarizer(settings, None), BedrockSummarizer)
    with_endpoint = settings.model_copy(update={"text_endpoint": "jumpstart-llm"})
    assert isinstance(build_summarizer(with_endpoint, None), JumpStartSummarizer)


def test_translate_splits_under_10kb_and_joins():
    from bot.aws.translate import AwsTranslator

    text = " ".join(f"Sentence {i} is about Amazon Translate." for i in range(600))  # ~22 KB
    client = _client("translate")
    calls = _capture(client, "TranslateText")
    with Stubber(client) as stub:
        for i in range(len(textutil.chunks(text, 9000))):
            stub.add_response("translate_text", {"TranslatedText": f"parte {i}.", "SourceLanguageCode": "en",
                                                 "TargetLanguageCode": "es"},
                              {"Text": ANY, "SourceLanguageCode": "auto", "TargetLanguageCode": "es"})
        out = AwsTranslator(client).translate(text, "es")
    assert len(calls) == 3 and all(len(c["Text"].encode()) <= 10_000 for c in calls)
    assert out == "parte 0. parte 1. parte 2."


def test_translate_rejects_a_bad_language_code_before_calling():
    from bot.aws.translate import AwsTranslator

    client = _client("translate")
    with Stubber(client):
        with pytest.raises(InputError):
            AwsTranslator(client).translate("hello", "Spanish!")
