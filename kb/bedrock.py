"""The course KB on AWS: Knowledge Bases for Amazon Bedrock.

- ``ask``: RetrieveAndGenerate (HYBRID search, optional guardrail, a grounded prompt template), or,
  with ``COURSEBOT_KB_MODE=langchain``, langchain-aws AmazonKnowledgeBasesRetriever + ChatBedrockConverse
  with our own prompt. Citations become file name + page (``x-amz-bedrock-kb-document-page-number``)
  with presigned S3 links that open the PDF at that page.
- ``ingest``: PDFs are checked locally, uploaded to the data source bucket, then StartIngestionJob
  is polled with backoff until the job is COMPLETE or FAILED (or the wait runs out).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence
from urllib.parse import unquote, urlparse

from bot.aws.clients import call, make_client
from bot.capabilities import Answer, IngestListener, IngestResult, Passage
from bot.errors import InputError, NotAvailable
from bot.turn import Citation
from kb import extractive
from kb.local import pdf_files
from kb.index import YOUR_FILE
from kb.pdf import PdfProblem, extract_document
from bot.progress import Reporter
from kb.pdf_limits import extract_limited

log = logging.getLogger(__name__)

WHAT = "the course knowledge base"
DEFAULT_COURSE = "default"
UPLOAD_PREFIX = "uploads/"  # students' private PDFs: uploads/<conversation hash>/<name>
COURSE_OWNER = "-"  # the owner attribute of course documents (a private upload's is its conversation hash)
PAGE_KEY = "x-amz-bedrock-kb-document-page-number"
MAX_QUERY_CHARS = 1000  # RetrieveAndGenerate input.text and Retrieve retrievalQuery.text: 1000 characters
MAX_DOCUMENT_BYTES = 50_000_000  # Knowledge Bases: 50 MB per source file
NOT_FOUND_MARK = "NOT_FOUND"

# RetrieveAndGenerate prompt; Bedrock fills $search_results$ and $output_format_instructions$ (citations).
DEFAULT_PROMPT = (
    "You are a teaching assistant for a course. Answer the student's question using only the search "
    "results below, which come from the course PDFs. Keep the answer short: at most four sentences, plain text. "
    "Do not add facts that are not in the search results. If the search results do not answer the question, "
    f"reply with exactly: {extractive.NOT_FOUND}\n\n"
    "Search results:\n$search_results$\n\n$output_format_instructions$\n\nQuestion: $query$"
)
# The langchain-aws path: {context} is the numbered passages, {question} the (condensed) question.
DEFAULT_LANGCHAIN_PROMPT = (
    "You are a teaching assistant. Answer the question using only the numbered course passages below, "
    "in at most four sentences, and put the number of each passage you use in square brackets, like [1]. "
    f"If the passages do not answer the question, reply with exactly {NOT_FOUND_MARK}.\n\n"
    "Passages:\n{context}\n\nQuestion: {question}"
)
# How a grounded "no answer" reads: our prompt's sentence, Bedrock's default reply when nothing was
# retrieved, and the langchain prompt's marker.
_REFUSALS = ("not in the course pdfs", "couldn't find that in the course", "sorry, i am unable to assist",
             NOT_FOUND_MARK.lower())
MAX_META_BYTES = 1800  # S3 user metadata: 2 KB in all


def _source_of(location: dict[str, Any] | None) -> tuple[str, str | None, str | None]:
    """(file name, bucket, key) of a retrieved reference's location."""
    location = location or {}
    uri = (location.get("s3Location") or {}).get("uri")
    if uri:
        parsed = urlparse(uri)
        key = unquote(parsed.path.lstrip("/"))
        return PurePosixPath(key).name or uri, parsed.netloc, key
    for kind in ("webLocation", "confluenceLocation", "salesforceLocation", "sharePointLocation", "customDocumentLocation"):
        if location.get(kind):
            ref = location[kind].get("url") or location[kind].get("id") or kind
            return str(ref), None, None
    return "course document", None, None


def _page_of(metadata: dict[str, Any] | None) -> int | None:
    value = (metadata or {}).get(PAGE_KEY)
    try:
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class BedrockKnowledgeBase:
    """Implements :class:`bot.capabilities.KnowledgeBase` with Knowledge Bases for Amazon Bedrock.

    Args:
        settings: coursebot settings (kb_id, kb_data_source_id, kb_model_arn, pdf_bucket, ...).
        runtime: a ``bedrock-agent-runtime`` client; agent: ``bedrock-agent``; s3: ``s3``;
            llm_client: ``bedrock-runtime`` (langchain path only). All injectable for tests.
        sleep: the wait between ingestion polls (tests pass a no-op).
    """

    def __init__(self, settings: Any, runtime: Any, agent: Any = None, s3: Any = None, llm_client: Any = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.runtime = runtime
        self.agent = agent
        self.s3 = s3
        self.llm_client = llm_client
        self.sleep = sleep
        self.clock: Callable[[], float] = time.time

    # --- helpers ---------------------------------------------------------------------------------
    def _kb_id(self) -> str:
        if not self.settings.kb_id:
            raise NotAvailable("The course knowledge base is not configured: set COURSEBOT_KB_ID to the "
                               "Bedrock Knowledge Base id (or use COURSEBOT_BACKEND=local).", code="kb_not_configured")
        return self.settings.kb_id

    def _retrieval_config(self, k: int | None = None, course: str = DEFAULT_COURSE,
                          owner: str | None = None) -> dict[str, Any]:
        return {"vectorSearchConfiguration": {"numberOfResults": k or self.settings.kb_results,
                                              "overrideSearchType": "HYBRID",
                                              "filter": course_filter(course, owner, now=self.clock())}}

    @staticmethod
    def _check_query(text: str, what: str = "question") -> str:
        text = (text or "").strip()
        if not text:
            raise InputError(f"Please give me a {what} about the course.", code="empty_question")
        if len(text) > MAX_QUERY_CHARS:
            raise InputError(f"That {what} is {len(text)} characters; the course knowledge base accepts up to "
                             f"{MAX_QUERY_CHARS}. Please shorten it.", code="question_too_long")
        return text

    def link(self, bucket: str | None, key: str | None, page: int | None) -> str | None:
        """A presigned GET link to the PDF in S3, opening at ``page``."""
        if not (bucket and key and self.s3 is not None):
            return None
        try:
            url = self.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                 ExpiresIn=self.settings.url_expiry_seconds)
        except Exception:  # no credentials to sign with: answer without links
            log.warning("could not presign a link for a citation", exc_info=True)
            return None
        return f"{url}#page={page}" if page else url

    def page_link(self, source: str, page: int | None) -> str | None:
        """A presigned link to the course PDF ``source`` in the data source bucket, opening at ``page``."""
        if not self.settings.pdf_bucket or not isinstance(source, str) or "/" in source or not source.strip():
            return None
        return self.link(self.settings.pdf_bucket, self._key(source), page)

    def _citation(self, ref: dict[str, Any], said: str = "") -> Citation:
        """A reference as a citation: the quote is the sentence of the passage closest to what the
        answer ``said`` from it, the passage the retrieved text."""
        source, bucket, key = _source_of(ref.get("location"))
        if key and key.startswith(UPLOAD_PREFIX):
            source += YOUR_FILE
        page = _page_of(ref.get("metadata"))
        passage = " ".join(((ref.get("content") or {}).get("text") or "").split())
        return Citation(source, page, self.link(bucket, key, page), _closest_sentence(passage, said)[:300] or None,
                        passage=passage[:1500] or None)

    # --- search ----------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, *, course: str = DEFAULT_COURSE, owner: str | None = None) -> list[Passage]:
        query = self._check_query(query, "search")
        resp = call(self.runtime.retrieve, what=WHAT, knowledgeBaseId=self._kb_id(),
                    retrievalQuery={"text": query}, retrievalConfiguration=self._retrieval_config(k, course, owner))
        out = []
        for r in resp.get("retrievalResults", []):
            source, _, key = _source_of(r.get("location"))
            if key and key.startswith(UPLOAD_PREFIX):
                source += YOUR_FILE
            out.append(Passage(source, _page_of(r.get("metadata")), float(r.get("score") or 0.0),
                               ((r.get("content") or {}).get("text") or "").strip()))
        return out

    # --- ask -------------------------------------------------------------------------------------
    def retrieval_query(self, question: str, history: Sequence[str] = ()) -> str:
        return extractive.condense(question, history)[:MAX_QUERY_CHARS]

    def ask(self, question: str, *, session_id: str | None = None, history: Sequence[str] = (),
            about: str | None = None, course: str = DEFAULT_COURSE, owner: str | None = None) -> Answer:
        """Answer from ``course``'s documents and ``owner``'s private uploads (a metadata filter)."""
        question = self._check_query(question)
        if extractive.is_overview(question) and self.s3 is not None and self.settings.pdf_bucket:
            return self.overview(question, about=about)
        if self.settings.kb_mode == "langchain":
            return self._ask_langchain(question, history, course, owner)
        return self._ask_rag(question, session_id, course, owner)

    def _rag_request(self, question: str, session_id: str | None, course: str = DEFAULT_COURSE,
                     owner: str | None = None) -> dict[str, Any]:
        generation: dict[str, Any] = {
            "promptTemplate": {"textPromptTemplate": self.settings.kb_prompt_template or DEFAULT_PROMPT},
        }
        if self.settings.guardrail_id:
            generation["guardrailConfiguration"] = {"guardrailId": self.settings.guardrail_id,
                                                    "guardrailVersion": self.settings.guardrail_version or "DRAFT"}
        request: dict[str, Any] = {
            "input": {"text": question},
            "retrieveAndGenerateConfiguration": {
                "type": "KNOWLEDGE_BASE",
                "knowledgeBaseConfiguration": {
                    "knowledgeBaseId": self._kb_id(),
                    "modelArn": self.settings.kb_model_arn,
                    "retrievalConfiguration": self._retrieval_config(None, course, owner),
                    "generationConfiguration": generation,
                },
            },
        }
        if session_id:
            request["sessionId"] = session_id
        return request

    def _ask_rag(self, question: str, session_id: str | None, course: str = DEFAULT_COURSE,
                 owner: str | None = None) -> Answer:
        from botocore.exceptions import ClientError

        request = self._rag_request(question, session_id, course, owner)
        try:
            resp = self.runtime.retrieve_and_generate(**request)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if not (session_id and code in ("ValidationException", "ResourceNotFoundException")):
                return self._wrap(e)
            # The session expired or belongs to another KB: ask again without it (a new session).
            log.info("RetrieveAndGenerate session %s rejected (%s); starting a new one", session_id, code)
            request.pop("sessionId", None)
            resp = call(self.runtime.retrieve_and_generate, what=WHAT, **request)
        text = ((resp.get("output") or {}).get("text") or "").strip()
        new_session = resp.get("sessionId")
        if resp.get("guardrailAction") == "INTERVENED":
            return Answer(False, text or "I can't answer that question.", (), new_session)
        citations: list[Citation] = []
        index: dict[tuple[str, int | None], int] = {}
        marks: list[tuple[int, int]] = []  # (end of the generated part, citation number)
        for c in resp.get("citations") or []:
            part = ((c.get("generatedResponsePart") or {}).get("textResponsePart") or {})
            for ref in c.get("retrievedReferences") or []:
                cit = self._citation(ref, part.get("text") or text)
                if (cit.source, cit.page) not in index:
                    citations.append(cit)
                    index[(cit.source, cit.page)] = len(citations)
                end = (part.get("span") or {}).get("end")
                if isinstance(end, int):
                    marks.append((end, index[(cit.source, cit.page)]))
        if not citations or not text or any(r in text.lower() for r in _REFUSALS):
            return Answer(False, _not_in_course(text), (), new_session)
        return Answer(True, _with_marks(text, marks), tuple(citations), new_session)

    @staticmethod
    def _wrap(error: Exception) -> Any:
        def raise_it() -> None:
            raise error

        return call(raise_it, what=WHAT)

    def _ask_langchain(self, question: str, history: Sequence[str], course: str = DEFAULT_COURSE,
                       owner: str | None = None) -> Answer:
        try:
            from langchain_aws import AmazonKnowledgeBasesRetriever, ChatBedrockConverse
        except ImportError as e:  # pragma: no cover - a core dependency
            raise NotAvailable("COURSEBOT_KB_MODE=langchain needs the 'langchain-aws' package: "
                               "pip install langchain-aws", code="missing_extra") from e
        from botocore.exceptions import BotoCoreError, ClientError

        query = self.retrieval_query(question, history)
        retriever = AmazonKnowledgeBasesRetriever(
            knowledge_base_id=self._kb_id(), retrieval_config=self._retrieval_config(None, course, owner),
            client=self.runtime,
            guardrail_config=({"guardrailId": self.settings.guardrail_id,
                               "guardrailVersion": self.settings.guardrail_version or "DRAFT"}
                              if self.settings.guardrail_id else None))
        try:
            docs = retriever.invoke(query)
        except (ClientError, BotoCoreError) as e:
            return self._wrap(e)
        if not docs:
            return Answer(False, extractive.NOT_FOUND)
        refs = []
        for d in docs:
            meta = d.metadata or {}
            refs.append({"content": {"text": d.page_content}, "location": meta.get("location"),
                         "metadata": meta.get("source_metadata")})
        context = "\n\n".join(f"[{i}] {r['content']['text']}" for i, r in enumerate(refs, 1))
        template = self.settings.kb_langchain_prompt or DEFAULT_LANGCHAIN_PROMPT
        prompt = template.replace("{context}", context).replace("{question}", query)
        llm = ChatBedrockConverse(model=self.settings.text_model_id, client=self.llm_client,
                                  region_name=self.settings.aws_region, temperature=0.0, max_tokens=400)
        try:
            message = llm.invoke(prompt)
        except (ClientError, BotoCoreError) as e:
            return self._wrap(e)
        text = message.text if isinstance(getattr(message, "text", None), str) else str(message.content)
        text = text.strip()
        if not text or any(r in text.lower() for r in _REFUSALS):
            return Answer(False, extractive.NOT_FOUND)
        import re

        used = [int(n) for n in re.findall(r"\[(\d+)\]", text) if 0 < int(n) <= len(refs)]
        chosen = list(dict.fromkeys(used)) or [1]
        citations: list[Citation] = []
        seen = set()
        for n in chosen:
            cit = self._citation(refs[n - 1], text)
            if (cit.source, cit.page) not in seen:
                seen.add((cit.source, cit.page))
                citations.append(cit)
        return Answer(True, text, tuple(citations))

    # --- ingest ----------------------------------------------------------------------------------
    def _bucket(self) -> str:
        if not self.settings.pdf_bucket:
            raise NotAvailable("Adding PDFs needs the Knowledge Base's S3 bucket: set COURSEBOT_PDF_BUCKET.",
                               code="kb_not_configured")
        return self.settings.pdf_bucket

    def _key(self, name: str, course: str = DEFAULT_COURSE, owner: str | None = None) -> str:
        """course-pdfs/<name> (default course), course-pdfs/<course>/<name>, uploads/<owner>/<name>."""
        if owner:
            return f"{UPLOAD_PREFIX}{owner}/{name}"
        prefix = self.settings.pdf_prefix or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return prefix + ("" if course == DEFAULT_COURSE else f"{course}/") + name

    def _put_sidecar(self, bucket: str, key: str, course: str, owner: str | None,
                     ttl_seconds: float | None = None) -> None:
        """The ``<key>.metadata.json`` Knowledge Bases reads: the attributes ask/search filter on. A private
        upload also carries when it expires: searches stop finding it then, before the bucket's lifecycle
        rule (whole days) deletes it."""
        attributes: dict[str, Any] = {"course": course, "owner": owner or COURSE_OWNER}
        if owner:
            ttl = ttl_seconds if ttl_seconds else self.settings.upload_ttl_seconds
            attributes["expires"] = int(self.clock() + ttl)
        body = json.dumps({"metadataAttributes": attributes}).encode()
        call(self.s3.put_object, what=WHAT, Bucket=bucket, Key=key + ".metadata.json", Body=body,
             ContentType="application/json")

    def ingest(self, paths: Sequence[str], *, progress: IngestListener | None = None,
               wait: float | None = None, course: str = DEFAULT_COURSE) -> list[IngestResult]:
        """Upload PDFs to the data source bucket, then sync the KB and wait (with backoff) for the job.

        ``progress`` hears each upload, the ingestion job's states while it is polled, and each result.
        """
        files = pdf_files(paths)
        results: list[IngestResult] = []
        uploaded: list[tuple[int, int, Reporter]] = []  # (index in results, pages, its reporter)
        for i, f in enumerate(files):
            report = Reporter(progress, f.name, i + 1, len(files))
            report("uploading")
            try:
                data = f.read_bytes()
            except OSError as e:
                results.append(report.done(IngestResult(f.name, "failed",
                                                        reason=f"I couldn't read '{f.name}' ({e.strerror or e}).")))
                continue
            result, pages = self._upload(f.name, data, course=course)
            if result is None:
                uploaded.append((len(results), pages, report))
                results.append(IngestResult(f.name, "submitted", pages=pages))
            else:
                results.append(report.done(result))
        if uploaded:
            def job_state(status: str) -> None:
                for _, pages, report in uploaded:
                    report("syncing", 0, pages, status=status)

            job = self.sync(wait=wait, on_status=job_state)
            for idx, pages, report in uploaded:
                results[idx] = report.done(self._job_result(results[idx].source, pages, job))
        return results

    def ingest_bytes(self, name: str, data: bytes, *, course: str = DEFAULT_COURSE, owner: str | None = None,
                     limits: Any = None, ttl_seconds: float | None = None,
                     admit: Callable[[int], str | None] | None = None) -> IngestResult:
        """One chat upload: checked within ``limits``, put under the course (or the owner's private
        uploads, which the bucket's lifecycle rule expires), then synced."""
        result, pages = self._upload(name, data, course=course, owner=owner, limits=limits, admit=admit,
                                     ttl_seconds=ttl_seconds)
        if result is not None:
            return result
        return self._job_result(name, pages, self.sync(wait=self.settings.kb_chat_ingest_wait_seconds))

    def _upload(self, name: str, data: bytes, *, course: str = DEFAULT_COURSE, owner: str | None = None,
                limits: Any = None, admit: Callable[[int], str | None] | None = None,
                ttl_seconds: float | None = None) -> tuple[IngestResult | None, int]:
        """Check and upload one PDF; (None, pages) when uploaded, else (the result, 0)."""
        if len(data) > MAX_DOCUMENT_BYTES:
            return IngestResult(name, "failed", reason=f"'{name}' is {len(data) / 1e6:.0f} MB; a Bedrock Knowledge "
                                f"Base accepts files up to {MAX_DOCUMENT_BYTES / 1e6:.0f} MB."), 0
        try:  # refuse corrupt/encrypted/empty PDFs, and chat uploads over the limits, before uploading
            doc = extract_limited(data, name, limits) if limits is not None else extract_document(data, name)
            pages = doc.total_pages
        except PdfProblem as e:
            return IngestResult(name, "failed", reason=e.user_message), 0
        refused = admit(pages) if admit else None
        if refused:
            return IngestResult(name, "failed", pages=pages, reason=refused), 0
        bucket, key = self._bucket(), self._key(name, course, owner)
        sha = hashlib.sha256(data).hexdigest()
        from botocore.exceptions import ClientError

        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
            if (head.get("Metadata") or {}).get("sha256") == sha:
                self._put_sidecar(bucket, key, course, owner, ttl_seconds)  # refreshed: course and expiry
                return IngestResult(name, "unchanged", pages=pages), 0
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                self._wrap(e)
        self._put_sidecar(bucket, key, course, owner, ttl_seconds)  # first: never indexed without its course
        call(self.s3.put_object, what=WHAT, Bucket=bucket, Key=key, Body=data, ContentType="application/pdf",
             Metadata={"sha256": sha, **outline_metadata(doc)})
        return None, pages

    def sync(self, wait: float | None = None, on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Start an ingestion job and poll it with exponential backoff; returns the last job description.

        ``on_status`` hears the job's status (STARTING, IN_PROGRESS, COMPLETE, ...) after each poll.
        """
        from botocore.exceptions import ClientError

        if self.agent is None or not self.settings.kb_data_source_id:
            raise NotAvailable("Syncing the knowledge base needs COURSEBOT_KB_DATA_SOURCE_ID (the S3 data source id).",
                               code="kb_not_configured")
        kb_id, ds_id = self._kb_id(), self.settings.kb_data_source_id
        wait = self.settings.kb_ingest_wait_seconds if wait is None else wait
        deadline = time.monotonic() + wait
        delay = 1.0
        token = f"coursebot-{uuid.uuid4().hex}"  # clientToken: 33-256 characters
        while True:  # ConflictException: another sync is running; wait for it, then start ours
            try:
                job = self.agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id, clientToken=token,
                                                     description="coursebot: PDFs added")["ingestionJob"]
                break
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "ConflictException" or time.monotonic() + delay > deadline:
                    self._wrap(e)
                self.sleep(delay)
                delay = min(delay * 2, 15.0)
        delay = 1.0
        if on_status is not None:
            on_status(str(job.get("status") or "STARTING"))
        while job.get("status") not in ("COMPLETE", "FAILED", "STOPPED"):
            if time.monotonic() + delay > deadline:
                break
            self.sleep(delay)
            delay = min(delay * 2, 15.0)
            job = call(self.agent.get_ingestion_job, what=WHAT, knowledgeBaseId=kb_id, dataSourceId=ds_id,
                       ingestionJobId=job["ingestionJobId"])["ingestionJob"]
            if on_status is not None:
                on_status(str(job.get("status") or "IN_PROGRESS"))
        return job

    @staticmethod
    def _job_result(name: str, pages: int, job: dict[str, Any]) -> IngestResult:
        status = job.get("status")
        stats = job.get("statistics") or {}
        if status == "COMPLETE" and not stats.get("numberOfDocumentsFailed"):
            return IngestResult(name, "added", pages=pages)
        if status in ("COMPLETE", "FAILED", "STOPPED"):
            reasons = "; ".join(job.get("failureReasons") or [])[:300]
            why = f"The knowledge base could not index it{': ' + reasons if reasons else '.'}"
            if status == "COMPLETE":
                why = f"The knowledge base finished syncing but {stats.get('numberOfDocumentsFailed')} document(s) failed."
            return IngestResult(name, "failed", pages=pages, reason=why)
        return IngestResult(name, "submitted", pages=pages,
                            reason="Uploaded; the knowledge base is still indexing it (usually a few minutes).")

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket(), Prefix=prefix):
                out.extend(o for o in page.get("Contents", []) if o["Key"].lower().endswith(".pdf"))
        except (ClientError, BotoCoreError) as e:
            self._wrap(e)
        return out

    def overview(self, question: str = "What does the course cover?", about: str | None = None,
                 course: str = DEFAULT_COURSE) -> Answer:
        """The course's PDFs from the data source bucket, with the title, page count and headings
        stored in each object's metadata when it was uploaded."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = self._bucket()
        docs, heads = [], {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=self._key("", course)):
                for obj in page.get("Contents", []):
                    if not obj["Key"].lower().endswith(".pdf") or "/" in obj["Key"][len(self._key("", course)):]:
                        continue
                    meta = self.s3.head_object(Bucket=bucket, Key=obj["Key"]).get("Metadata") or {}
                    name = PurePosixPath(obj["Key"]).name
                    docs.append(_S3Document(name, meta.get("title") or None, _int(meta.get("pages")), obj["Key"]))
                    heads[name] = _headings_of(meta.get("headings"))
        except (ClientError, BotoCoreError) as e:
            self._wrap(e)
        docs.sort(key=lambda d: d.name)
        answer = extractive.overview(question, docs, lambda n: heads.get(n, []),
                                     lambda key, p: self.link(bucket, key, p), about)
        return Answer(answer.found, answer.text, answer.citations, kind="overview")

    def list(self, *, course: str = DEFAULT_COURSE) -> list[dict[str, Any]]:
        """The course's PDFs (the default course: those directly under the prefix)."""
        prefix = self._key("", course)
        return [{"name": PurePosixPath(o["Key"]).name, "bytes": o["Size"], "modified": o["LastModified"].isoformat()}
                for o in self._objects(prefix) if "/" not in o["Key"][len(prefix):]]

    def courses(self) -> list[dict[str, Any]]:
        """[{"course", "documents", "bytes"}] from the bucket's layout (pages and chunks are Bedrock's)."""
        root = self._key("")
        counts: dict[str, list[int]] = {}
        for o in self._objects(root):
            rest = o["Key"][len(root):]
            course = rest.split("/", 1)[0] if "/" in rest else DEFAULT_COURSE
            entry = counts.setdefault(course, [0, 0])
            entry[0] += 1
            entry[1] += o["Size"]
        return [{"course": c, "documents": n, "bytes": b} for c, (n, b) in sorted(counts.items())]

    def remove(self, name: str, *, course: str = DEFAULT_COURSE) -> bool:
        bucket, key = self._bucket(), self._key(Path(name).name, course)
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            self._wrap(e)
        call(self.s3.delete_object, what=WHAT, Bucket=bucket, Key=key)
        call(self.s3.delete_object, what=WHAT, Bucket=bucket, Key=key + ".metadata.json")
        self.sync()
        return True


class _S3Document:
    """A PDF of the data source, as the overview lists it."""

    def __init__(self, name: str, title: str | None, pages: int, key: str):
        self.name, self.title, self.pages, self.blob_key = name, title, pages, key


class _Heading:
    def __init__(self, level: int, title: str, page: int):
        self.level, self.title, self.page = level, title, page


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def outline_metadata(doc: Any) -> dict[str, str]:
    """S3 user metadata for the overview: title, pages and the top headings (ASCII JSON, within 2 KB)."""
    import json

    from kb.chunking import chunk_pages
    from kb.local import outline_of

    title, headings = outline_of(doc, chunk_pages(doc.pages[:1]))
    meta = {"pages": str(doc.total_pages)}
    if title:
        meta["title"] = title.encode("ascii", "replace").decode()[:200]
    top = min((h[0] for h in headings), default=0)
    chosen: list[list[Any]] = []
    for level, text, page in headings:
        if level > top + 1:
            continue
        chosen.append([level - top, text[:80], page])
        if len(json.dumps(chosen)) > MAX_META_BYTES - 300:
            chosen.pop()
            break
    if chosen:
        meta["headings"] = json.dumps(chosen, separators=(",", ":"))
    return meta


def _headings_of(raw: str | None) -> list[_Heading]:
    import json

    try:
        items = json.loads(raw) if raw else []
        return [_Heading(int(a), str(b), int(c)) for a, b, c in items]
    except (ValueError, TypeError):
        return []


def _closest_sentence(passage: str, said: str) -> str:
    """The sentence of ``passage`` that shares the most words with ``said`` (what the answer took from it)."""
    from kb.chunking import sentences

    words = set(extractive.content_words(said))
    best, best_n = "", -1
    for s in sentences(passage):
        n = len(words & set(extractive.content_words(s)))
        if n > best_n:
            best, best_n = s, n
    return best


def _with_marks(text: str, marks: list[tuple[int, int]]) -> str:
    """The generated answer with [n] after each part that a reference supports."""
    out = text
    for end, n in sorted(set(marks), reverse=True):
        cut = min(max(end + 1, 0), len(out))
        while cut < len(out) and out[cut - 1:cut].isalnum():
            cut += 1
        if f"[{n}]" not in out[cut:cut + 5]:
            out = out[:cut] + f" [{n}]" + out[cut:]
    return out


def _not_in_course(text: str) -> str:
    """The explicit "not in the course" reply: an answer without a passage to cite is not from the course."""
    return extractive.NOT_FOUND


def course_filter(course: str, owner: str | None = None, now: float | None = None) -> dict[str, Any]:
    """The Retrieve / RetrieveAndGenerate metadata filter: the course's documents, and with ``owner``
    that conversation's private uploads too (with ``now``: only those not yet expired)."""
    course_docs = {"andAll": [{"equals": {"key": "course", "value": course}},
                              {"equals": {"key": "owner", "value": COURSE_OWNER}}]}
    if not owner:
        return course_docs
    mine: dict[str, Any] = {"equals": {"key": "owner", "value": owner}}
    if now is not None:
        mine = {"andAll": [mine, {"greaterThan": {"key": "expires", "value": int(now)}}]}
    return {"orAll": [course_docs, mine]}


def _sigv4(s3: Any, settings: Any) -> Any:
    """The same S3 client, presigning with SigV4 (boto3 still defaults to SigV2 presigning in us-east-1)."""
    import boto3
    from botocore.config import Config

    config = s3.meta.config.merge(Config(signature_version="s3v4"))
    return boto3.client("s3", config=config, endpoint_url=settings.aws_endpoint_url or None)


def build(settings: Any, services: Any) -> BedrockKnowledgeBase:
    """Services factory for the aws backend."""
    runtime = make_client("bedrock-agent-runtime", settings)
    agent = make_client("bedrock-agent", settings)
    s3 = _sigv4(make_client("s3", settings), settings)
    llm = make_client("bedrock-runtime", settings) if settings.kb_mode == "langchain" else None
    return BedrockKnowledgeBase(settings, runtime, agent, s3, llm)


__all__ = ["BedrockKnowledgeBase", "build", "DEFAULT_PROMPT", "DEFAULT_LANGCHAIN_PROMPT"]
