"""The sample course: our Markdown notes in kb/sample_course/ built into PDFs (fpdf2), byte-for-byte
reproducible so re-ingesting them is a no-op."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from bot.errors import missing_extra

SOURCE = Path(__file__).parent / "sample_course"
COURSE_TITLE = "coursebot sample course: AWS AI services"
_FIXED_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)  # fixed, so the PDF bytes never change


def markdown_files() -> list[Path]:
    return sorted(SOURCE.glob("*.md"))


def _latin1(text: str) -> str:
    # the PDF core fonts are Latin-1; our notes are plain English, so fold the few typographic characters
    table = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2022": "-"}
    text = "".join(table.get(ch, ch) for ch in text)
    return text.encode("latin-1", "replace").decode("latin-1")


def render(markdown: str) -> bytes:
    """A PDF of a small Markdown subset (# title, ## headings, paragraphs), with running header/footer."""
    try:
        from fpdf import FPDF
    except ImportError as e:  # pragma: no cover - part of the kb extra
        raise missing_extra("kb", "fpdf2", "Building the sample course")

    class CoursePdf(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 8, COURSE_TITLE, align="R")
            self.ln(10)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = CoursePdf(format=(148, 210))  # A5, given in mm
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_margins(16, 14, 16)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    # headings are their own blocks even without a blank line after them
    markdown = re.sub(r"^(#{1,2} .*)$", r"\n\1\n", markdown.strip(), flags=re.M)
    for block in re.split(r"\n\s*\n", markdown.strip()):
        block = _latin1(" ".join(line.strip() for line in block.splitlines() if line.strip()))
        if not block:
            continue
        if block.startswith("# "):
            pdf.set_title(block[2:])
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 8, block[2:], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif block.startswith("## "):
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(0, 6, block[3:], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        else:
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, block, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())


def build(out_dir: str | Path) -> list[Path]:
    """Write one PDF per Markdown note into ``out_dir`` (rewritten only when the bytes differ)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for md in markdown_files():
        target = out_dir / (md.stem + ".pdf")
        data = render(md.read_text(encoding="utf-8"))
        if not target.exists() or target.read_bytes() != data:
            tmp = target.with_suffix(".pdf.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        paths.append(target)
    return paths
