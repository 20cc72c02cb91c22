"""The embedded knowledge base, for real: generated PDFs, the SQLite index, the offline embedder."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import needs_engine

from kb.sample import render

ROOT = Path(__file__).resolve().parents[1]

LAMBDA_MD = textwrap.dedent("""\
    # Serverless notes

    ## Functions
    AWS Lambda runs code without servers. Every function has a handler that receives the event and the context.

    ## Limits
    A function can run for at most 15 minutes. The payload of a synchronous request is limited to 6 MB.
    """)
ZEBRA_MD = textwrap.dedent("""\
    # Field biology

    ## Zebras
    The plains zebra lives in herds on the grasslands of East Africa. Its stripes confuse biting flies.
    """)


def many_pages_md() -> str:
    """A document long enough for several A5 pages, with a unique fact on its last page."""
    filler = " ".join(f"Paragraph {i} talks about ordinary course logistics and reading lists." for i in range(30))
    body = "\n\n".join(f"## Week {w}\n{filler}" for w in range(1, 5))
    return f"# Course handbook\n\n{body}\n\n## Final exam\nThe final exam takes place in the Orchid Hall at nine in the morning."


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from bot.services import Services
    from bot.settings import load
    from kb.local import build

    home = tmp_path_factory.mktemp("kbhome")
    settings = load(home=home, backend="local")
    kb = build(settings, Services(settings))
    docs = tmp_path_factory.mktemp("pdfs")
    (docs / "lambda.pdf").write_bytes(render(LAMBDA_MD))
    (docs / "handbook.pdf").write_bytes(render(many_pages_md()))
    results = kb.ingest([str(docs)])
    assert {r.source: r.status for r in results} == {"lambda.pdf": "added", "handbook.pdf": "added"}
    kb.docs = docs
    return kb


def snapshot(kb) -> tuple:
    return (json.dumps(kb.list(), sort_keys=True), kb.index.stats(), [p.to_dict() for p in kb.search("lambda limits", 3)])


# --- PDF extraction and cleanup ------------------------------------------------------------------
def test_extract_keeps_pages_and_drops_running_header_and_footer():
    from kb.pdf import extract

    pages = extract(render(many_pages_md()), "handbook.pdf")
    assert len(pages) >= 3 and [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert "Orchid Hall" in pages[-1].text and "Orchid Hall" not in pages[0].text
    for p in pages:
        assert "coursebot sample course" not in p.text  # the running header
        assert f"Page {p.number}" not in p.text  # the footer


DEBIAN_FAQ = Path("/usr/share/doc/debian/FAQ/debian-faq.en.pdf.gz")  # debian-faq, in scripts/apt-packages-test.txt


def test_a_tex_pdf_whose_font_has_no_space_glyph_keeps_its_word_gaps():
    """XeTeX/xdvipdfmx PDFs draw word gaps as TJ offsets in a composite font without a space glyph."""
    import gzip

    from conftest import require_engine

    from kb.pdf import extract

    require_engine("the Debian FAQ PDF (Debian package debian-faq)", DEBIAN_FAQ.is_file())
    page = {p.number: p.text for p in extract(gzip.decompress(DEBIAN_FAQ.read_bytes()), "debian-faq.pdf")}[13]
    assert "This is stable and well tested software" in page
    assert "Thisisstable" not in page and "2.1 What is the latest version of Debian?" in page


def test_cleanup_joins_hyphenated_words_and_reflows_lines():
    from kb.pdf import clean_pages

    [text] = clean_pages(["Retrieval aug-\nmented generation grounds the answers of a model in\nthe documents you give it.\n"])
    assert "augmented" in text
    assert "model in the documents" in text
    [toc] = clean_pages(["Contents\n2.1 What is R? . . . . . . . . . . 3\n2.2 What is S?......... 4\nR is a language."])
    assert "What is R" not in toc and "R is a language." in toc


def test_a_contents_page_is_not_indexed_and_cut_running_headers_are_dropped():
    from kb.pdf import clean_pages

    contents = "CONTENTS\n" + "\n".join(f"9.{i} How can I keep a log of the packages I added? {40 + i}" for i in range(8))
    body = "To identify the package that produced the file named foo execute dpkg --search foo. " * 3
    pages = [contents] + [f"CHAPTER 8. THE DEBIAN PACKAGE ... 8.{i}. {('HOW CAN I', 'WHAT IS A', 'WHY IS', 'WHERE ARE')[i]} ...\nPage {'abcd'[i]}.\n{body}\n"
                          f"That was {'abcd'[i]}.\n{30 + i}" for i in range(4)]
    cleaned = clean_pages(pages)
    assert cleaned[0] == ""  # its titles would compete with their own pages for every question
    assert all("CHAPTER" not in p and "dpkg --search foo" in p for p in cleaned[1:])
    # a page of prose that mentions a few sections is no contents page
    prose = "See section 2.1 for details. R is a language and environment for statistical computing 3\n" + body
    assert "R is a language" in clean_pages([prose])[0]
    # numbered rows of data are no contents page (the numbers do not only go up), and a document that is
    # all entries (a reading list) keeps its text
    scores = "Results\n" + "\n".join(f"{i} Student {i} scored {s}" for i, s in enumerate([87, 54, 91, 66, 72, 80, 59], 1))
    assert "Student 3 scored 91" in clean_pages([scores, body])[0]
    readings = "Readings\n" + "\n".join(f"{i} Chapter {i} of the book {10 * i}" for i in range(1, 9))
    assert "Chapter 5 of the book 50" in clean_pages([readings])[0]


def test_a_faqs_numbered_question_is_the_context_of_the_chunks_under_it():
    from kb.chunking import chunk_pages
    from kb.pdf import Page

    filler = "Here the answer goes on at some length about mirrors and proxies. " * 14
    text = ("9.5 Can I automatically update the system?\nYes. You can use cron-apt.\n9.6 I have several machines; "
            "how can I download the updates only\none time?\nIf you have more than one machine use apt-cacher. " + filler)
    chunks = chunk_pages([Page(1, text)], title="The Debian GNU/Linux FAQ")
    assert chunks[0].context == "The Debian GNU/Linux FAQ - 9.5 Can I automatically update the system?"
    assert chunks[1].context.endswith("9.6 I have several machines; how can I download the updates only one time?")


def test_chunks_keep_page_numbers_and_section_context():
    from kb.chunking import chunk_pages
    from kb.pdf import Page

    chunks = chunk_pages([Page(1, "Title of notes\nIntro\n" + "Alpha beta gamma. " * 80), Page(2, "Limits\nAt most 5 MB.")])
    assert {c.page for c in chunks} == {1, 2}
    assert all(len(c.text) <= 1300 for c in chunks)
    assert chunks[0].context.startswith("Title of notes")
    assert chunks[-1].text.startswith("Limits")


# --- ingest ----------------------------------------------------------------------------------------
def test_reingest_unchanged_does_nothing(kb):
    before = snapshot(kb)
    [r] = kb.ingest([str(kb.docs / "lambda.pdf")])
    assert r.status == "unchanged"
    assert snapshot(kb) == before


def test_same_content_under_another_name_is_not_indexed_twice(kb, tmp_path):
    copy = tmp_path / "lambda-copy.pdf"
    copy.write_bytes((kb.docs / "lambda.pdf").read_bytes())
    before = snapshot(kb)
    [r] = kb.ingest([str(copy)])
    assert r.status == "duplicate" and "lambda.pdf" in r.reason
    assert snapshot(kb) == before


def test_changed_file_replaces_its_chunks(kb, tmp_path):
    path = tmp_path / "zoo.pdf"
    path.write_bytes(render(LAMBDA_MD.replace("Serverless notes", "Zoo notes").replace("AWS Lambda", "The zoo")))
    assert kb.ingest([str(path)])[0].status == "added"
    path.write_bytes(render(ZEBRA_MD))
    [r] = kb.ingest([str(path)])
    assert r.status == "replaced"
    assert kb.search("plains zebra stripes", 1)[0].source == "zoo.pdf"
    assert not [p for p in kb.search("zoo handler event context", 10) if p.source == "zoo.pdf" and "handler" in p.text]
    assert kb.remove("zoo.pdf") is True and kb.remove("zoo.pdf") is False
    assert "zoo.pdf" not in [d["name"] for d in kb.list()]
    assert kb.index.check()


def _image_only_pdf() -> bytes:
    from fpdf import FPDF
    from PIL import Image

    img = Image.new("RGB", (200, 80), "white")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(img, x=10, y=10, w=100)
    return bytes(pdf.output())


def _empty_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    return bytes(pdf.output())


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(render(ZEBRA_MD))))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("name,make,words", [
    ("corrupt.pdf", lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref", "damaged"),
    ("truncated.pdf", lambda: render(ZEBRA_MD)[:300], "damaged"),
    ("not-a-pdf.pdf", lambda: b"just some text, not a PDF", "not a PDF"),
    ("encrypted.pdf", _encrypted_pdf, "password"),
    ("empty.pdf", _empty_pdf, "no text"),
    ("scanned.pdf", _image_only_pdf, "OCR"),
])
def test_bad_pdfs_are_skipped_with_a_reason_and_leave_the_index_unchanged(kb, tmp_path, name, make, words):
    path = tmp_path / name
    path.write_bytes(make())
    before = snapshot(kb)
    [r] = kb.ingest([str(path)])
    assert r.status == "failed"
    assert words.lower() in r.reason.lower(), r.reason
    assert name in r.reason
    assert snapshot(kb) == before
    assert kb.index.check()


def _mixed_pdf() -> bytes:
    """Page 1 has text, page 2 is a scanned image only."""
    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 6, "The okapi is a forest giraffe of central Africa with striped legs.")
    pdf.add_page()
    pdf.image(Image.new("RGB", (200, 80), "white"), x=10, y=10, w=100)
    return bytes(pdf.output())


def test_scanned_pages_without_ocr_are_reported(kb, tmp_path, monkeypatch):
    import kb.pdf as pdf_module

    monkeypatch.setattr(pdf_module, "ocr_engine", lambda: None)
    path = tmp_path / "okapi.pdf"
    path.write_bytes(_mixed_pdf())
    [r] = kb.ingest([str(path)])
    assert r.status == "added" and r.pages == 2 and "1 scanned page" in r.reason and "OCR" in r.reason
    assert kb.remove("okapi.pdf")


def test_scanned_pages_go_through_ocr_when_an_engine_is_installed(kb, tmp_path, monkeypatch):
    import kb.pdf as pdf_module

    seen = []

    def fake_ocr(image: bytes) -> str:  # stands in for rapidocr/tesseract: records what it was given
        seen.append(image[:8])
        return "Scanned page: the tapir is a large herbivorous mammal with a short trunk."

    monkeypatch.setattr(pdf_module, "ocr_engine", lambda: fake_ocr)
    path = tmp_path / "scan.pdf"
    path.write_bytes(_image_only_pdf())
    [r] = kb.ingest([str(path)])
    assert r.status == "added" and r.reason is None
    assert seen and seen[0].startswith((b"\x89PNG", b"\xff\xd8"))  # real image bytes from the PDF page
    hit = kb.search("tapir trunk", 1)[0]
    assert (hit.source, hit.page) == ("scan.pdf", 1)
    assert kb.remove("scan.pdf")


def _has_tesseract() -> bool:
    import shutil

    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


@needs_engine("tesseract-ocr and pytesseract", _has_tesseract)
def test_scanned_pdf_is_read_by_the_installed_ocr_engine(kb, tmp_path):
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1400, 300), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=48)
    draw.text((30, 40), "The tapir is a large mammal", fill="black", font=font)
    draw.text((30, 140), "with a short prehensile trunk.", fill="black", font=font)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(img, x=10, y=10, w=190)
    path = tmp_path / "scanned-tapir.pdf"
    path.write_bytes(bytes(pdf.output()))
    [r] = kb.ingest([str(path)])
    assert r.status == "added", r.reason
    hit = kb.search("tapir prehensile trunk", 1)[0]
    assert (hit.source, hit.page) == ("scanned-tapir.pdf", 1) and "prehensile" in hit.text
    assert kb.remove("scanned-tapir.pdf")


def test_missing_file_is_reported(kb, tmp_path):
    [r] = kb.ingest([str(tmp_path / "nope.pdf")])
    assert r.status == "failed" and "No such file" in r.reason


def test_failure_inside_the_transaction_rolls_back(kb, tmp_path, monkeypatch):
    from kb.index import Index

    path = tmp_path / "lambda.pdf"  # same name as an indexed file, new content: a replace
    path.write_bytes(render(ZEBRA_MD))
    before = snapshot(kb)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Index, "insert_document", staticmethod(boom))
    with pytest.raises(OSError):
        kb.ingest([str(path)])
    monkeypatch.undo()
    assert snapshot(kb) == before  # the delete of the old version was rolled back too
    assert kb.index.check()


KILLER = textwrap.dedent("""\
    import os, signal, sys
    import numpy as np
    from kb.index import Index
    index = Index(sys.argv[1], 384)
    with index.transaction() as db:
        Index.delete_document(db, "lambda.pdf")
        Index.insert_document(db, name="half.pdf", sha256="0" * 64, size=1, pages=1, blob_key=None, model="m",
                              chunks=[(1, 0, "", "half written")], vectors=np.zeros((1, 384), dtype=np.float32))
        print("in transaction", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)


def test_killed_ingest_leaves_a_consistent_index(kb):
    before = snapshot(kb)
    proc = subprocess.run([sys.executable, "-c", KILLER, kb.index.path], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == -signal.SIGKILL and "in transaction" in proc.stdout
    assert snapshot(kb) == before
    assert kb.index.check()


# --- search and ask --------------------------------------------------------------------------------
def test_search_finds_the_right_page(kb):
    results = kb.search("Where does the final exam take place?", 3)
    top = results[0].to_dict()
    assert set(top) == {"source", "page", "score", "text"}
    assert top["source"] == "handbook.pdf" and "Orchid Hall" in top["text"]
    assert top["page"] == max(d["pages"] for d in kb.list() if d["name"] == "handbook.pdf")
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_search_puts_first_the_passage_the_answer_cites(kb):
    for question in ("How long can a Lambda function run?", "Where does the final exam take place?",
                     "What does every Lambda function have?"):
        a = kb.ask(question)
        top = kb.search(question, 3)[0]
        assert a.found and (top.source, top.page) == (a.citations[0].source, a.citations[0].page), question
        assert " ".join(top.text.split())[:40] in " ".join(a.citations[0].passage.split()) or \
            " ".join(a.citations[0].passage.split())[:40] in " ".join(top.text.split()), question


def test_search_without_rerank_keeps_hybrid_search_order(kb, monkeypatch):
    from kb import extractive

    monkeypatch.setattr(extractive, "rank", lambda *a, **k: pytest.fail("a topic search is not reranked"))
    topic = "final exam orchid hall"
    assert kb.search(topic, 3, rerank=False) == [h.passage() for h in kb.hits(topic, 3)]


def test_ranked_search_follows_the_answers_rank_and_scores_descend(kb, monkeypatch):
    from kb import extractive

    question = "Where does the final exam take place?"
    hits = kb.hits(question, 8)
    assert len(hits) >= 4

    class Ranked:  # the answer's rank, reversed, for the first three of hybrid search's chunks
        def __init__(self, hit, score):
            self.hit, self.score = hit, score

    monkeypatch.setattr(extractive, "rank", lambda *a, **k: [Ranked(hits[2], 1.5), Ranked(hits[1], 1.2),
                                                            Ranked(hits[0], 0.9)])
    out = kb.ranked(question, 5)
    assert [h.chunk_id for h in out] == [hits[2].chunk_id, hits[1].chunk_id, hits[0].chunk_id,
                                         hits[3].chunk_id, hits[4].chunk_id]
    assert [h.score for h in out[:3]] == [1.5, 1.2, 0.9]
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert all(h.score <= 0.9 for h in out[3:])


def test_ask_answers_with_citation_and_page_link(kb):
    a = kb.ask("How long can a Lambda function run?")
    assert a.found
    assert "15 minutes" in a.text
    c = a.citations[0]
    assert c.source == "lambda.pdf" and c.page == 1
    assert "/files/pdfs/" in c.url and c.url.endswith("#page=1") and "sig=" in c.url
    key = c.url.split("/files/", 1)[1].split("?", 1)[0]
    assert kb.blobs.get(key) == (kb.docs / "lambda.pdf").read_bytes()


def test_ask_abstains_when_the_pdfs_do_not_say(kb):
    a = kb.ask("Who won the football world cup in 2018?")
    assert not a.found and a.citations == ()
    assert a.text.startswith("That's not in the course PDFs.")


def test_follow_up_is_condensed_with_the_previous_question(kb):
    from kb.extractive import condense

    assert condense("and what are its limits?", ["what is aws lambda"]) == "what is aws lambda and what are its limits?"
    assert condense("What is a plains zebra?", ["what is aws lambda"]) == "What is a plains zebra?"
    a = kb.ask("and what is the payload limit?", history=["what does the course say about AWS Lambda"])
    assert a.found and "6 MB" in a.text


def test_empty_query_is_a_clear_input_error(kb):
    from bot.errors import InputError

    with pytest.raises(InputError):
        kb.search("   ")
    with pytest.raises(InputError):
        kb.ask("")


# --- CLI -------------------------------------------------------------------------------------------
def _cli(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}
    env["COURSEBOT_HOME"] = str(home)
    return subprocess.run([sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_ingest_search_ask_list_remove(tmp_path):
    home = tmp_path / "home"
    pdf = tmp_path / "lambda.pdf"
    pdf.write_bytes(render(LAMBDA_MD))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    p = _cli(home, "kb", "ingest", str(tmp_path), "--json")
    assert p.returncode == 1  # one file failed
    rows = {r["source"]: r for r in map(json.loads, p.stdout.splitlines())}
    assert rows["lambda.pdf"]["status"] == "added" and rows["broken.pdf"]["status"] == "failed"
    assert "damaged" in rows["broken.pdf"]["reason"]

    p = _cli(home, "kb", "search", "how long can a function run", "-k", "2", "--json")
    assert p.returncode == 0, p.stderr
    results = json.loads(p.stdout)
    assert results and set(results[0]) == {"source", "page", "score", "text"} and results[0]["source"] == "lambda.pdf"

    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": "how long can a function run"}\n{"question": "who painted the Mona Lisa"}\n')
    p = _cli(home, "kb", "ask", "--batch", str(batch), "--json")
    assert p.returncode == 0, p.stderr
    first, second = map(json.loads, p.stdout.splitlines())
    assert first["question"] == "how long can a function run" and first["found"] is True
    assert first["citations"][0]["source"] == "lambda.pdf" and first["citations"][0]["page"] == 1
    assert second["found"] is False and second["citations"] == []

    p = _cli(home, "kb", "search", "--batch", str(batch), "-k", "1", "--json")
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [set(x) for x in lines] == [{"question", "results"}] * 2 and len(lines[0]["results"]) == 1

    p = _cli(home, "kb", "list", "--json")
    assert [d["name"] for d in json.loads(p.stdout)] == ["lambda.pdf"]
    assert _cli(home, "kb", "remove", "lambda.pdf").returncode == 0
    p = _cli(home, "kb", "remove", "lambda.pdf")
    assert p.returncode == 1 and "no PDF named" in p.stderr
    p = _cli(home, "kb", "search", "--batch", str(tmp_path / "missing.jsonl"), "--json")
    assert p.returncode == 1 and "Traceback" not in p.stderr


def test_sample_course_builds_reproducibly_and_ingests_idempotently(tmp_path):
    from kb import sample

    a = sample.build(tmp_path / "a")
    b = sample.build(tmp_path / "b")
    assert len(a) == 10 and [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    home = tmp_path / "home"
    first = _cli(home, "kb", "ingest", "--sample", "--json")
    assert first.returncode == 0, first.stderr
    assert {json.loads(x)["status"] for x in first.stdout.splitlines()} == {"added"}
    again = _cli(home, "kb", "ingest", "--sample", "--json")
    assert {json.loads(x)["status"] for x in again.stdout.splitlines()} == {"unchanged"}


# --- titles, headings and the overview -----------------------------------------------------------
def _with_outline(data: bytes, items: list[tuple[str, int]]) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    parent = None
    for i, (title, page) in enumerate(items):
        item = writer.add_outline_item(title, page - 1, parent=parent if i else None)
        parent = parent or item
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_the_pdf_outline_gives_the_headings_of_the_overview(kb):
    data = _with_outline(render(many_pages_md()), [("Handbook", 1), ("Exams and rooms", 2), ("Reading lists", 1)])
    assert kb.ingest_bytes("outlined.pdf", data).status == "added"
    try:
        heads = kb.index.headings("outlined.pdf")
        assert [(h.level, h.title, h.page) for h in heads] == [(0, "Handbook", 1), (1, "Exams and rooms", 2),
                                                               (1, "Reading lists", 1)]
        a = kb.ask("what is outlined.pdf about?")
        assert a.found and a.kind == "overview"
        assert a.text.splitlines()[1:] == ["- Handbook (p. 1)", "  - Exams and rooms (p. 2)", "  - Reading lists (p. 1)"]
        assert [(c.source, c.page) for c in a.citations] == [("outlined.pdf", 1), ("outlined.pdf", 2), ("outlined.pdf", 1)]
        assert a.citations[1].url.endswith("#page=2")
    finally:
        kb.remove("outlined.pdf")
    # without an outline, the headings found in the text; the title is the document's first heading
    detected = [h.title for h in kb.index.headings("handbook.pdf")]
    assert detected[:2] == ["Week 1", "Week 2"] and "Final exam" in detected
    assert kb.index.document("handbook.pdf").title == "Course handbook"
    assert kb.heading("handbook.pdf", kb.index.document("handbook.pdf").pages) == "Final exam"


def test_an_index_written_before_headings_were_stored_is_migrated_in_place(tmp_path):
    import sqlite3

    import numpy as np

    from kb.index import SCHEMA, Index

    path = tmp_path / "old.sqlite3"
    old = SCHEMA.replace("    added_at REAL NOT NULL,\n    title TEXT\n", "    added_at REAL NOT NULL\n")
    old = old.split("CREATE TABLE IF NOT EXISTS headings")[0] + "CREATE VIRTUAL TABLE" + old.split("CREATE VIRTUAL TABLE", 1)[1]
    db = sqlite3.connect(path)
    db.executescript(old)
    db.execute("INSERT INTO documents (name, sha256, bytes, pages, chunks, blob_key, model, added_at) "
               "VALUES ('old.pdf', 'x', 1, 2, 2, NULL, 'm', 0)")
    vec = np.ones(4, dtype=np.float32).tobytes()
    db.executemany("INSERT INTO chunks (doc_id, page, ordinal, context, text, vec) VALUES (1, ?, ?, ?, ?, ?)",
                   [(1, 0, "Old notes - Setup", "Install it first.", vec), (2, 1, "Old notes - Usage", "Run it.", vec)])
    db.commit()
    db.close()
    index = Index(path, 4)
    assert index.document("old.pdf").title is None  # the column exists now
    assert [(h.title, h.page) for h in index.headings("old.pdf")] == [("Setup", 1), ("Usage", 2)]
    assert index.check() and [r.text for r in index.chunks([1]).values()] == ["Install it first."]


class _OtherModel:
    """An embedder of another model: records what it embedded; its vectors point elsewhere (reversed)."""

    dim = 384
    model_id = "some-other-model"

    def __init__(self, real):
        self.real = real
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return self.real.embed(texts)[:, ::-1].copy()

    def embed_one(self, text):
        return self.embed([text])[0]


def test_an_index_made_with_another_embedding_model_is_re_embedded_when_opened(tmp_path):
    import numpy as np

    from bot.local.embedding import get_embedder
    from kb.local import LocalKnowledgeBase, context_text

    real = get_embedder()
    path = tmp_path / "kb.sqlite3"
    other = LocalKnowledgeBase(path, _OtherModel(real))
    (tmp_path / "lambda.pdf").write_bytes(render(LAMBDA_MD))
    [added] = other.ingest([str(tmp_path / "lambda.pdf")])
    assert added.status == "added" and other.reembedded == 0
    kb = LocalKnowledgeBase(path, real)
    assert kb.reembedded == added.chunks > 0
    rows = kb.index.db.execute("SELECT context, text, vec FROM chunks ORDER BY ordinal").fetchall()
    stored = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), 384)
    # passages are embedded with the embedder's document graph, and the index says which
    assert np.allclose(stored, real.embed_documents([context_text(c, t) for c, t, _ in rows]), atol=1e-5)
    assert kb.index.db.execute("SELECT DISTINCT model FROM documents").fetchall() == [(real.document_model_id,)]
    assert LocalKnowledgeBase(path, real).reembedded == 0  # once
    assert kb.search("How long can a function run?", 1)[0].page == 1
    # the same network at another precision is interchangeable: not re-embedded
    kb.index.db.execute("UPDATE documents SET model = ?", ((set(real.compatible_models) or {"x"}).pop(),))
    kb.index.db.commit()
    assert LocalKnowledgeBase(path, real).reembedded == (0 if real.compatible_models else added.chunks)
