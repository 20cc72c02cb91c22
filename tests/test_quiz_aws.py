"""The aws quiz engine: Knowledge Base Retrieve and Bedrock Converse (tool use) through botocore's Stubber,
so every request and response is checked against the service models; S3 links are moto."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bot.quiz import bedrock as engine

KB_ID = "KBQUIZ1234"
BUCKET = "course-pdfs-quiz"
FILTER = {"andAll": [{"equals": {"key": "course", "value": "default"}}, {"equals": {"key": "owner", "value": "-"}}]}
LIMITS = ("A function can run for at most 15 minutes. Memory can be set from 128 MB to 10,240 MB, and CPU power "
          "grows with memory. The synchronous request and response payload is limited to 6 MB.")
REKOGNITION = ("An image passed as raw bytes can be at most 5 MB; an image stored in S3 can be up to 15 MB. "
               "DetectText reads printed text in an image, such as the words on a T-shirt or a street sign.")
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture
def aws(moto_s3):
    moto_s3.create_bucket(Bucket=BUCKET)
    return moto_s3


def _ref(key, page, text, score):
    return {"content": {"text": text, "type": "TEXT"}, "score": score,
            "location": {"type": "S3", "s3Location": {"uri": f"s3://{BUCKET}/course-pdfs/{key}"}},
            "metadata": {"x-amz-bedrock-kb-source-uri": f"s3://{BUCKET}/course-pdfs/{key}",
                         "x-amz-bedrock-kb-document-page-number": float(page)}}


def make(s3):
    from bot.settings import load
    from kb.bedrock import BedrockKnowledgeBase

    settings = load(backend="aws", kb_id=KB_ID, pdf_bucket=BUCKET)
    runtime = boto3.client("bedrock-agent-runtime", region_name="us-east-1")
    llm = boto3.client("bedrock-runtime", region_name="us-east-1")
    kb = BedrockKnowledgeBase(settings, runtime, None, s3)
    return engine.BedrockQuizMaker(kb, llm, MODEL), Stubber(runtime), Stubber(llm)


def _retrieve(stub, query="AWS Lambda limits"):
    stub.add_response("retrieve", {"retrievalResults": [_ref("08-aws-lambda.pdf", 1, LIMITS, 0.8),
                                                        _ref("03-amazon-rekognition.pdf", 2, REKOGNITION, 0.4)]},
                      {"knowledgeBaseId": KB_ID, "retrievalQuery": {"text": query},
                       "retrievalConfiguration": {"vectorSearchConfiguration": {
                           "numberOfResults": engine.RETRIEVE_RESULTS, "overrideSearchType": "HYBRID",
                           "filter": FILTER}}})


def _converse(stub, questions, count=2):
    stub.add_response("converse", {
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": engine.TOOL, "input": {"questions": questions}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 900, "outputTokens": 300, "totalTokens": 1200},
        "metrics": {"latencyMs": 800}},
        {"modelId": MODEL, "system": [{"text": engine.SYSTEM}],
         "messages": [{"role": "user", "content": [{"text": ANY}]}],
         "toolConfig": engine.tool_config(), "inferenceConfig": {"maxTokens": 2000, "temperature": 0.5}})


GOOD = {"question": "How long can an AWS Lambda function run at most?",
        "choices": ["5 minutes", "15 minutes", "1 hour", "24 hours"], "answer": 1, "passage": 1,
        "evidence": "A function can run for at most 15 minutes."}


def test_a_grounded_model_question_is_shown_with_its_page(aws):
    maker, runtime, llm = make(aws)
    _retrieve(runtime)
    _converse(llm, [GOOD])
    with runtime, llm:
        made = maker.make("AWS Lambda limits", count=1)
    runtime.assert_no_pending_responses()
    llm.assert_no_pending_responses()
    [q] = made.questions
    assert q.engine == "bedrock" and q.right == "15 minutes" and q.letter == "B"
    assert (q.source, q.page) == ("08-aws-lambda.pdf", 1) and q.quote == "A function can run for at most 15 minutes."
    assert q.url and BUCKET in q.url and q.url.endswith("#page=1")


@pytest.mark.parametrize("bad", [
    {**GOOD, "evidence": "Lambda functions can run for up to 15 minutes each."},  # not a sentence of the passage
    {**GOOD, "choices": ["6 MB", "128 MB", "10,240 MB"], "answer": 1,  # the evidence states two of the choices
     "evidence": "Memory can be set from 128 MB to 10,240 MB, and CPU power grows with memory."},
    {**GOOD, "evidence": LIMITS},  # not one sentence
    {**GOOD, "answer": 0},  # the evidence does not support the marked answer
    {**GOOD, "answer": 7},
    {**GOOD, "passage": 3},
    {**GOOD, "choices": ["15 minutes", "15 minutes.", "1 hour"]},  # the answer twice
    {**GOOD, "question": "A function can run for at most 15 minutes: true?"},  # gives the answer away
    {**GOOD, "choices": ["15 minutes"]},
    "not a question",
])
def test_a_question_that_fails_validation_is_replaced_by_the_offline_generator(aws, bad):
    maker, runtime, llm = make(aws)
    _retrieve(runtime)
    _converse(llm, [bad])
    with runtime, llm:
        made = maker.make("AWS Lambda limits", count=2)
    assert len(made.questions) == 2
    assert all(q.engine == "offline" for q in made.questions)
    for q in made.questions:  # built from the retrieved text, cited to it
        assert q.source in ("08-aws-lambda.pdf", "03-amazon-rekognition.pdf") and q.quote in LIMITS + " " + REKOGNITION
        assert 3 <= len(q.choices) <= 4


def test_model_questions_are_topped_up_and_never_repeat(aws):
    maker, runtime, llm = make(aws)
    _retrieve(runtime)
    _converse(llm, [GOOD, {**GOOD, "question": "What is the longest a Lambda function may run?"}])
    with runtime, llm:
        made = maker.make("AWS Lambda limits", count=3)
    assert [q.engine for q in made.questions].count("bedrock") == 1  # the second restates the first
    assert len({q.quote for q in made.questions}) == len(made.questions) == 3


def test_a_throttled_model_falls_back_and_nothing_leaks(aws):
    maker, runtime, llm = make(aws)
    _retrieve(runtime)
    llm.add_client_error("converse", "ThrottlingException", "Rate exceeded", http_status_code=429)
    with runtime, llm:
        made = maker.make("AWS Lambda limits", count=2)
    assert len(made.questions) == 2 and {q.engine for q in made.questions} == {"offline"}


def test_nothing_retrieved_is_nothing_found(aws):
    maker, runtime, llm = make(aws)
    runtime.add_response("retrieve", {"retrievalResults": []}, None)
    with runtime, llm:
        made = maker.make("medieval tapestry", count=2)
    assert not made.found and not made.questions
    llm.assert_no_pending_responses()


def test_the_aws_backend_selects_the_bedrock_engine_and_local_the_offline_one():
    from bot import providers
    from bot.settings import load

    assert providers.select("quiz", load(backend="aws")).name == "bedrock"
    assert providers.select("quiz", load(backend="local")).name == "offline"
