"""The Bedrock Knowledge Base path: every request and response is validated against botocore's service
models by Stubber (bedrock-agent-runtime, bedrock-agent, bedrock-runtime); S3 is moto."""

from __future__ import annotations

import json
import datetime as dt
import textwrap
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bot.errors import InputError, ServiceError
from kb.sample import render

KB_ID = "KBTEST1234"
DS_ID = "DSTEST1234"
# what every Retrieve / RetrieveAndGenerate of the default course filters on (the documents' sidecars)
DEFAULT_FILTER = {"andAll": [{"equals": {"key": "course", "value": "default"}},
                             {"equals": {"key": "owner", "value": "-"}}]}
# a conversation's questions also reach its own private uploads (owner: a hash of its key)
CONV_FILTER = {"orAll": [DEFAULT_FILTER, {"andAll": [
    {"equals": {"key": "owner", "value": __import__("bot.roles").roles.owner_of("conv-1")}},
    {"greaterThan": {"key": "expires", "value": 1_800_000_000}}]}]}  # CLOCK: uploads not yet expired
BUCKET = "course-pdfs-test"
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)

NOTES = textwrap.dedent("""\
    # Lambda notes

    ## Limits
    A function can run for at most 15 minutes.
    """)


@pytest.fixture
def aws(moto_s3):
    moto_s3.create_bucket(Bucket=BUCKET)
    return moto_s3


CLOCK = 1_800_000_000.0  # the knowledge base's clock in these tests (private uploads expire by it)


def make_kb(s3, **overrides):
    from bot.settings import load
    from kb.bedrock import BedrockKnowledgeBase

    settings = load(backend="aws", kb_id=KB_ID, kb_data_source_id=DS_ID, pdf_bucket=BUCKET, **overrides)
    runtime = boto3.client("bedrock-agent-runtime", region_name="us-east-1")
    agent = boto3.client("bedrock-agent", region_name="us-east-1")
    llm = boto3.client("bedrock-runtime", region_name="us-east-1")
    kb = BedrockKnowledgeBase(settings, runtime, agent, s3, llm, sleep=lambda s: sleeps.append(s))
    kb.clock = lambda: CLOCK
    sleeps: list[float] = []
    kb.sleeps = sleeps
    return kb, Stubber(runtime), Stubber(agent), Stubber(llm)


def rag_expected(question, session=None, guardrail=None, filter=None):
    gen = {"promptTemplate": {"textPromptTemplate": ANY}}
    if guardrail:
        gen["guardrailConfiguration"] = guardrail
    req = {
        "input": {"text": question},
        "retrieveAndGenerateConfiguration": {
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {
                "knowledgeBaseId": KB_ID,
                "modelArn": ANY,
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 5,
                                                                         "overrideSearchType": "HYBRID",
                                                                         "filter": filter or DEFAULT_FILTER}},
                "generationConfiguration": gen,
            },
        },
    }
    if session:
        req["sessionId"] = session
    return req


def reference(key="course-pdfs/08-aws-lambda.pdf", page=2.0, text="A function can run for at most 15 minutes."):
    return {"content": {"text": text, "type": "TEXT"},
            "location": {"type": "S3", "s3Location": {"uri": f"s3://{BUCKET}/{key}"}},
            "metadata": {"x-amz-bedrock-kb-source-uri": f"s3://{BUCKET}/{key}",
                         "x-amz-bedrock-kb-document-page-number": page}}


def rag_response(text, session="session-abc-123", refs=None):
    refs = [reference()] if refs is None else refs
    resp = {"output": {"text": text}, "sessionId": session}
    if refs:
        resp["citations"] = [{"generatedResponsePart": {"textResponsePart": {"text": text, "span": {"start": 0, "end": len(text) - 1}}},
                              "retrievedReferences": refs}]
    return resp


# --- RetrieveAndGenerate -----------------------------------------------------------------------------
def test_retrieve_and_generate_maps_citations_to_file_page_and_presigned_link(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_response("retrieve_and_generate", rag_response("A Lambda function can run for up to 15 minutes."),
                         rag_expected("How long can a Lambda function run?"))
    with runtime:
        a = kb.ask("How long can a Lambda function run?")
    runtime.assert_no_pending_responses()
    assert a.found and a.text == "A Lambda function can run for up to 15 minutes. [1]"  # the part, then its source
    assert a.session_id == "session-abc-123"
    [c] = a.citations
    assert (c.source, c.page) == ("08-aws-lambda.pdf", 2)
    assert c.quote == "A function can run for at most 15 minutes." and c.passage == c.quote
    url = urlparse(c.url)
    assert url.fragment == "page=2" and url.path.endswith("/course-pdfs/08-aws-lambda.pdf")
    assert "X-Amz-Signature" in parse_qs(url.query) and parse_qs(url.query)["X-Amz-Expires"] == ["3600"]


def test_follow_up_sends_back_the_session_and_guardrail(aws):
    kb, runtime, _, _ = make_kb(aws, guardrail_id="gr-123", guardrail_version="1")
    guard = {"guardrailId": "gr-123", "guardrailVersion": "1"}
    runtime.add_response("retrieve_and_generate", rag_response("It is billed per request."),
                         rag_expected("and how much does it cost?", session="session-abc-123", guardrail=guard))
    with runtime:
        a = kb.ask("and how much does it cost?", session_id="session-abc-123")
    assert a.found and a.session_id == "session-abc-123"


def test_expired_session_is_dropped_and_the_question_asked_again(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_client_error("retrieve_and_generate", "ValidationException", "Session expired", 400,
                             expected_params=rag_expected("what about SSML?", session="old-session"))
    runtime.add_response("retrieve_and_generate", rag_response("SSML controls speech.", session="new-session"),
                         rag_expected("what about SSML?"))
    with runtime:
        a = kb.ask("what about SSML?", session_id="old-session")
    runtime.assert_no_pending_responses()
    assert a.found and a.session_id == "new-session"


def test_throttling_becomes_a_polite_service_error(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_client_error("retrieve_and_generate", "ThrottlingException", "Rate exceeded", 429,
                             expected_params=rag_expected("What is Lex?"))
    with runtime, pytest.raises(ServiceError) as e:
        kb.ask("What is Lex?")
    assert e.value.code == "throttled" and "busy" in e.value.user_message
    assert "Rate exceeded" not in e.value.user_message


def test_validation_error_without_session_is_not_retried(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_client_error("retrieve_and_generate", "ValidationException", "1 validation error", 400,
                             expected_params=rag_expected("What is Lex?"))
    with runtime, pytest.raises(ServiceError) as e:
        kb.ask("What is Lex?")
    assert e.value.code == "service_error" and "validation" not in e.value.user_message.lower()


def test_no_citations_or_guardrail_means_not_found(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_response("retrieve_and_generate", rag_response("Sorry, I am unable to assist you with this request.", refs=[]),
                         rag_expected("Who won the world cup?"))
    blocked = rag_response("I can't talk about that.", refs=[])
    blocked["guardrailAction"] = "INTERVENED"
    runtime.add_response("retrieve_and_generate", blocked, rag_expected("something harmful"))
    with runtime:
        a = kb.ask("Who won the world cup?")
        b = kb.ask("something harmful")
    assert not a.found and a.text == "That's not in the course PDFs." and a.citations == ()
    assert not b.found and b.text == "I can't talk about that."


def test_an_answer_without_citations_is_explicitly_not_in_the_course(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_response("retrieve_and_generate", rag_response("Canberra is the capital of Australia.", refs=[]),
                         rag_expected("What is the capital of Australia?"))
    with runtime:
        a = kb.ask("What is the capital of Australia?")
    assert not a.found and a.text == "That's not in the course PDFs." and "Canberra" not in a.text


def test_quote_is_the_sentence_of_the_passage_the_answer_used(aws):
    kb, runtime, _, _ = make_kb(aws)
    passage = ("Lambda runs code without servers. Memory can be set from 128 MB to 10,240 MB. "
               "A function can run for at most 15 minutes.")
    text = "Memory goes up to 10,240 MB. It can run for at most 15 minutes."
    resp = {"output": {"text": text}, "sessionId": "s-1", "citations": [
        {"generatedResponsePart": {"textResponsePart": {"text": text[:28], "span": {"start": 0, "end": 27}}},
         "retrievedReferences": [reference(text=passage)]},
        {"generatedResponsePart": {"textResponsePart": {"text": text[29:], "span": {"start": 29, "end": len(text) - 1}}},
         "retrievedReferences": [reference(key="course-pdfs/other.pdf", page=1.0, text="It can run for at most 15 minutes.")]}]}
    runtime.add_response("retrieve_and_generate", resp, rag_expected("What are the Lambda limits?"))
    with runtime:
        a = kb.ask("What are the Lambda limits?")
    assert a.text == "Memory goes up to 10,240 MB. [1] It can run for at most 15 minutes. [2]"
    first, second = a.citations
    assert first.quote == "Memory can be set from 128 MB to 10,240 MB." and first.passage == passage
    assert (second.source, second.page) == ("other.pdf", 1)


def test_course_overview_lists_the_data_source_objects_with_their_metadata(aws, tmp_path):
    """The overview needs no Bedrock call: the PDFs in the bucket, with the title, pages and headings
    stored in their metadata at upload."""
    kb, runtime, agent, _ = make_kb(aws)
    notes = render("# Lambda notes\n\n## Limits\nA function can run for at most 15 minutes.\n\n"
                   "## Pricing\nYou pay per request and per GB-second of compute.\n")
    kb._upload("lambda.pdf", notes)
    kb._upload("polly.pdf", render("# Polly notes\n\n## Voices\nPolly has many voices for many languages.\n"))
    meta = aws.head_object(Bucket=BUCKET, Key="course-pdfs/lambda.pdf")["Metadata"]
    assert meta["title"] == "Lambda notes" and meta["pages"] == "1" and "Limits" in meta["headings"]
    with runtime, agent:  # Stubber fails on any Bedrock call
        course = kb.ask("What does the course cover?")
        one = kb.ask("what topics are in lambda.pdf?")
    assert course.found and course.kind == "overview"
    assert "**lambda.pdf** \u2014 Lambda notes (1 page): Limits (p. 1); Pricing (p. 1)" in course.text
    assert "**polly.pdf** \u2014 Polly notes" in course.text
    assert [c.source for c in course.citations] == ["lambda.pdf", "polly.pdf"]
    assert one.text.splitlines()[1:] == ["- Limits (p. 1)", "- Pricing (p. 1)"]
    url = urlparse(one.citations[0].url)
    assert url.path.endswith("/course-pdfs/lambda.pdf") and url.fragment == "page=1"


def test_question_too_long_is_refused_before_any_call(aws):
    kb, runtime, _, _ = make_kb(aws)
    with runtime, pytest.raises(InputError) as e:
        kb.ask("why " * 300)
    assert "1000" in e.value.user_message
    runtime.assert_no_pending_responses()


def test_retrieve_returns_passages_with_pages(aws):
    kb, runtime, _, _ = make_kb(aws)
    runtime.add_response("retrieve", {"retrievalResults": [{**reference(), "score": 0.71}]},
                         {"knowledgeBaseId": KB_ID, "retrievalQuery": {"text": "lambda limits"},
                          "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 3,
                                                                                   "overrideSearchType": "HYBRID", "filter": DEFAULT_FILTER}}})
    with runtime:
        [p] = kb.search("lambda limits", 3)
    assert p.to_dict() == {"source": "08-aws-lambda.pdf", "page": 2, "score": 0.71,
                           "text": "A function can run for at most 15 minutes."}


# --- langchain-aws path ------------------------------------------------------------------------------
def test_langchain_path_uses_retriever_and_converse_with_our_prompt(aws):
    kb, runtime, _, llm = make_kb(aws, kb_mode="langchain")
    runtime.add_response("retrieve", {"retrievalResults": [{**reference(), "score": 0.8},
                                                           {**reference("course-pdfs/01-amazon-lex.pdf", 1.0, "Lex bots."),
                                                            "score": 0.3}]},
                         {"knowledgeBaseId": KB_ID, "retrievalQuery": {"text": "what is lambda and how long can it run?"},
                          "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 5,
                                                                                   "overrideSearchType": "HYBRID", "filter": DEFAULT_FILTER}}})
    from kb.bedrock import DEFAULT_LANGCHAIN_PROMPT

    prompt = (DEFAULT_LANGCHAIN_PROMPT.replace("{context}", "[1] A function can run for at most 15 minutes.\n\n[2] Lex bots.")
              .replace("{question}", "what is lambda and how long can it run?"))
    llm.add_response("converse", {
        "output": {"message": {"role": "assistant", "content": [{"text": "At most 15 minutes [1]."}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 50, "outputTokens": 8, "totalTokens": 58},
        "metrics": {"latencyMs": 120}}, {"modelId": kb.settings.text_model_id, "system": [],
                                          "messages": [{"role": "user", "content": [{"text": prompt}]}],
                                          "inferenceConfig": {"maxTokens": 400, "temperature": 0.0}})
    with runtime, llm:
        a = kb.ask("and how long can it run?", history=["what is lambda"])
    runtime.assert_no_pending_responses()
    llm.assert_no_pending_responses()
    assert a.found and a.text == "At most 15 minutes [1]."
    assert [(c.source, c.page) for c in a.citations] == [("08-aws-lambda.pdf", 2)]
    assert a.citations[0].url and "#page=2" in a.citations[0].url


def test_langchain_not_found_mark_abstains(aws):
    kb, runtime, _, llm = make_kb(aws, kb_mode="langchain")
    runtime.add_response("retrieve", {"retrievalResults": [{**reference(), "score": 0.2}]}, None)
    llm.add_response("converse", {
        "output": {"message": {"role": "assistant", "content": [{"text": "NOT_FOUND"}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
        "metrics": {"latencyMs": 50}}, None)
    with runtime, llm:
        a = kb.ask("who painted the Mona Lisa?")
    assert not a.found and a.citations == ()


# --- ingest: S3 upload (moto) + StartIngestionJob polled with backoff (Stubber) ------------------------
def job(status, **extra):
    return {"ingestionJob": {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "ingestionJobId": "JOB1234567",
                             "status": status, "startedAt": NOW, "updatedAt": NOW, **extra}}


START = {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "clientToken": ANY, "description": ANY}
GET = {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "ingestionJobId": "JOB1234567"}


def test_ingest_uploads_then_polls_the_job_until_complete(aws, tmp_path):
    kb, _, agent, _ = make_kb(aws)
    pdf = tmp_path / "lambda notes.pdf"
    pdf.write_bytes(render(NOTES))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    agent.add_client_error("start_ingestion_job", "ConflictException", "A sync is already running", 409,
                           expected_params=START)
    agent.add_response("start_ingestion_job", job("STARTING"), START)
    agent.add_response("get_ingestion_job", job("IN_PROGRESS"), GET)
    agent.add_response("get_ingestion_job", job("COMPLETE", statistics={"numberOfNewDocumentsIndexed": 1,
                                                                        "numberOfDocumentsFailed": 0}), GET)
    with agent:
        results = {r.source: r for r in kb.ingest([str(tmp_path)])}
    agent.assert_no_pending_responses()
    assert results["lambda notes.pdf"].status == "added" and results["lambda notes.pdf"].pages == 1
    assert results["broken.pdf"].status == "failed" and "damaged" in results["broken.pdf"].reason
    obj = aws.get_object(Bucket=BUCKET, Key="course-pdfs/lambda notes.pdf")
    assert obj["ContentType"] == "application/pdf" and obj["Body"].read() == pdf.read_bytes()
    assert "sha256" in obj["Metadata"]
    keys = [o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["course-pdfs/lambda notes.pdf", "course-pdfs/lambda notes.pdf.metadata.json"]  # not the broken one
    sidecar = json.loads(aws.get_object(Bucket=BUCKET, Key=keys[1])["Body"].read())
    assert sidecar == {"metadataAttributes": {"course": "default", "owner": "-"}}
    assert kb.sleeps == [1.0, 1.0, 2.0]  # conflict retry, then exponential backoff between polls
    assert [d["name"] for d in kb.list()] == ["lambda notes.pdf"]

    # the same file again: nothing uploaded, no ingestion job started (Stubber would fail on a call)
    with agent:
        [again] = kb.ingest([str(pdf)])
    assert again.status == "unchanged"


def test_failed_and_slow_ingestion_jobs_are_reported(aws, tmp_path):
    kb, _, agent, _ = make_kb(aws)
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(render(NOTES))
    agent.add_response("start_ingestion_job", job("STARTING"), START)
    agent.add_response("get_ingestion_job", job("FAILED", failureReasons=["Embedding model access denied"]), GET)
    with agent:
        [r] = kb.ingest([str(pdf)])
    assert r.status == "failed" and "Embedding model access denied" in r.reason

    pdf.write_bytes(render(NOTES + "\nChanged.\n"))
    agent.add_response("start_ingestion_job", job("IN_PROGRESS"), START)
    with agent:
        [r] = kb.ingest([str(pdf)], wait=0)  # do not wait: the user is told it is still indexing
    assert r.status == "submitted" and "few minutes" in r.reason


def test_throttled_ingestion_job_start_is_a_service_error(aws, tmp_path):
    kb, _, agent, _ = make_kb(aws)
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(render(NOTES))
    agent.add_client_error("start_ingestion_job", "ThrottlingException", "slow down", 429, expected_params=START)
    with agent, pytest.raises(ServiceError) as e:
        kb.ingest([str(pdf)])
    assert e.value.code == "throttled"


def test_remove_deletes_from_the_bucket_and_syncs(aws):
    kb, _, agent, _ = make_kb(aws)
    aws.put_object(Bucket=BUCKET, Key="course-pdfs/old.pdf", Body=render(NOTES))
    agent.add_response("start_ingestion_job", job("COMPLETE"), START)
    with agent:
        assert kb.remove("old.pdf") is True
        assert kb.remove("old.pdf") is False
    assert aws.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_not_configured_says_which_setting(aws):
    from bot.errors import NotAvailable
    from bot.settings import load
    from kb.bedrock import BedrockKnowledgeBase

    kb = BedrockKnowledgeBase(load(backend="aws"), boto3.client("bedrock-agent-runtime", region_name="us-east-1"))
    with pytest.raises(NotAvailable) as e:
        kb.ask("What is Lex?")
    assert "COURSEBOT_KB_ID" in e.value.user_message


# --- the intent on the aws backend ------------------------------------------------------------------
def test_intent_stores_the_session_and_sends_it_back_on_the_follow_up(aws, tmp_path):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn

    kb, runtime, _, _ = make_kb(aws)
    services = Services(load(home=tmp_path / "home", backend="local"), overrides={"kb": kb})
    router = Router(services)
    runtime.add_response("retrieve_and_generate", rag_response("Lambda runs code without servers.", session="sess-1"),
                         rag_expected("What is AWS Lambda?", filter=CONV_FILTER))
    runtime.add_response("retrieve_and_generate", rag_response("At most 15 minutes.", session="sess-1"),
                         rag_expected("and how long can it run?", session="sess-1", filter=CONV_FILTER))
    with runtime:
        first = router.handle(Turn(conversation="conv-1", text="What is AWS Lambda?", intent="AskCoursePdfs"))
        second = router.handle(Turn(conversation="conv-1", text="and how long can it run?", intent="AskCoursePdfs"))
    runtime.assert_no_pending_responses()
    assert first.intent == "AskCoursePdfs" and first.citations[0].page == 2
    assert second.text == "At most 15 minutes. [1]" and second.error is None
    assert services.conversations.load("conv-1").kb_session == "sess-1"


# --- courses and private uploads: keys, sidecars, filters, limits ----------------------------------
def test_courses_and_private_uploads_on_the_bucket_with_course_filters(aws):
    from bot.testing.pdfs import many_pages_pdf
    from kb.bedrock import course_filter
    from kb.pdf_limits import PdfLimits

    kb, runtime, agent, _ = make_kb(aws, kb_chat_ingest_wait_seconds=0)
    owner = "f" * 32
    agent.add_response("start_ingestion_job", job("COMPLETE", statistics={"numberOfDocumentsFailed": 0}), START)
    agent.add_response("start_ingestion_job", job("COMPLETE", statistics={"numberOfDocumentsFailed": 0}), START)
    with agent:
        assert kb.ingest_bytes("ridge.pdf", render(NOTES), course="stats").status == "added"
        mine = kb.ingest_bytes("mine.pdf", render(NOTES), course="stats", owner=owner, limits=PdfLimits(),
                               ttl_seconds=3600)
        # over the page limit: refused before anything is uploaded or synced
        big = kb.ingest_bytes("book.pdf", many_pages_pdf(), owner=owner, limits=PdfLimits())
    agent.assert_no_pending_responses()
    assert mine.status == "added" and big.status == "failed" and "3,000 pages" in big.reason
    keys = sorted(o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == ["course-pdfs/stats/ridge.pdf", "course-pdfs/stats/ridge.pdf.metadata.json",
                    f"uploads/{owner}/mine.pdf", f"uploads/{owner}/mine.pdf.metadata.json"]
    side = json.loads(aws.get_object(Bucket=BUCKET, Key=f"uploads/{owner}/mine.pdf.metadata.json")["Body"].read())
    assert side == {"metadataAttributes": {"course": "stats", "owner": owner, "expires": int(CLOCK) + 3600}}
    assert kb.list() == [] and [d["name"] for d in kb.list(course="stats")] == ["ridge.pdf"]
    assert [(c["course"], c["documents"]) for c in kb.courses()] == [("stats", 1)]

    expected = {"knowledgeBaseId": KB_ID, "retrievalQuery": {"text": "what is ridge?"},
                "retrievalConfiguration": {"vectorSearchConfiguration": {
                    "numberOfResults": 5, "overrideSearchType": "HYBRID", "filter": course_filter("stats", owner, now=CLOCK)}}}
    runtime.add_response("retrieve", {"retrievalResults": [
        {**reference("course-pdfs/stats/ridge.pdf"), "score": 0.9},
        {**reference(f"uploads/{owner}/mine.pdf"), "score": 0.8}]}, expected)
    with runtime:
        passages = kb.search("what is ridge?", course="stats", owner=owner)
    assert [p.source for p in passages] == ["ridge.pdf", "mine.pdf (your file)"]
    assert course_filter("stats") == {"andAll": [{"equals": {"key": "course", "value": "stats"}},
                                                 {"equals": {"key": "owner", "value": "-"}}]}


def test_a_conversation_in_a_named_course_asks_with_that_course_and_its_own_uploads(aws, tmp_path):
    """RetrieveAndGenerate from the router: the filter names the conversation's course (from the channel)
    and the conversation's own uploads, never another course's documents."""
    from bot.roles import owner_of
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn
    from kb.bedrock import course_filter

    kb, runtime, _, _ = make_kb(aws)
    for key in ("course-pdfs/stats/ridge.pdf", "course-pdfs/ml101/trees.pdf"):
        aws.put_object(Bucket=BUCKET, Key=key, Body=render(NOTES))
    services = Services(load(home=tmp_path / "home", backend="local"), overrides={"kb": kb})
    router = Router(services)
    runtime.add_response("retrieve_and_generate", rag_response("Ridge shrinks coefficients.", session="s-st",
                                                               refs=[reference("course-pdfs/stats/ridge.pdf")]),
                         rag_expected("what is ridge regression?", filter=course_filter("stats", owner_of("conv-st"), now=CLOCK)))
    runtime.add_response("retrieve_and_generate", rag_response("Trees split on features.", session="s-ml",
                                                               refs=[reference("course-pdfs/ml101/trees.pdf")]),
                         rag_expected("what is ridge regression?", filter=course_filter("ml101", owner_of("conv-ml"), now=CLOCK)))
    with runtime:
        stats = router.handle(Turn(conversation="conv-st", text="what is ridge regression?", intent="AskCoursePdfs",
                                   course="stats"))
        ml = router.handle(Turn(conversation="conv-ml", text="what is ridge regression?", intent="AskCoursePdfs",
                                course="ml101"))
    runtime.assert_no_pending_responses()
    assert [c.source for c in stats.citations] == ["ridge.pdf"] and [c.source for c in ml.citations] == ["trees.pdf"]
    assert stats.details["course"] == "stats" and ml.details["course"] == "ml101"
    assert course_filter("ml101", owner_of("conv-ml"), now=CLOCK) == {"orAll": [
        {"andAll": [{"equals": {"key": "course", "value": "ml101"}}, {"equals": {"key": "owner", "value": "-"}}]},
        {"andAll": [{"equals": {"key": "owner", "value": owner_of("conv-ml")}},
                    {"greaterThan": {"key": "expires", "value": int(CLOCK)}}]}]}


def test_private_uploads_expire_by_the_pdf_buckets_lifecycle_rule(aws):
    """The template's rule, applied to a (moto) bucket as CloudFormation would: it expires everything
    under uploads/ (PDF and .metadata.json sidecar) after the default upload TTL, and nothing of the course."""
    import math

    from bot.aws.stack import PDF_PREFIX, UPLOAD_PREFIX, build_template
    from bot.settings import Settings

    template = build_template()
    [rule] = template["Resources"]["PdfBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    days = template["Parameters"][rule["ExpirationInDays"]["Ref"]]["Default"]
    aws.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [{
        "ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule["Prefix"]},
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": rule["AbortIncompleteMultipartUpload"]}]})
    [applied] = aws.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert applied["Status"] == "Enabled" and applied["Filter"]["Prefix"] == UPLOAD_PREFIX == "uploads/"
    assert applied["Expiration"]["Days"] == math.ceil(Settings().upload_ttl_seconds / 86400)
    env = template["Resources"]["LexFunction"]["Properties"]["Environment"]["Variables"]
    assert env["COURSEBOT_UPLOAD_TTL_DAYS"] == rule["ExpirationInDays"]  # one parameter: answered and kept as long
    assert Settings(upload_ttl_days=days).upload_ttl_seconds == days * 86400
    assert not PDF_PREFIX.startswith(UPLOAD_PREFIX) and not UPLOAD_PREFIX.startswith(PDF_PREFIX)


def test_the_stack_lets_the_bot_and_the_knowledge_base_reach_both_prefixes_and_no_more():
    """IAM follows the layout: the functions read and write course-pdfs/ and uploads/ (and may delete only
    uploads), the Knowledge Base reads both, and its data source is the whole bucket (one prefix is the
    most a data source takes, so a prefix would leave the uploads out)."""
    from bot.aws.stack import PDF_PREFIX, UPLOAD_PREFIX, build_template

    res = build_template()["Resources"]
    statements = {s["Sid"]: s for p in res["LexFunction"]["Properties"]["Policies"] for s in p["Statement"]}
    assert statements["CoursePdfObjects"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert statements["CoursePdfObjects"]["Resource"] == [{"Fn::Sub": "${PdfBucket.Arn}/%s*" % PDF_PREFIX}]
    assert statements["PrivateUploads"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert statements["PrivateUploads"]["Resource"] == [{"Fn::Sub": "${PdfBucket.Arn}/%s*" % UPLOAD_PREFIX}]
    assert statements["CoursePdfList"]["Condition"] == {"StringLike": {"s3:prefix": [f"{PDF_PREFIX}*", f"{UPLOAD_PREFIX}*"]}}
    kb_read = {s["Sid"]: s for s in res["KnowledgeBaseRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    assert kb_read["ReadPdfs"]["Resource"] == [{"Fn::Sub": "${PdfBucket.Arn}/%s*" % PDF_PREFIX},
                                               {"Fn::Sub": "${PdfBucket.Arn}/%s*" % UPLOAD_PREFIX}]
    s3_config = res["KnowledgeBaseDataSource"]["Properties"]["DataSourceConfiguration"]["S3Configuration"]
    assert "InclusionPrefixes" not in s3_config


def _matches(flt: dict, attributes: dict) -> bool:
    """Bedrock's metadata filter grammar, for the operators the bot sends (equals, greaterThan, andAll, orAll)."""
    (op, arg), = flt.items()
    if op == "andAll":
        return all(_matches(f, attributes) for f in arg)
    if op == "orAll":
        return any(_matches(f, attributes) for f in arg)
    value = attributes.get(arg["key"])
    if op == "equals":
        return value == arg["value"]
    if op == "greaterThan":
        return isinstance(value, (int, float)) and value > arg["value"]
    raise AssertionError(f"unexpected filter operator {op}")


def test_a_private_upload_is_found_until_its_ttl_and_never_by_another_conversation(aws):
    """The sidecar records when the upload expires; each search's filter carries the time, so Bedrock stops
    returning the upload at its TTL (the lifecycle rule deletes it later, in whole days). Course PDFs never
    expire and another conversation never matches."""
    kb, _, agent, _ = make_kb(aws, kb_chat_ingest_wait_seconds=0)
    mine, other = "a" * 32, "b" * 32
    agent.add_response("start_ingestion_job", job("COMPLETE", statistics={"numberOfDocumentsFailed": 0}), START)
    agent.add_response("start_ingestion_job", job("COMPLETE", statistics={"numberOfDocumentsFailed": 0}), START)
    with agent:
        kb.ingest_bytes("notes.pdf", render(NOTES), course="stats", owner=mine, ttl_seconds=7200)
        kb.ingest_bytes("ridge.pdf", render(NOTES), course="stats")
    sidecar = {k: json.loads(aws.get_object(Bucket=BUCKET, Key=k + ".metadata.json")["Body"].read())["metadataAttributes"]
               for k in (f"uploads/{mine}/notes.pdf", "course-pdfs/stats/ridge.pdf")}
    upload, course_pdf = sidecar[f"uploads/{mine}/notes.pdf"], sidecar["course-pdfs/stats/ridge.pdf"]
    assert upload["expires"] == int(CLOCK) + 7200 and "expires" not in course_pdf

    def searched_filter(at: float, owner: str) -> dict:
        kb.clock = lambda: at
        return kb._retrieval_config(5, "stats", owner)["vectorSearchConfiguration"]["filter"]

    assert _matches(searched_filter(CLOCK + 7199, mine), upload)
    assert not _matches(searched_filter(CLOCK + 7201, mine), upload)  # past its TTL: not found, even if not deleted
    assert not _matches(searched_filter(CLOCK, other), upload)  # never another conversation's
    assert all(_matches(searched_filter(CLOCK + 10 ** 8, o), course_pdf) for o in (mine, other, None))
    assert not _matches(searched_filter(CLOCK, None), upload)  # a search without an owner: course PDFs only

    kb.clock = lambda: CLOCK
    default = kb.settings.model_copy(update={"upload_ttl_days": 3})
    kb.settings = default
    kb._put_sidecar(BUCKET, f"uploads/{mine}/old.pdf", "stats", mine)  # no TTL given: the setting's
    side = json.loads(aws.get_object(Bucket=BUCKET, Key=f"uploads/{mine}/old.pdf.metadata.json")["Body"].read())
    assert side["metadataAttributes"]["expires"] == int(CLOCK) + 3 * 86400
