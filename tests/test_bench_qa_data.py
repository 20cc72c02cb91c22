"""The labelled QA sets of `coursebot bench kb`: well formed, and every key fact is on the page it names.

A fact that is not on its page makes a split's hit@k and key-fact figures wrong without anything failing
(a page list numbered by position among the pages with text, not by PDF page, once did exactly that)."""
import json
from collections import Counter

import pytest

from bot.bench import kb as bench
from kb import pdf
from tests.conftest import require_engine

SPLITS = sorted(p.name[3:-6] for p in bench.DATA.glob("qa_*.jsonl")
                if not p.name.startswith(("qa_routing", "qa_overview")))


def test_every_split_is_well_formed_and_ids_are_unique_across_splits():
    seen = Counter()
    for split in SPLITS:
        items = bench.load_qa(split)
        assert items, split
        for it in items:
            seen[it["id"]] += 1
            assert isinstance(it["question"], str) and it["question"].strip(), it
            assert isinstance(it.get("type", ""), str), it
            if it.get("answerable", True):
                assert it["source"] in bench.CORPUS, it
                assert it["pages"] and all(isinstance(p, int) and p >= 1 for p in it["pages"]), it
                assert it["facts"] and all(isinstance(f, str) and f.strip() for f in it["facts"]), it
            else:
                assert not it.get("source") and not it.get("pages") and not it.get("facts"), it
    assert [i for i, n in seen.items() if n > 1] == []
    assert set(bench.HELD_OUT) <= set(SPLITS)


def test_the_pdfs_reserved_for_acceptance_are_in_no_split_and_not_in_the_corpus():
    reserved = ("R-FAQ.pdf", "R-data.pdf")
    assert not set(reserved) & set(bench.CORPUS)
    assert not any(p.endswith(reserved) for paths in bench.CORPUS.values() for p in paths)
    for split in SPLITS:
        assert not {it.get("source") for it in bench.load_qa(split)} & set(reserved), split


@pytest.fixture(scope="module")
def page_texts():
    found = bench.corpus()
    missing = sorted(set(bench.CORPUS) - set(found))
    require_engine("the bench's corpus PDFs", not missing,
                   f"{', '.join(missing)} missing: `make test` installs the Debian packages {bench.PACKAGES}")
    return {name: {p.number: bench._norm(p.text) for p in pdf.extract(path.read_bytes(), name)}
            for name, path in found.items()}


@pytest.mark.parametrize("split", SPLITS)
def test_every_key_fact_is_on_a_page_its_question_names(split, page_texts):
    wrong = []
    for it in bench.load_qa(split):
        if not it.get("answerable", True):
            continue
        pages = page_texts[it["source"]]
        on = " ".join(pages.get(p, "") for p in it["pages"])
        wrong += [(it["id"], f) for f in it["facts"] if bench._norm(f) not in on]
    assert wrong == []
