"""Questions in other languages, word by word in English: the FreeDict reader, its lookup table, and the
local KB answering a Spanish or German question from an English PDF."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from conftest import require_engine

from bot.local import translation
from bot.local.translation import Translator

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(n: int) -> str:
    out = ""
    while True:
        out = B64[n % 64] + out
        n //= 64
        if not n:
            return out


def write_dictionary(folder: Path, code: str, entries: dict[str, str]) -> None:
    """A dictd dictionary as FreeDict ships it: a tab-separated index and the gzipped entries."""
    data, index = b"", []
    for head, body in entries.items():
        entry = f"{head} /x/\n{body}\n".encode()
        index.append(f"{head}\t{_b64(len(data))}\t{_b64(len(entry))}")
        data += entry
    (folder / f"freedict-{code}-eng.index").write_text("\n".join(sorted(index)) + "\n", encoding="utf-8")
    (folder / f"freedict-{code}-eng.dict.dz").write_bytes(gzip.compress(data))


SPANISH = {
    "archivo": "archive, file, records",
    "función": "function, job\n   Synonyms: {papel}",
    "exportar": "export",
    "paquete": "packet, parcel, package",
    "oculto": "hidden, secret",
    "luz": "light",
}
GERMAN = {
    "Datei": "<fem, n, sg>\ncomputer file, file",
    "Dateien": "<pl>\nfiles, computer files",
    "Definition": "<fem, n, sg>\ndefinition",
    "Speicher": "<masc, n, sg>\nattic <n>, loft\n\n<masc, n, sg>\nmemory, storage",
}


@pytest.fixture
def dicts(tmp_path):
    folder, cache = tmp_path / "dictd", tmp_path / "cache"
    folder.mkdir()
    write_dictionary(folder, "spa", SPANISH)
    write_dictionary(folder, "deu", GERMAN)
    return folder, cache


def test_only_installed_languages_are_offered_and_others_are_left_alone(dicts):
    t = Translator(*dicts)
    assert t.languages() == ["de", "es"]
    assert t.english("Comment exporter une fonction ?", "fr") is None


def test_words_become_their_glosses_and_names_numbers_and_commands_stay(dicts):
    t = Translator(*dicts)
    english = t.english("¿Cómo exporto una función oculta del paquete utils en R 4.3 con base::get?", "es")
    words = english.split()
    assert words[0] == "how"  # the question word decides what kind of answer is wanted
    assert {"function", "job", "hidden", "secret", "packet", "parcel"} <= set(words)  # two senses a word
    assert {"utils", "R", "4.3", "base::get"} <= set(words)  # names, numbers and code as written
    assert not {"una", "del", "en", "con"} & set(words)  # articles and prepositions are no topic


def test_with_the_course_vocabulary_a_word_keeps_the_senses_the_course_uses(dicts):
    course = {"package", "function", "hidden", "file"}
    t = Translator(*dicts)
    english = t.english("¿Cómo exporto una función oculta del paquete?", "es", known=lambda g: g in course)
    assert english.split() == ["how", "function", "hidden", "package"]
    # a word none of whose senses the course uses, or that no dictionary holds, is left out
    assert t.english("luz parpadeante del archivo", "es", known=lambda g: g in course) == "file"
    # one sense for answering, two for searching
    assert t.english("paquete", "es", glosses=1) == "packet"


def test_german_compounds_and_names_glued_to_a_word_are_read_in_parts(dicts):
    t = Translator(*dicts)
    assert t.english("Definitionsdateien", "de", glosses=1) == "definition files"
    assert t.english("Definitionsdateien", "de") == "definition files definition computer files"
    assert t.english("ASN.1-Dateien", "de", glosses=1) == "ASN.1 files"
    assert t.english("Wo ist der Speicher?", "de").split() == ["where", "attic", "loft"]
    assert t.english("Speicher", "de", known=lambda g: g == "memory") == "memory"  # a later sense the course uses


def test_the_lookup_table_is_built_once_and_reused(dicts, monkeypatch):
    folder, cache = dicts
    Translator(folder, cache).prepare()
    tables = sorted(p.name for p in cache.glob("*.sqlite"))
    assert len(tables) == 2

    def rebuild(*args):
        raise AssertionError("the table was built again")

    monkeypatch.setattr(translation.Dictionary, "_build", rebuild)
    assert Translator(folder, cache).english("archivo", "es") == "archive file"
    assert sorted(p.name for p in cache.glob("*.sqlite")) == tables


def test_the_installed_freedict_dictionaries_read_every_language():
    t = translation.get_translator()
    require_engine("the FreeDict dictionaries", t.languages() == ["de", "es", "fr", "it", "pt"],
                   "`make install` installs dict-freedict-{deu,fra,spa,por,ita}-eng")
    assert "file" in t.english("Wo liegt die Datei?", "de").split()
    assert "file" in t.english("Où est le fichier ?", "fr").split()
    assert t.english("¿Dónde está el archivo?", "es").split()[:2] == ["where", "archive"]
    assert t.english("Dove si trova il file?", "it").split()[0] == "where"
    assert t.english("Onde fica o arquivo?", "pt").split()[0] == "where"


COURSE_MD = """# Packaging notes

## Exporting functions
A function that is not exported stays hidden inside its package. Call it with the triple colon operator, as in pkg:::f.

## Data files
Data files go in the data directory of the package and are loaded with the data function.
"""


@pytest.fixture(scope="module")
def course_kb(tmp_path_factory):
    from bot.services import Services
    from bot.settings import load
    from kb.local import build
    from kb.sample import render

    t = translation.get_translator()
    require_engine("the FreeDict dictionaries", {"es", "de"} <= set(t.languages()),
                   "`make install` installs dict-freedict-spa-eng and dict-freedict-deu-eng")
    home = tmp_path_factory.mktemp("kbhome")
    settings = load(home=home, backend="local")
    kb = build(settings, Services(settings))
    docs = tmp_path_factory.mktemp("pdfs")
    (docs / "packaging.pdf").write_bytes(render(COURSE_MD))
    assert [r.status for r in kb.ingest([str(docs)])] == ["added"]
    return kb


def test_a_spanish_question_is_answered_from_the_english_pdf(course_kb):
    a = course_kb.ask("hola, ¿cómo llamo una función oculta que no está exportada en un paquete?")
    assert a.found and ":::" in a.text and a.citations[0].source == "packaging.pdf"


def test_an_english_question_is_searched_exactly_as_asked(course_kb):
    question = "How do I call a function that is not exported?"
    assert course_kb.in_english(question) == question
    assert course_kb.ask(question).found


def test_a_question_in_another_language_the_course_does_not_answer_still_abstains(course_kb):
    a = course_kb.ask("¿Quién ganó la copa del mundo de fútbol en 2018?")
    assert not a.found and a.text.startswith("That's not in the course PDFs.")


def test_a_short_question_the_identifier_is_unsure_of_counts_as_foreign_when_most_words_are_not_english():
    from kb.local import question_language

    assert question_language("¿Cuál es el tamaño máximo de un objeto en S3?") == "es"
    assert question_language("¿Qué formatos de audio devuelve Polly?") == "es"
    assert question_language("how do i decode a DER encoded certificate in python using pyasn1") is None
    assert question_language("What is the maximum size of an object in S3?") is None


@pytest.mark.parametrize("question", ["¿Qué temas cubre el curso?", "De quoi parle ce cours ?",
                                      "Welche Themen behandelt der Kurs?", "Di cosa parla il corso?"])
def test_what_the_course_covers_asked_in_another_language_gets_the_overview(course_kb, question):
    a = course_kb.ask(question)
    assert a.found and a.kind == "overview" and "packaging.pdf" in a.text


def test_a_foreign_question_about_the_subject_is_no_overview(course_kb):
    a = course_kb.ask("¿Dónde van los archivos de datos del paquete?")
    assert a.kind != "overview"


def test_search_and_the_routing_evidence_read_a_foreign_question_in_english_too(course_kb):
    question = "¿Dónde van los archivos de datos del paquete?"
    assert course_kb.search(question, 1)[0].source == "packaging.pdf"
    english = course_kb.relevance(course_kb.in_english(question))
    assert course_kb.relevance(question) == pytest.approx(english)


def test_a_dictionary_that_cannot_be_read_leaves_its_questions_as_asked(tmp_path):
    folder = tmp_path / "dictd"
    folder.mkdir()
    write_dictionary(folder, "fra", {"fichier": "file"})
    (folder / "freedict-fra-eng.dict.dz").write_bytes(b"not gzip at all")
    t = Translator(folder, tmp_path / "cache")
    assert t.prepare() == []
    assert t.english("Où est le fichier ?", "fr") == "where fichier"  # no gloss: as written


def test_the_reply_says_how_the_question_was_read_and_a_follow_up_in_the_same_language_keeps_its_context(
        course_kb, settings):
    from bot.router import Router
    from bot.services import Services
    from bot.turn import Turn

    router = Router(Services(settings, overrides={"kb": course_kb}))
    r = router.handle(Turn(conversation="es1", text="¿Cómo llamo una función oculta que no está exportada?"))
    assert r.intent == "AskCoursePdfs" and ":::" in r.text
    assert "You asked in Spanish" in r.text and "searched for \u201chow" in r.text and "answers come in English" in r.text
    # the conversation remembers the question as it was searched, so a follow-up adds to English words
    stored = router.services.conversations.load("es1").extra["kb_query"]
    assert "function" in stored and "funci\u00f3n" not in stored


def test_a_long_run_of_letters_costs_a_bounded_number_of_lookups(dicts, monkeypatch):
    """A German compound is split in two parts, the last maybe inflected: lookups grow with the length
    of the word, not exponentially (a pasted 60-letter string must not stall the reply)."""
    t = Translator(*dicts)
    d = t.dictionaries["de"]
    calls = []
    real = d.glosses
    monkeypatch.setattr(d, "glosses", lambda w: calls.append(w) or real(w))
    t.english("Wie " + "qwertzuiopasdfghjklyxcvbnm"[:39] + "?", "de")
    assert 0 < len(calls) <= 4 * 39
    calls.clear()
    t.english("x" * 5000, "de")
    assert calls == []  # longer than any headword: not looked up


def test_verb_forms_and_umlauts_typed_as_two_letters_find_their_headword(dicts, tmp_path):
    folder, cache = dicts
    write_dictionary(folder, "spa", {**SPANISH, "acceder": "access", "instalar": "install"})
    write_dictionary(folder, "deu", {**GERMAN, "prüfen": "check, test"})
    t = Translator(folder, tmp_path / "cache2")
    assert t.english("accedo", "es", glosses=1) == "access"  # first person -> the infinitive
    assert t.english("instalada", "es", glosses=1) == "install"  # a participle
    assert t.english("pruefen", "de", glosses=1) == "check"  # "ue" for "ü"


def test_the_answer_carries_the_english_reading_and_an_english_question_none(course_kb):
    a = course_kb.ask("¿Cómo llamo una función oculta que no está exportada?")
    assert a.read_as == course_kb.in_english("¿Cómo llamo una función oculta que no está exportada?", 1)
    assert a.to_dict()["read_as"] == a.read_as
    english = course_kb.ask("How do I call a function that is not exported?")
    assert english.read_as is None and "read_as" not in english.to_dict()
