"""What the offline KB answers with, over the sample course: the passage that answers, with the
answering sentence in bold and quoted in its citation; "not in the course PDFs" with the nearest
pages; the course overview from the documents' headings; "tell me more" continues the passage."""

from __future__ import annotations

import re

import pytest

from conftest import require_engine


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from bot.services import Services
    from bot.settings import load
    from kb.sample import build

    home = tmp_path_factory.mktemp("kbhome")
    services = Services(load(home=home, backend="local"))
    services.kb.ingest([str(p) for p in build(home / "sample")])
    return services.kb


def marked(text: str) -> list[str]:
    return re.findall(r"\*\*(.+?)\*\*", text)


@pytest.mark.parametrize("question,expected,source", [
    ("What is Amazon Polly?", "Amazon Polly converts written text into lifelike speech", "02-amazon-polly.pdf"),
    ("Which audio formats can Polly return?", "MP3, Ogg Vorbis or raw PCM", "02-amazon-polly.pdf"),
    ("What is Amazon Comprehend?", "natural language processing service", "04-amazon-comprehend.pdf"),
    ("How much does Rekognition cost?", "billed per image", "03-amazon-rekognition.pdf"),
    ("What is the maximum size of an S3 object?", "up to 5 TB", "10-amazon-s3.pdf"),
    ("How long can a Lambda function run?", "at most 15 minutes", "08-aws-lambda.pdf"),
])
def test_the_answering_sentence_is_marked_and_quoted_in_the_citation(kb, question, expected, source):
    answer = kb.ask(question)
    assert answer.found
    bold = marked(answer.text)
    assert bold and expected in bold[0], answer.text
    c = answer.citations[0]
    assert c.source == source and c.quote == bold[0]
    assert expected in c.passage and "**" not in c.passage
    assert answer.text.rstrip().endswith("[1]") or "[1]\n" in answer.text
    assert question.rstrip("?") not in answer.text  # the question is never restated as the answer


def test_the_passage_is_a_contiguous_window_of_the_page(kb):
    answer = kb.ask("How long can a Lambda function run?")
    passage = answer.citations[0].passage
    # the sentences around the answer, in the page's order, not a collage of sentences from elsewhere
    assert passage.index("A function can run for at most 15 minutes.") < passage.index("Memory can be set")
    assert "Lambda runs your code without servers" not in passage  # another section of the page


def test_off_topic_abstains_with_the_nearest_pages(kb):
    a = kb.ask("How do I configure Amazon Kinesis streams?")
    assert not a.found and a.citations == ()
    assert a.text.startswith("That's not in the course PDFs.")
    assert a.nearest and "Closest: " in a.text
    first = a.nearest[0]
    assert f"{first.source} p. {first.page}" in a.text and first.url.endswith(f"#page={first.page}")
    assert a.to_dict()["found"] is False and a.to_dict()["nearest"][0]["source"] == first.source
    assert not kb.ask("Who won the football world cup in 1998?").found


@pytest.mark.parametrize("question", ["What does the course cover?", "which documents are available for this course?",
                                      "give me an overview of the course"])
def test_course_overview_lists_every_document_with_its_headings(kb, question):
    a = kb.ask(question)
    assert a.found and a.kind == "overview"
    assert a.text.startswith("The course has 10 PDFs:")
    assert "- **08-aws-lambda.pdf** \u2014 AWS Lambda: serverless functions (2 pages): " in a.text
    assert "Limits (p. 1)" in a.text and "Cold starts (p. 2)" in a.text
    assert len(a.citations) == 10 and all(c.url and c.url.endswith("#page=1") for c in a.citations)


def test_overview_of_one_lecture_by_number_by_name_and_this_pdf(kb):
    lecture = kb.ask("what topics are in lecture 3?")
    assert lecture.text.splitlines()[0].startswith("**03-amazon-rekognition.pdf** \u2014 Amazon Rekognition")
    assert "- Celebrity recognition and collections (p. 1)" in lecture.text
    assert "- Pricing (p. 2)" in lecture.text
    assert {c.source for c in lecture.citations} == {"03-amazon-rekognition.pdf"}
    pricing = next(c for c in lecture.citations if c.quote == "Pricing")
    assert pricing.page == 2 and pricing.url.endswith("#page=2")
    by_name = kb.ask("what is 10-amazon-s3.pdf about?")
    assert by_name.citations[0].source == "10-amazon-s3.pdf"
    this = kb.ask("what is this PDF about?", about="05-amazon-bedrock.pdf")
    assert this.citations[0].source == "05-amazon-bedrock.pdf" and "Guardrails" in this.text


def test_tell_me_more_gives_the_next_passage(kb):
    first = kb.ask("What is Amazon Polly?")
    assert first.more
    more = kb.ask("tell me more", more=first.more)
    assert more.found and more.citations[0].source == "02-amazon-polly.pdf"
    shown = first.citations[0].passage
    nxt = more.citations[0].passage
    assert nxt and nxt not in shown and "Polly offers dozens of voices" in nxt
    again = kb.ask("tell me more", more=more.more)
    assert again.citations[0].passage != nxt


def test_answer_kind_decides_which_sentence_answers():
    from kb.extractive import _has_answer_kind, question_type

    assert question_type("How many elements does it have?") == "how_many"
    assert question_type("Which function fits linear models?") == "which"
    assert question_type("Why does R copy on modify?") == "why"
    assert question_type("Is R free software?") == "yes_no"
    assert _has_answer_kind("how much does it cost?", "You pay for the compute time.")
    assert not _has_answer_kind("how much does it cost?", "The payload is limited to 6 MB.")
    assert _has_answer_kind("Which function fits linear models?", "The basic function is lm().")
    assert not _has_answer_kind("Which function fits linear models?", "Linear models are fitted easily.")
    assert _has_answer_kind("How many arguments does it take?", "It takes three arguments.")
    assert _has_answer_kind("What is the maximum line length?", "Lines are limited to 4095 bytes.")


def test_overview_questions_are_recognised():
    from kb.extractive import is_more, is_overview, overview_target

    for q in ("What does the course cover?", "what is this PDF about?", "what topics are in lecture 3?",
              "give me an overview of the libtasn1 manual", "which documents are available for this course?"):
        assert is_overview(q), q
    for q in ("What is Amazon Polly?", "How do I create a bucket?", "what is a data frame?",
              # files and documents of the subject, not the course's
              "will an upgrade overwrite my config? how do i see which files are protected",
              "which files does dpkg install for a package", "what documents does R CMD check read",
              "which files do i have to edit to change the font", "what files are there in a .deb package",
              "which files are included in a package", "what files are available on the mirrors"):
        assert not is_overview(q), q
    for q in ("what documents do you have?", "which pdfs are loaded for this class", "what pdfs are there",
              "which files does the course have", "which pdfs are loaded in here", "what files do you know about"):
        assert is_overview(q), q
    names = ["01-intro.pdf", "02-lex.pdf", "03-polly.pdf"]
    assert overview_target("what topics are in lecture 3?", names) == "03-polly.pdf"
    assert overview_target("what does the course cover?", names) is None
    assert is_more("tell me more") and is_more("Go on.") and not is_more("tell me more about S3 pricing")


def test_a_question_in_parts_is_focused_by_its_last_asking_part():
    from kb.extractive import _echoes, _has_answer_kind

    q = "are packages byte-compiled by default? since which version?"
    answer = "As from R 3.6.0, all packages are by default byte-compiled."
    assert _has_answer_kind(q, answer)
    assert not _has_answer_kind(q, "The ByteCompile field controls if the code is byte-compiled: the default is to.")
    assert not _echoes(q, answer)  # it repeats the question's words but adds the version asked for
    assert _echoes("are packages byte-compiled by default?", "Packages are byte-compiled by default")
    q = "Can the MIME type be read from an extended attribute? which attribute name?"
    assert _has_answer_kind(q, "An implementation MAY also get the MIME type from the user.mime_type extended attribute.")
    assert not _has_answer_kind(q, "Since many filesystems do not support them, implementations MUST NOT rely on it.")


def test_code_shaped_answers_for_which_questions():
    from kb.extractive import _has_answer_kind

    q = "Which environment variable sets my personal library?"
    assert _has_answer_kind(q, "The default is given by the environment variable R_LIBS_USER.")
    assert not _has_answer_kind(q, "A library is a directory containing installed packages.")
    q = "what operator does real matrix multiplication?"
    assert _has_answer_kind(q, "The operator %*% is used for matrix multiplication.")
    assert not _has_answer_kind(q, "An n by 1 matrix may be used as an n-vector.")


class _Hit:
    def __init__(self, chunk_id, text, page=1, dense=0.6, source="notes.pdf"):
        self.chunk_id = self.id = chunk_id
        self.text, self.page, self.dense, self.source = text, page, dense, source
        self.score, self.context, self.blob_key = dense, "", None


def _doc_freq(counts, total=2000):
    return lambda words: ({w: counts.get(w, 50) for w in words}, total)


def test_abstains_when_a_rare_or_unseen_term_of_the_question_is_missing():
    from kb.extractive import has_evidence

    hits = [_Hit(1, "The clustering of objects is described by their means and variances.")]
    # "k-means" is one term, in no PDF: the passage about "means" and "clustering" does not answer
    assert not has_evidence("How do I do k-means clustering in R?", hits, _doc_freq({"clustering": 4, "k-means": 0}))
    assert has_evidence("How is clustering described?", hits, _doc_freq({"clustering": 4}))
    # a compound is found in any inflection of its last part
    hits = [_Hit(1, "Cross-building is not possible: R must be built on the platform it will run on.")]
    assert has_evidence("is it possible to cross-build R for another platform?", hits, _doc_freq({"cross-build": 2}))
    hits = [_Hit(1, "Run the current line of the script from the keyboard with the source command.")]
    rare = _doc_freq({"rstudio": 1, "shortcut": 20, "keyboard": 30})
    assert not has_evidence("What's the RStudio keyboard shortcut to run the current line?", hits, rare)
    hits.append(_Hit(2, "RStudio has a keyboard shortcut to run the current line."))
    assert has_evidence("What's the RStudio keyboard shortcut to run the current line?", hits, rare)


def test_the_sentence_after_the_marked_one_is_shown():
    from kb.extractive import _Passage, _split, _window

    lead = ("Information found in a directory is added to the information found in previous directories, "
            "except where a definition is overwritten.")
    marked_sentence = ("Each application that wishes to contribute to the MIME database will install a single XML "
                       "file, named after the application, into one of the three packages directories (depending "
                       "on where the user requested the application be installed, and on the installation prefix that "
                       "the application was configured with at build time).")
    after = ("After installing, uninstalling or modifying this file, the application MUST run the "
             "update-mime-database command, which is provided by the freedesktop.org shared database package, "
             "with the directory as its argument, so that the caches and the generated files of every "
             "application are rebuilt at once.")
    text = f"{lead} {marked_sentence} {after} Another sentence follows here."
    p = _Passage(_Hit(1, text), _split(text))
    body, quote, _, _ = _window(p, [1], None)
    assert len(lead) < 150 and len(marked_sentence) > 300 and len(after) > 290
    assert quote == marked_sentence and f"**{marked_sentence}**" in body
    assert "update-mime-database command" in body


def test_the_passage_continues_across_a_page_break_past_a_repeated_boundary_sentence():
    from kb.extractive import _Passage, _split, _window

    c1 = _Hit(1, "Character vectors are used as plot labels. The paste() function takes an arbitrary number of "
                 "arguments and concatenates them one by one into character strings.", page=17)
    c2 = _Hit(2, "The paste() function takes an arbitrary number of arguments and concatenates them one by one "
                 "into character strings. The arguments are by default separated in the result by a single blank "
                 "character,", page=17)
    c3 = _Hit(3, "but this can be changed by the named argument, sep=string, which changes it to string, possibly "
                 "empty. Index vectors come next.", page=18)
    following = {1: [c2], 2: [c3], 3: []}
    p = _Passage(c1, _split(c1.text))
    body, _, last, _ = _window(p, [1], lambda cid: following[cid])
    assert "single blank character, but this can be changed by the named argument, sep=string" in body
    assert last is c3


def test_an_overview_names_a_document_by_the_start_of_its_title():
    from kb.extractive import overview_target

    names = ["R-admin.pdf", "R-intro.pdf", "notes.pdf"]
    titles = ["R Installation and Administration Version 4.2.2 Patched (2022-11-10)",
              "An Introduction to R Notes on R: A Programming Environment for Data Analysis and Graphics", None]
    assert overview_target("Can you summarise what An Introduction to R teaches?", names, titles=titles) == "R-intro.pdf"
    assert overview_target("what does the R installation and administration manual cover?", names,
                           titles=titles) == "R-admin.pdf"
    assert overview_target("what does the course cover?", names, titles=titles) is None


def test_a_list_in_the_passage_stays_a_list():
    from kb.extractive import _Passage, _split, _window

    text = ("Variables you might want to set include R_PAPERSIZE. \u2022 Then R searches for the site-wide startup "
            "profile unless --no-site-file was given. The name of this file is taken from R_PROFILE. "
            "\u2022 Then R searches for a user profile.")
    p = _Passage(_Hit(1, text), _split(text))
    body, _, _, _ = _window(p, [0], None)
    assert body.splitlines() == [
        "**Variables you might want to set include R_PAPERSIZE.**",
        "\u2022 **Then R searches for the site-wide startup profile unless --no-site-file was given.** "
        "The name of this file is taken from R_PROFILE.",
        "\u2022 Then R searches for a user profile."]


class _EvidenceHit:
    def __init__(self, text: str, dense: float = 0.6):
        self.text, self.dense, self.source, self.context = text, dense, "R-admin.pdf", ""


def _counted(counts: dict[str, int], total: int = 10_000):
    return lambda words: ({w: counts.get(w, 50) for w in words}, total)


def test_a_missing_everyday_word_does_not_make_an_answerable_question_abstain():
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("Two graphics subsystems actually exist in R: the base graphics system and grid.")]
    question = "how many graphics subsystems actually exist at the moment"
    df = _counted({"moment": 1, "subsystems": 10})
    # "moment" is in one passage of the course and not in these: an everyday word, not another topic
    assert has_evidence(question, hits, df, is_word=lambda w: w in {"moment", "actually", "exist"})
    # a name the passages lack (a product, a package) still means the course does not answer
    assert not has_evidence("how do I install numpy graphics subsystems with pip", hits,
                            _counted({"numpy": 0, "pip": 0, "subsystems": 10}), is_word=lambda w: w == "pip")


def test_a_question_read_from_another_language_weighs_a_missing_dictionary_sense_less():
    from bot.local.embedding import get_embedder
    from kb.extractive import has_evidence

    e = get_embedder()
    hits = [_EvidenceHit("Users can have one or more libraries, normally specified by the environment variable R_LIBS_USER.")]
    # a question read word by word, with a dictionary's other sense ("staff" for a "personal" library) that no
    # passage here holds; few of the reading's words are the manual's
    read = "what variable environment indicates my library staff for packages installed"
    df = _counted({"staff": 1})
    trace: dict = {}
    assert not has_evidence(read, hits, df, is_word=e.is_word, embedder=e, query_vec=e.embed_one(read), trace=trace)
    assert trace["unseen"] == ["staff"] and 0.33 <= trace["cover"] < 0.4
    assert has_evidence(read, hits, df, is_word=e.is_word, embedder=e, query_vec=e.embed_one(read), read=True)
    # a name the passages lack still says the course does not answer
    named = "what variable environment indicates my library conda for packages installed"
    assert not has_evidence(named, hits, _counted({"conda": 0}), is_word=e.is_word, embedder=e,
                            query_vec=e.embed_one(named), read=True)


def test_a_misspelt_question_word_is_not_a_missing_topic():
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("The environment variable LANGUAGE takes priority when choosing the language of messages.")]
    df = _counted({"wich": 0, "priority": 13})
    assert has_evidence("wich environment variable takes priority for choosing the language of messages", hits, df)
    assert not has_evidence("which pandas variable takes priority for choosing the language of messages", hits,
                            _counted({"pandas": 0, "priority": 13}))


def test_the_embedder_tells_everyday_words_from_names():
    from bot.local.embedding import get_embedder

    e = get_embedder()
    assert e.is_word("moment") and e.is_word("Bigger")
    assert not e.is_word("numpy") and not e.is_word("roxygen2") and not e.is_word("wich")


def test_a_short_statement_sharing_a_few_of_the_question_words_answers_it():
    from kb.extractive import _echoes

    assert not _echoes("does coercion keep attributes like names on an object?", "Coercion drops all attributes.")
    assert _echoes("does coercion drop attributes?", "Coercion drops attributes")


def test_lines_of_code_stay_with_the_sentence_they_continue():
    from kb.extractive import _split

    text = ("3.2 Checking the build\nYou can test a build by running\nmake check\nOther levels of checking are\n"
            "make check-devel\nfor a more thorough check of the R functionality, and\nmake check-all\n"
            "for both check-devel and check-recommended. If a test fails, look at the file.")
    s = _split(text)
    assert s[0].heading and s[0].text == "3.2 Checking the build"
    assert not s[1].heading and s[1].text.startswith("You can test") and s[1].text.endswith("check-recommended.")
    assert s[2].text == "If a test fails, look at the file."
    text = ("Usage: asn1Parser [OPTION] FILE\nMandatory arguments are mandatory for short options too. "
            "-c, --check checks the syntax only\n-o, --output=FILE output file\n3.2 Invoking asn1Coding\nIt codes.")
    s = _split(text)
    assert "-c, --check checks the syntax only\n-o, --output=FILE output file" in s[1].text
    assert not any(x.heading for x in s[:2]) and s[2].heading and s[2].text == "3.2 Invoking asn1Coding"
    # a title run into the end of a sentence closes it: the next function's signature is not part of it
    text = ("Returns: ASN1_SUCCESS if name is not a valid element. asn1 read node value\n"
            "[Function]int asn1_read_node_value (asn1 node const node)")
    assert [x.text for x in _split(text)][-1].startswith("[Function]")


def test_a_leading_clause_is_not_the_question():
    from kb.extractive import question_type

    assert question_type("When you attach() a data frame, where on the search path does it go?") != "when"
    assert question_type("If I build R from source, how many packages are installed?") == "how_many"
    assert question_type("When was the first release?") == "when"
    assert question_type("my C loop runs for minutes - how can I let the user interrupt it?") == "how_to"
    assert question_type("on windows which make target runs the checks?") == "which"


def test_names_with_underscores_match_only_themselves_and_a_value_is_asked_for():
    from kb.extractive import _has_answer_kind, _key

    assert _key("_r_check_timings_") != _key("_r_check_vc_dirs_") and _key("names") == _key("named")
    q = "what value is _R_CHECK_TIMINGS_ set to in the submission checks"
    assert _has_answer_kind(q, "_R_CHECK_TIMINGS_=10")
    q = "what does asn1_get_length_der return when the length is indefinite"
    assert _has_answer_kind(q, "Returns: the decoded length, or -1 on indefinite length.")
    assert not _has_answer_kind(q, "Extract a length field from the encoded data.")
    assert _has_answer_kind("how long did foo(pi) take?", "Running foo(pi) took around 22 microseconds.")
    assert not _has_answer_kind(q, "Several environment variables can be used to set timeouts for the checks.")


class _MarkerEmbedder:
    """Sentences holding the marker word point where the question points; every other sentence elsewhere."""

    dim = 2

    def embed(self, texts):
        import numpy as np

        return np.array([[1.0, 0.0] if "verbatim" in t or "?" in t else [0.0, 1.0] for t in texts], dtype=np.float32)

    def embed_one(self, text):
        return self.embed([text])[0]


def test_every_reranked_passage_has_a_sentence_embedded():
    from kb.extractive import answer

    q = "How are the notes printed in the course handbook?"
    top = _Hit(1, "Printing is done verbatim by the print server.", dense=0.7)
    # five passages whose sentences repeat the question's words but do not answer: they would fill
    # every embedded slot if the slots went to the sentences with the most words in common
    others = [_Hit(i, " ".join(f"The course handbook notes are printed with care in part {i}.{j}." for j in range(3)), dense=0.6)
              for i in range(2, 7)]
    a = answer(q, q, [top] + others, _MarkerEmbedder(), lambda key, page: None)
    assert a.found and "**Printing is done verbatim by the print server.**" in a.text


def test_a_boundary_sentence_that_opens_code_on_the_next_page_is_shown_once():
    from kb.extractive import _Passage, _split, _window

    c1 = _Hit(1, "Subsetting drops most attributes. Coercion drops all attributes. For example:", page=14)
    c2 = _Hit(2, "For example: > x <- structure(1:8, names=letters[1:8])\n> x[]\na b c d e f g h", page=15)
    p = _Passage(c1, _split(c1.text))
    body, _, last, _ = _window(p, [1], lambda cid: {1: [c2], 2: []}[cid])
    assert body.count("For example:") == 1 and "> x <- structure(1:8" in body and last is c2


def test_asking_for_a_difference_in_slang_names_no_topic():
    """"whats the diff between X and Y" asks about X and Y: "diff" (or "vs") is no term the passage must hold."""
    from kb.extractive import key_terms

    for q in ("whats the diff between errorcheck and errorcode", "errorcheck vs errorcode", "how do errorcheck and errorcode differ"):
        terms = key_terms(q)
        assert terms and not {"diff", "vs", "differ", "whats"} & terms, (q, terms)


def test_contractions_typed_without_apostrophes_are_no_rare_terms():
    """"i dont want caml to see it" must not make the passage hold "dont" (a rare name to the index)."""
    from kb.extractive import key_terms

    for q in ("how do i free it so i dont leak memory", "my example doesnt compile, is something wrong",
              "i want to pick the names myself", "why didn't my loop stop"):
        terms = key_terms(q)
        assert terms and not {"dont", "doesnt", "myself", "didn"} & terms, (q, terms)


def test_a_missing_word_that_hardly_moves_the_question_is_filler_not_a_topic():
    """Chat around a question ("super slow", "lol") names nothing the course must hold: with the embedder,
    a missing term whose removal leaves the question's meaning where it was asks for nothing; a missing
    term the question is about ("julia") still means the course does not answer."""
    from bot.local.embedding import get_embedder
    from kb.extractive import has_evidence

    embedder = get_embedder()
    hits = [_EvidenceHit("Use R CMD check --timings to record how long the examples of each help page take to run; "
                         "the timings are written to the check directory.")]
    df = _counted({"super": 0, "lol": 0, "julia": 0, "examples": 40, "timings": 3})
    chatty = "r cmd check is super slow on the examples lol how do i see the timings"
    assert not has_evidence(chatty, hits, df)  # without the embedder the missing words count against it
    assert has_evidence(chatty, hits, df, is_word=embedder.is_word, embedder=embedder)
    assert has_evidence("r cmd check is slow on the examples esp the long ones lol how do i see the timings", hits,
                        _counted({"esp": 0, "lol": 0, "examples": 40, "timings": 3}), is_word=lambda w: False,
                        embedder=embedder)  # chat no vocabulary holds
    assert not has_evidence("how do i see the timings of julia examples in r cmd check", hits, df,
                            is_word=embedder.is_word, embedder=embedder)
    assert not has_evidence("how do i see the timings of numpy examples in r cmd check", hits,
                            _counted({"numpy": 0, "examples": 40, "timings": 3}), is_word=lambda w: False, embedder=embedder)
def test_terms_are_found_inside_the_letter_runs_of_a_pdf_that_lost_its_spaces():
    """Some PDFs place every glyph without a space ("Openquestions Onecansometimesrequire..."): the
    question's terms (and its acronyms, in capitals) are looked for inside those runs."""
    from kb.extractive import has_evidence, weighted_coverage

    glued = _EvidenceHit("6.2 Openquestions Onecansometimesrequiresomeopenquestionstobeaddedtothesubject. "
                         "Afterreadingthecopies,theteacherticksoneoftheboxestogradetheanswer. "
                         "ThevalueMSD(meansquaredeviation)isanindicationofthegoodframingofthemarks.")
    df = _counted({"graded": 0, "reading": 3, "teacher": 2, "msd": 0, "framing": 1})
    assert weighted_coverage("how are open questions graded after reading the copies", [glued.text], df) == 1.0
    assert has_evidence("what does MSD say about the framing of the marks", [glued], df)
    # a text with spaces is not searched inside its words: "reading" is not in "proofreadingtools"
    spaced = ("Use the proofreadingtools package for checks of a manual before it is printed. It has many options "
              "for spelling and grammar, and it reports each problem with its line and page numbers.")
    assert weighted_coverage("reading", [spaced], _counted({"reading": 3})) == 0.0
    # nor is a short term inside a run, unless it is an acronym in capitals
    assert weighted_coverage("ods export", [glued.text], _counted({"ods": 0, "export": 0})) == 0.0


class _Embedder:
    """Bag-of-words embedding over a fixed vocabulary: each word a direction, weighted; removing a
    light word barely moves the question."""

    def __init__(self, weights):
        self.vocab = sorted(weights)
        self.weights = weights

    def embed_one(self, text):
        import numpy as np

        words = re.findall(r"[a-z0-9]+", text.lower())
        v = np.array([self.weights[w] * words.count(w) for w in self.vocab], dtype=float) + 1e-9
        return v / np.linalg.norm(v)

    def embed(self, texts):
        import numpy as np

        return np.array([self.embed_one(t) for t in texts])


def test_a_missing_everyday_word_the_question_hardly_depends_on_is_no_key_term():
    """"what does completemulti *actually* do": the manual never says "actually", and the question's
    meaning does not depend on it; "how do I call *julia* functions" without "julia" is another question."""
    from kb.extractive import fillers, has_evidence

    e = _Embedder({"completemulti": 5.0, "actually": 0.3, "julia": 3.0, "functions": 1.0, "package": 1.0,
                   "call": 0.5, "do": 0.3, "set": 0.5})
    words = {"actually", "julia", "functions", "package", "set"}
    hits = [_EvidenceHit("completemulti: automatically adds a 'none of these answers are correct' choice.")]
    question = "what does completemulti actually do and why would i set it to 0"
    df = _counted({"completemulti": 16, "actually": 0, "set": 400}, total=234)
    assert fillers(question, ["actually"], e) == {"actually"}
    assert not has_evidence(question, hits, df, is_word=words.__contains__)  # without the embedder: abstains
    assert has_evidence(question, hits, df, is_word=words.__contains__, embedder=e)
    hits = [_EvidenceHit("Functions in a package are called with .Call from C code.")]
    julia = "how do i call julia functions from inside an R package"
    df = _counted({"julia": 0, "functions": 900, "package": 1500, "inside": 300}, total=10_000)
    assert fillers(julia, ["julia"], e) == set()
    assert not has_evidence(julia, hits, df, is_word=words.__contains__, embedder=e)


def test_spelling_stems_and_names_written_with_spaces_meet_the_manual():
    from kb.extractive import weighted_coverage

    # British spelling, an inflection, and a name whose underscores the PDF shows as spaces
    text = "In the exported file the following colors are used; grading is done per question by asn1 delete structure."
    df = _counted({"colours": 0, "graded": 2, "asn1_delete_structure": 0})
    assert weighted_coverage("what do the colours mean", [text], df) == 1.0
    assert weighted_coverage("how is it graded", [text], df) == 1.0
    assert weighted_coverage("when do i call asn1_delete_structure", [text], df) == 1.0
    # a name with underscores still meets only itself
    assert weighted_coverage("asn1_delete_node", [text], _counted({"asn1_delete_node": 0})) == 0.0


def test_a_page_that_starts_with_the_previous_chunks_last_sentence_shows_it_once():
    from kb.extractive import _Passage, _split, _window

    c1 = _Hit(1, "The marking area has options. backgroundcol=color sets the background color of the area. "
                 "foregroundcol=color sets the foreground color of the area.")
    c2 = _Hit(2, "foregroundcol=color sets the foreground color of the area. Boxes are not scanned when scan is "
                 "false.")
    p = _Passage(c2, _split(c2.text))
    body, _, _, _ = _window(p, [0], None, previous=lambda cid: c1 if cid == 2 else None)
    assert body.count("foregroundcol=color sets the foreground color") == 1, body
    # a page that starts mid-sentence still gets the sentence's start from the previous chunk
    c3 = _Hit(3, "the boxes are not scanned. Other options follow.")
    c0 = _Hit(0, "The marking area has options. If scan is false,")
    p = _Passage(c3, _split(c3.text))
    body, _, _, _ = _window(p, [0], None, previous=lambda cid: c0 if cid == 3 else None)
    assert body.startswith("If scan is false, **the boxes are not scanned.**"), body


def test_a_mistyped_term_is_the_passage_word_it_is_one_edit_from():
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("Give true or false to shuffle the questions inside the group with the shufflequestions option.")]
    df = _counted({"shufle": 0, "questions": 200, "group": 40}, total=2000)
    not_a_word = lambda w: w in {"questions", "group", "inside"}  # noqa: E731
    assert has_evidence("how do i stop it to shufle the questions in a group", hits, df, is_word=not_a_word)
    # a word of its own is no typo ("flutter" is not the passage's "clutter"), nor is a short name
    hits = [_EvidenceHit("Avoid clutter: keep the questions of a group short.")]
    df = _counted({"flutter": 0, "questions": 200, "group": 40, "rustc": 0, "rust": 0}, total=2000)
    assert not has_evidence("how do i load flutter questions in a group", hits, df,
                            is_word=lambda w: w in {"questions", "group", "flutter"})



def test_a_table_of_contents_line_is_not_the_answer(monkeypatch):
    from kb import extractive

    toc = _Hit(1, "Contents. 10.1 Methods to implement when you write your own flowable objects . . . . . . . . 98 "
                  "10.2 Writing flowables that split . . . . . . . . 99", dense=0.62)
    body = _Hit(2, "A flowable must have wrap and draw methods. Its split method is optional.", dense=0.6)
    e = _Embedder({"flowable": 3.0, "flowables": 3.0, "objects": 1.0, "writing": 1.0, "write": 1.0, "implement": 1.0,
                   "methods": 1.0, "own": 0.5, "wrap": 0.5, "draw": 0.5, "chapter": 0.5})
    a = extractive.answer("what methods do i implement if i write my own flowable", "what methods do i implement if i "
                          "write my own flowable", [toc, body], e, lambda key, page: None)
    assert a.found and "**A flowable must have wrap and draw methods.**" in a.text, a.text


def test_a_mistyped_word_weighs_as_the_word_meant():
    """"pakage" is in no PDF, but it means "package", which every passage has: it must not weigh as a
    rare term the passage holds, or a question about julia would be answered from a passage about packages."""
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("Functions inside a package are called from C code with .Call.")]
    df = _counted({"julia": 0, "pakage": 0, "functions": 900, "package": 1500, "inside": 300})
    assert not has_evidence("how do i call julia functions from inside an R pakage", hits, df,
                            is_word=lambda w: w in {"julia", "functions", "inside"})


def test_each_filler_candidate_is_judged_without_the_others():
    """A lead-in of other candidates ("quick question, i'm confused: ...") dilutes the question: a topic
    word must not look light because of them."""
    from kb.extractive import fillers

    e = _Embedder({"libtasn1": 1.0, "python": 1.0, "bindings": 1.0, "quick": 2.0, "confused": 2.0})
    question = "quick question, confused: does libtasn1 have python bindings"
    assert "python" not in fillers(question, ["quick", "confused", "python"], e)


def test_a_filler_the_passage_happens_to_hold_does_not_count_as_evidence():
    """"how do i call julia functions ... exactly? thanks in advance": "exactly" and "advance" in a
    passage about packages are no evidence that it answers a question about julia."""
    from kb.extractive import has_evidence

    e = _Embedder({"julia": 3.0, "functions": 1.0, "package": 1.0, "inside": 0.8, "call": 0.5, "exactly": 0.2,
                   "thanks": 0.2, "advance": 0.2})
    words = {"julia", "functions", "package", "inside", "exactly", "thanks", "advance"}
    hits = [_EvidenceHit("Functions inside a package are exactly as fast, and are compiled in advance.")]
    df = _counted({"julia": 0, "functions": 900, "package": 1500, "inside": 300, "exactly": 40, "thanks": 0,
                   "advance": 20})
    q = "how do i call julia functions from inside an R package exactly? thanks in advance"
    assert not has_evidence(q, hits, df, is_word=words.__contains__, embedder=e)
    assert has_evidence("how are functions inside a package compiled exactly? thanks in advance", hits,
                        _counted({"functions": 900, "package": 1500, "inside": 300, "compiled": 30, "exactly": 40,
                                  "thanks": 0, "advance": 20}), is_word=words.__contains__, embedder=e)


def test_a_name_one_edit_from_a_filler_word_is_still_a_topic():
    """"rust" is one edit from "just", but it is a word of its own: a passage about bindings in general
    does not answer "how do I generate rust bindings"; "wich" and "whta" stay mistyped filler words."""
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("camlidl generates the bindings: a Caml module and C stub code for each IDL file.")]
    df = _counted({"rust": 0, "bindings": 30, "camlidl": 200, "generate": 150})
    words = {"rust", "bindings", "generate"}.__contains__
    e = _Embedder({"rust": 3.0, "bindings": 1.0, "generate": 0.5, "camlidl": 1.0, "whta": 0.1})
    # the question rests on "rust": a missing word it depends on counts as a missing name
    assert not has_evidence("how do i generate rust bindings with camlidl", hits, df, is_word=words, embedder=e)
    assert has_evidence("whta bindings does camlidl generate", hits, _counted({"whta": 0, "bindings": 30, "camlidl": 200,
                                                                               "generate": 150}), is_word=words)


def test_a_value_from_the_students_own_case_is_no_missing_topic():
    from kb.extractive import has_evidence

    hits = [_Hit(1, "The suffix L after a number makes it an integer constant rather than a double.")]
    df = _doc_freq({"100l": 0, "suffix": 3, "numbers": 40, "2fast": 0, "ec2": 0, "nginx_1": 0})
    assert has_evidence("what does the L suffix mean in numbers like 100L ?", hits, df)
    # a product named with a digit at its end is a topic the passage lacks
    assert not has_evidence("what does the L suffix mean in numbers on ec2", hits, df)
    hits = [_Hit(1, "Packages built from the source are stripped of debugging symbols by make install-strip.")]
    df = _doc_freq({"source-built": 0, "stripped": 2, "debugging": 5, "k-means": 0})
    assert has_evidence("is my source-built install stripped of debugging symbols?", hits, df)
    assert not has_evidence("is my k-means install stripped of debugging symbols?", hits, df)


def test_the_students_own_file_name_is_no_missing_topic():
    from kb.extractive import has_evidence

    hits = [_Hit(1, "When several globs match, the one with the longest sequence of extensions wins: *.tar.gz over *.gz.")]
    df = _doc_freq({"backup.tar.gz": 0, "backup": 0, "globs": 4, "tar": 6, "gz": 6, "docx": 0, "notes.docx": 0})
    assert has_evidence("file is backup.tar.gz, a glob for *.gz and one for *.tar.gz match, which globs win?", hits, df,
                        is_word=lambda w: w == "backup")
    # a format the passage does not hold is still the question's topic, in a file name or not
    assert not has_evidence("notes.docx matches which globs? which one wins?", hits, df, is_word=lambda w: w == "notes")


def test_names_the_student_gives_their_own_files_are_no_missing_topic():
    from kb.extractive import has_evidence

    hits = [_Hit(1, "After adding a package XML file under packages/, run update-mime-database to rebuild the "
                    "caches, or applications will not see the new type. Source files are XML.")]
    df = _doc_freq({"myapp": 0, "xyzzy": 0, "heic": 0, "update": 30, "database": 20, "packages": 90})
    assert has_evidence("i dropped my myapp.xml into packages/ but nothing sees it. which database update do i run?",
                        hits, df)
    assert has_evidence("which package database holds /usr/bin/xyzzy? how do i update it", hits, df)
    # an extension the passage does not hold is a format the course lacks, not the student's file name
    assert not has_evidence("which mime database entry do .heic photos get after the update", hits, df)


def test_a_compound_the_passage_writes_as_one_word_or_that_names_the_students_own_class_is_held():
    from kb.extractive import has_evidence

    hits = [_Hit(1, "Autoprinting is controlled by the flag R_Visible: invisible sets it to false. "
                    "getS3method finds the print method of a class even when the namespace does not export it.")]
    df = _doc_freq({"auto-printed": 0, "print.myclass": 0, "myclass": 0, "k-means": 0, "data.table": 0})
    assert has_evidence("how does invisible stop a value being auto-printed?", hits, df)
    assert has_evidence('get("print.myclass") fails: which function finds the print method of a class?', hits, df)
    # a dotted name of the course's words alone is a package the course may not have ("data.table")
    assert not has_evidence("how does data.table stop a value being printed by invisible?", hits, df)


def test_an_acronym_in_capitals_is_a_name_not_a_misspelt_stopword():
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("On Linux, install a package with R CMD INSTALL into a library of your choice.")]
    df = _counted({"aur": 0, "our": 5000, "linux": 300, "install": 900, "package": 1500}, total=10_000)
    assert not has_evidence("on linux, how do i install a package from the AUR?", hits, df)
    assert has_evidence("on linux, how do i install a package into aur library?", hits, df)  # "our", mistyped


class _SynonymEmbedder(_Embedder):
    """Bag of words where some words say the same thing ("aws" and "ec2" both mean the cloud)."""

    def __init__(self, weights, same):
        super().__init__(weights)
        self.same = same

    def embed_one(self, text):
        return super().embed_one(" ".join(self.same.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())))


def test_each_missing_name_is_judged_without_the_other_names():
    from kb.extractive import _chat_names

    e = _SynonymEmbedder({"cloud": 3.0, "install": 1.0, "linux": 1.0, "lol": 0.05}, {"aws": "cloud", "ec2": "cloud"})
    question = "install linux on an aws ec2 box lol"
    # either name alone can go and the other still says "the cloud"; judged apart, each is the topic
    assert _chat_names(question, ["aws", "ec2", "lol"], e) == {"lol"}


def test_an_everyday_word_that_is_not_the_topic_needs_less_coverage_when_the_embedder_judged_it():
    from kb.extractive import has_evidence

    hits = [_EvidenceHit("Versions are not decimals: 0.75 is newer than 0.9, since 75 > 9.")]
    question = "are versions decimals after my tweak"
    df = _counted({"tweak": 0, "versions": 1500, "decimals": 30}, total=10_000)
    words = {"tweak", "versions", "decimals"}.__contains__
    e = _Embedder({"tweak": 0.7, "versions": 1.0, "decimals": 1.0, "are": 0.3, "after": 0.3})
    assert not has_evidence(question, hits, df, is_word=words)  # no embedder to say "tweak" is not its topic
    assert has_evidence(question, hits, df, is_word=words, embedder=e)
    # the same word as the question's topic (its removal moves the question far) still counts as missing
    heavy = _Embedder({"tweak": 3.0, "versions": 1.0, "decimals": 1.0, "are": 0.3, "after": 0.3})
    assert not has_evidence(question, hits, df, is_word=words, embedder=heavy)


def test_a_faq_asking_the_students_question_in_other_words_answers_it():
    from kb.extractive import has_evidence

    hits = [_Hit(1, "I have a wireless network card which doesn't work with Linux. What should I do? "
                    "Use ndiswrapper to use a driver for Windows on your Linux system.")]
    df = _doc_freq({"wifi": 0, "card": 3, "driver": 4, "linux": 80, "windows": 40})
    question = "my wifi card has no linux driver only a windows one, anything I can do"
    assert not has_evidence(question, hits, df)  # "wifi" is in no PDF
    assert has_evidence(question, hits, df, asked=0.73)  # ... but the FAQ asks this very question
    assert not has_evidence(question, hits, df, asked=0.62)  # the closest FAQ question of an unanswerable dev question


def test_everyday_words_come_from_the_vocabulary_or_the_systems_dictionary():
    from kb import words

    require_engine("an English word list (Debian package wamerican)", bool(words.dictionary()))
    assert words.is_everyday("coworker") and words.is_everyday("mainframes") and words.is_everyday("Chokes")
    assert words.is_everyday("moment", lambda w: w == "moment")
    # names and formats are not words: capitalised entries ("WiFi", "LibreOffice") do not count
    assert not any(words.is_everyday(w) for w in ("wifi", "libreoffice", "docx", "numpy", "roxygen2", "wich"))


def test_a_line_that_leads_on_to_a_command_is_no_heading():
    from kb.extractive import _split

    text = ("Around 100 datasets are supplied with R. To see the list of datasets currently available use\ndata()\n"
            "7.3.1 Loading data from other R packages")
    assert [(s.text, s.heading) for s in _split(text)] == [
        ("Around 100 datasets are supplied with R.", False),
        ("To see the list of datasets currently available use\ndata()", False),
        ("7.3.1 Loading data from other R packages", True)]


def test_chat_slang_and_the_students_situation_are_no_key_terms():
    from kb.extractive import content_words

    assert content_words("lol my prof says wanna use sink, wtf is sink") == ["use", "sink", "sink"]


def test_a_faqs_numbered_question_heads_the_answer_that_follows_it():
    from kb.extractive import _split, answer

    text = ("Note: automatic upgrades are not recommended on testing. 9.6 I have several machines; how can I "
            "download the updates only\none time? If you have more than one machine on your network, use "
            "apt-cacher to keep all of them up to date with one download. 9.7 How do I keep a log?")
    sentences = _split(text)
    assert [s.heading for s in sentences] == [False, True, False, True]
    q = "we have 30 machines in the lab, downloading the same updates 30 times is dumb"
    e = _Embedder({"machines": 1.0, "updates": 1.0, "download": 1.0, "downloading": 1.0, "one": 0.3, "time": 0.3,
                   "upgrades": 0.5, "automatic": 0.5, "apt": 0.2, "log": 0.5})
    a = answer(q, q, [_Hit(1, text, dense=0.6)], e, lambda key, page: None)
    assert a.found and "**If you have more than one machine on your network, use apt-cacher" in a.text


def test_a_faq_answer_runs_on_to_the_end_of_its_entry_across_chunks():
    from kb.extractive import answer

    first = _Hit(1, "3.1.12 I am tracking testing (bookworm). What will happen when a release is made?\n"
                    "It depends on the entries in the sources.list file.", dense=0.7)
    second = _Hit(2, "If the third field is testing you keep tracking testing. But if the third field contains "
                     "bookworm then you will be tracking stable. 3.1.13 I am still confused. What should I install?\n"
                     "If unsure, install stable.", dense=0.5)
    following = {1: [second], 2: []}
    q = "my sources.list says bookworm, what happens to my machine once bookworm is released"
    e = _Embedder({"sources": 1.0, "list": 0.5, "bookworm": 1.0, "released": 0.5, "release": 0.5, "happens": 0.3,
                   "happen": 0.3, "entries": 0.2, "unsure": 0.2, "install": 0.1})
    a = answer(q, q, [first], e, lambda key, page: None, following=lambda cid: following[cid])
    assert a.found and "tracking stable" in a.text and "If unsure" not in a.text


def test_a_faq_entry_goes_on_past_the_lines_of_an_example_that_look_like_headings():
    from kb.extractive import answer

    first = _Hit(1, "5.8 How can I check that I am using a Debian system, and what version it is?\n"
                    "To find out which distribution and version a system runs, use the", dense=0.7)
    second = _Hit(2, "lsb_release -a\ncommand. It prints the name and the version. An example run: $ lsb_release -a\n"
                     "Distributor ID: Debian\nRelease: 7.4\nCodename: wheezy\nYou can also check the "
                     "/etc/debian_version file, which holds the version number. 5.9 How do I add a user?\n"
                     "Use adduser.", dense=0.5)
    following = {1: [second], 2: []}
    q = "how do i check which debian version my box runs"
    e = _Embedder({"check": 1.0, "debian": 0.5, "version": 1.0, "runs": 0.3, "distribution": 0.5, "user": 0.2})
    a = answer(q, q, [first], e, lambda key, page: None, following=lambda cid: following[cid])
    assert a.found and "lsb_release -a" in a.text and "/etc/debian_version" in a.text
    assert "How do I add a user" not in a.text  # the next numbered question ends the entry


def test_a_second_passage_is_shown_when_it_is_close_and_adds_a_term_of_the_question():
    from kb.extractive import answer

    q = "how do i compress and decompress a file from the shell"
    e = _Embedder({"compress": 1.0, "decompress": 1.0, "file": 0.4, "shell": 0.6, "command": 0.3, "use": 0.1,
                   "level": 0.2})
    first = _Hit(1, "To compress a file from the shell, run the bzip2 command on it. The compressed file replaces "
                    "the original.", page=3, dense=0.62)

    def decompress(dense):
        return _Hit(2, "To decompress a file from the shell, run bunzip2 on it. The original file comes back.",
                    page=7, dense=dense)

    a = answer(q, q, [first, decompress(0.4)], e, lambda key, page: None)  # ~0.11 below the first: shown
    assert [c.page for c in a.citations] == [3, 7] and "bunzip2" in a.text and "[2]" in a.text
    a = answer(q, q, [first, decompress(0.3)], e, lambda key, page: None)  # ~0.17 below: not shown
    assert [c.page for c in a.citations] == [3] and "bunzip2" not in a.text
    # as close, but it adds no term of the question the first did not show
    same = _Hit(3, "To compress a file from the shell, use bzip2 on it; the level can be chosen.", page=9, dense=0.6)
    a = answer(q, q, [same, first], e, lambda key, page: None)
    assert len(a.citations) == 1 and "[2]" not in a.text


def test_a_runner_up_that_says_something_else_is_shown_when_the_rerank_cannot_tell_the_two_apart():
    """No term of the question is new in it, but it answers differently and scores within
    RUNNER_UP_MARGIN of the first: the student sees both."""
    from kb import extractive
    from kb.extractive import answer

    q = "which program compresses files"
    e = _Embedder({"program": 0.6, "compresses": 1.0, "files": 0.5, "bzip2": 0.9, "gzip": 0.9, "blocks": 0.5,
                   "speed": 0.5})
    first = _Hit(1, "The bzip2 program compresses files in blocks.", page=3, dense=0.6)

    def gzip(dense):
        return _Hit(2, "The gzip program compresses files for speed.", page=8, dense=dense)

    a = answer(q, q, [first, gzip(0.5)], e, lambda key, page: None)  # ~0.06 below the first
    assert [c.page for c in a.citations] == [3, 8] and "gzip" in a.text
    a = answer(q, q, [first, gzip(0.4)], e, lambda key, page: None)  # ~0.12 below: within the second passage's
    assert [c.page for c in a.citations] == [3] and "gzip" not in a.text  # margin, but it adds no term
    assert extractive.RUNNER_UP_MARGIN < extractive.SECOND_MARGIN


def test_a_paraphrase_of_the_course_with_few_shared_words_is_answered_when_its_meaning_is_close():
    from kb.extractive import has_evidence

    text = "Debian includes more than 59100 software packages at present."
    df = _doc_freq({"ship": 30, "days": 40, "packages": 900, "debian": 600})
    q = "how many packages does debian actually ship these days"
    assert has_evidence(q, [_Hit(1, text, dense=0.65)], df)
    assert not has_evidence(q, [_Hit(1, text, dense=0.45)], df)  # far in meaning too: not the answer
    # a name the course lacks still needs the passage to hold most of the question
    assert not has_evidence("how many docker packages ship these days", [_Hit(1, text, dense=0.65)],
                            _doc_freq({"docker": 0, "ship": 30, "days": 40, "packages": 900}))


def test_a_line_that_leads_in_to_a_command_is_no_title():
    from kb.extractive import _title

    assert not _title("After configuring the kernel, simply run the following command: make deb-pkg")
    assert _title("Chapter 3: Installing R") and _title("2.10 Platform-specific documentation")


def test_who_questions_ask_for_a_person_or_a_body():
    from kb.extractive import _has_answer_kind, question_type

    q = "who came up with naming the releases after toy story characters?"
    assert question_type(q) == "who" and question_type("ok so who started debian") == "who"
    assert _has_answer_kind(q, "The decision of using Toy Story names was made by Bruce Perens.")
    assert not _has_answer_kind(q, "So far they have been characters taken from the Toy Story movies by Pixar.")
    assert _has_answer_kind("who maintains base R?", "Base R is maintained by the R Core Team.")
