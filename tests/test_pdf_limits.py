"""Limits on a PDF sent in a chat (kb/pdf_limits.py): pages, decompressed content, extracted text and CPU
time, each refused with a clear sentence and nothing indexed; the per-student page quota; the upload
queue that runs one upload at a time per user while others go on. The PDFs are generated here."""

from __future__ import annotations

import threading
import time

import pytest

from bot.testing.pdfs import huge_text_pdf, raw_pdf
from kb.pdf import PdfProblem
from kb.pdf_limits import PdfLimits, extract_limited, precheck



def pages_pdf(texts: list[str]) -> bytes:
    """A PDF with one page per text, each page its own content stream (repeated text would be a running header)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in texts:
        content = b"BT /F1 10 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % len(objects))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Count %d /Kids [" % len(texts) + b" ".join(kids) + b"] >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_the_page_limit_comes_from_the_setting_and_is_checked_before_reading(home, monkeypatch):
    from bot.settings import load

    monkeypatch.setenv("COURSEBOT_MAX_PDF_PAGES", "5")
    limits = PdfLimits.from_settings(load(home=home, backend="local"))
    assert limits.max_pages == 5
    assert precheck(raw_pdf(5), "five.pdf", limits) == 5
    with pytest.raises(PdfProblem) as e:
        precheck(raw_pdf(6), "six.pdf", limits)
    assert e.value.code == "pdf_too_many_pages"
    assert e.value.user_message.startswith("'six.pdf' has 6 pages; the most I read from a chat is 5 pages.")
    # a page tree that claims more pages than it has is refused on its word, before the pages are walked
    lying = raw_pdf(2).replace(b"/Count 2", b"/Count 90000")
    with pytest.raises(PdfProblem, match="90,000 pages"):
        precheck(lying, "lying.pdf", limits)


def test_a_compression_bomb_is_refused_by_its_inflated_size_before_any_text_is_extracted():
    bomb = huge_text_pdf(megabytes=70)  # ~70 MB of text in a file of well under 1 MB
    assert len(bomb) < 1_000_000
    started = time.process_time()
    with pytest.raises(PdfProblem) as e:
        precheck(bomb, "bomb.pdf", PdfLimits(max_stream_bytes=8_000_000))
    assert e.value.code == "pdf_too_much_text" and "MB of text" in e.value.user_message
    # the bounded inflater stops just past the limit: far less work than inflating 70 MB
    assert time.process_time() - started < 5


def test_extracted_text_over_the_limit_is_refused_even_when_the_streams_pass():
    import random

    rng = random.Random(7)
    words = ["zebra", "giraffe", "lambda", "stream", "ridge", "kernel", "vector", "shard", "bucket", "token"]
    data = pages_pdf([" ".join(rng.choice(words) for _ in range(10_000)) for _ in range(4)])  # ~250 KB of text
    with pytest.raises(PdfProblem) as e:
        extract_limited(data, "wordy.pdf", PdfLimits(max_text_bytes=100_000, max_stream_bytes=10_000_000))
    assert e.value.code == "pdf_too_much_text"
    assert len(extract_limited(data, "wordy.pdf", PdfLimits(max_text_bytes=1_000_000)).pages) == 4


def test_the_cpu_budget_stops_a_slow_pdf_in_its_child_process():
    data = raw_pdf(3000, b"A page of a very long book with some words. ", repeat=20)
    roomy = PdfLimits(max_pages=100_000, max_text_bytes=10**9, max_stream_bytes=10**9, cpu_seconds=1)
    started = time.perf_counter()
    with pytest.raises(PdfProblem) as e:
        extract_limited(data, "slow.pdf", roomy)
    assert e.value.code == "pdf_too_slow"
    assert e.value.user_message == ("Reading 'slow.pdf' took longer than the 1 second I allow for one PDF. "
                                    "Please send a smaller PDF.")
    assert time.perf_counter() - started < 30  # the OS limit ends it (a guard, not a benchmark; the host is shared)


def test_a_damaged_pdf_is_a_clear_sentence_from_the_child():
    with pytest.raises(PdfProblem) as e:
        extract_limited(b"%PDF-1.4\n" + b"\x00garbage" * 100, "broken.pdf", PdfLimits())
    assert e.value.code in ("corrupt_pdf", "bad_pdf") and "Traceback" not in e.value.user_message


def test_pages_per_day_per_student_says_when_to_try_again_and_indexes_nothing(home):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Attachment, Turn

    services = Services(load(home=home, backend="local", upload_pages_per_day=3))
    router = Router(services)

    def send(conversation: str, user: str, name: str, data: bytes):
        return router.handle(Turn(conversation=conversation, user=user, attachments=(
            Attachment(name=name, mime="application/pdf", data=data, size=len(data)),)))

    from bot.roles import owner_of

    zebras = pages_pdf(["The plains zebra lives in herds on the grasslands.", "Its stripes confuse biting flies."])
    giraffes = pages_pdf(["The giraffe is the tallest living animal on land.", "It eats the leaves of acacia trees."])
    assert "for this conversation only" in send("pd-1", "T1:U1", "a.pdf", zebras).text
    refused = send("pd-2", "T1:U1", "b.pdf", giraffes)  # 2 + 2 > 3 pages today, though in another conversation
    assert refused.state == "failed" and refused.error == "pdf_not_added"
    assert "It has 2 pages, more than are left of the 3 pages I read per student per day" in refused.text
    assert "try again in" in refused.text and "Traceback" not in refused.text
    assert all("b.pdf" not in p.source for p in services.kb.search("tallest giraffe", 3, owner=owner_of("pd-2")))
    assert "for this conversation only" in send("pd-3", "T1:U2", "b.pdf", giraffes).text  # another student
    assert router.handle(Turn(conversation="pd-2", user="T1:U1", text="hello")).error is None  # nothing lost


def test_the_upload_queue_runs_one_job_at_a_time_per_user_and_others_meanwhile():
    from bot.uploads import UploadQueue

    queue = UploadQueue(workers=2)
    running: dict[str, int] = {"alice": 0}
    overlap: list[int] = []
    order: list[str] = []
    release = threading.Event()
    lock = threading.Lock()

    def alice_job(i: int):
        def run():
            with lock:
                running["alice"] += 1
                overlap.append(running["alice"])
            if i == 0:
                release.wait(10)  # a big upload
            with lock:
                order.append(f"alice-{i}")
                running["alice"] -= 1
            return i
        return run

    futures = [queue.submit("alice", alice_job(i)) for i in range(3)]
    bob = queue.submit("bob", lambda: "bob done")
    assert bob.result(timeout=10) == "bob done"  # not behind alice's big upload
    assert not futures[0].done()
    release.set()
    assert [f.result(timeout=10) for f in futures] == [0, 1, 2]
    assert order == ["alice-0", "alice-1", "alice-2"] and max(overlap) == 1  # in order, never two at once
    failing = queue.submit("carol", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=10)
    assert queue.submit("carol", lambda: "next").result(timeout=10) == "next"  # a failure does not stall the user
