"""Hostile PDFs built in raw PDF syntax, fast: many pages, or a small file holding a huge text."""

from __future__ import annotations

import zlib


def raw_pdf(pages: int, text: bytes = b"Hello", *, repeat: int = 1, compress: bool = True) -> bytes:
    """A valid PDF of ``pages`` pages, each showing ``text`` * ``repeat`` (Flate-compressed content)."""
    content = b"BT /F1 12 Tf 72 720 Td (" + text * repeat + b") Tj ET"
    stream = zlib.compress(content, 9) if compress else content
    filt = b"/Filter /FlateDecode " if compress else b""
    objects: list[bytes] = []
    kids = b" ".join(f"{5 + i} 0 R".encode() for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"<< /Type /Pages /Count %d /Kids [" % pages + kids + b"] >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(b"<< " + filt + b"/Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    objects.extend([page] * pages)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def many_pages_pdf(pages: int = 3000) -> bytes:
    return raw_pdf(pages, b"A page of a very long book. ")


def huge_text_pdf(megabytes: int = 70, pages: int = 10) -> bytes:
    """A small file (Flate compresses repeated text ~1000x) whose pages hold ``megabytes`` MB of text in all."""
    line = b"The quick brown fox jumps over the lazy dog. "
    return raw_pdf(pages, line, repeat=megabytes * 1_000_000 // pages // len(line))
