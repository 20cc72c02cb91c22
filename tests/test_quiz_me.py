"""QuizMe: questions generated from the course PDFs, graded by letter, number or text, cited, scored;
any other request leaves the quiz; choices are buttons in the web chat, Slack and Lex."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from bot.quiz import LETTERS, Question, QuizPassage
from bot.quiz import offline
from bot.quiz.grading import grade, looks_like_an_answer
from bot.turn import Turn

CHOICES = ("30 seconds", "15 minutes", "A container", "Amazon Polly")


# --- grading ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("said, picked", [
    ("b", 1), ("B", 1), ("B.", 1), ("(b)", 1), ("b)", 1), ("2", 1), ("second", 1), ("the second one", 1),
    ("the answer is B", 1), ("I think it's b", 1), ("option 2", 1), ("Answer: C", 2), ("d", 3), ("last", 3),
    ("B. 15 minutes", 1), ("A. 30 seconds", 0),  # a button's text
    ("15 minutes", 1), ("15 minuts", 1), ("15", 1), ("a container", 2), ("container", 2), ("CONTAINER", 2),
    ("amazon poly", 3), ("Polly", 3), ("the answer is amazon polly", 3),
    ("banana", None), ("what?", None), ("", None), ("e", None), ("5", None),
])
def test_grading_reads_letters_numbers_and_text_with_typos(said, picked):
    assert grade(said, CHOICES) == picked


def test_spoken_answers_accept_how_recognizers_write_letters():
    assert grade("the answer is bee", CHOICES, spoken=True) == 1
    assert grade("see", CHOICES, spoken=True) == 2
    assert grade("the answer is B", CHOICES, spoken=True) == 1
    assert grade("bee", CHOICES) is None  # typed, "bee" is no letter


def test_what_reads_as_an_answer_whatever_the_choices():
    for text in ("B", "the answer is c", "2", "stop the quiz", "skip"):
        assert looks_like_an_answer(text), text
    for text in ("what is amazon polly?", "summarize this text", "quiz me on S3"):
        assert not looks_like_an_answer(text), text


# --- the offline generator ------------------------------------------------------------------------------
LAMBDA = QuizPassage("08-aws-lambda.pdf", 1, "A function can run for at most 15 minutes. Memory can be set from "
                     "128 MB to 10,240 MB, and CPU power grows with memory.", "AWS Lambda - Limits", key="l")
OTHERS = [
    QuizPassage("03-amazon-rekognition.pdf", 2, "An image passed as raw bytes can be at most 5 MB; an image stored "
                "in S3 can be up to 15 MB.", key="r"),
    QuizPassage("04-amazon-comprehend.pdf", 1, "Real-time operations accept up to 100 KB of UTF-8 text per document. "
                "A batch job can run for up to 48 hours before it is stopped by the service.", key="c"),
    QuizPassage("02-amazon-polly.pdf", 1, "Amazon Polly turns text into lifelike speech in dozens of voices.", key="p"),
]


def test_numbers_get_same_unit_distractors_from_other_passages():
    [q] = offline.generate([LAMBDA], [LAMBDA, *OTHERS], count=1, seed=3)
    assert q.kind == "number" and q.right in ("15 minutes", "10,240 MB", "128 MB")
    assert len(q.choices) >= 3 and len(set(q.choices)) == len(q.choices)
    assert "_____" in q.question and q.right not in q.question and q.quote in LAMBDA.text
    for wrong in (c for c in q.choices if c != q.right):
        assert wrong not in LAMBDA.text  # never a phrase of the cited passage (it could be true too)
        assert not offline.same_answer(wrong, q.right)


def test_a_question_that_names_its_answer_is_rejected():
    sentence = "Amazon Lex builds chatbots, and every Lex bot has intents and slots."
    lex = offline.Phrase("Amazon Lex", 0, 10, "service", 2.6)
    assert offline.gives_away(sentence.replace("Amazon Lex", offline.BLANK, 1), lex)
    minutes = offline.numbers("A function can run for at most 15 minutes, and 15 minutes is a hard limit.")[0]
    assert offline.gives_away("A function can run for at most _____, and 15 minutes is a hard limit.", minutes)
    passages = [QuizPassage("lex.pdf", 1, sentence, key="x"), *OTHERS]
    for q in offline.generate(passages[:1], passages, count=3):
        assert not offline.gives_away(q.question, offline.Phrase(q.right, 0, len(q.right), q.kind, 0))


def test_disguised_answers_are_not_distractors():
    assert offline.same_answer("Amazon S3", "S3") and offline.same_answer("15 minutes", "15 minutes.")
    a = offline.numbers("up to 10 GB here")[0]
    b = offline.numbers("or 10,240 MB there")[0]
    assert offline.same_answer(a, offline.numbers("about 10 GB.")[0])
    assert not offline.same_answer(a, b) or abs(a.value - b.value) / a.value < 0.05


# --- what a rater of the questions asked for --------------------------------------------------------------
def _q(passage: QuizPassage, pool: list[QuizPassage], seed: int = 0) -> Question:
    [q] = offline.generate([passage], pool, count=1, seed=seed)
    return q


def test_a_plural_blank_gets_plural_distractors_of_the_same_kind():
    """"_____ are the pieces ..." never offers a singular "Bucket" or a service among the plural terms."""
    slots = QuizPassage("lex.pdf", 1, "Slots are the pieces of information an intent needs before it can be "
                        "fulfilled.", key="s")
    pool = [slots,
            QuizPassage("s3.pdf", 1, "Bucket is the container that holds the objects you upload to storage.", key="b"),
            QuizPassage("rek.pdf", 1, "Image analysis is the detection of labels and faces in a picture.", key="i"),
            QuizPassage("lex2.pdf", 1, "Utterances are the example phrases a user might type to start a "
                        "conversation.", key="u"),
            QuizPassage("polly.pdf", 1, "Lexicons are the lists of pronunciations that change how words are "
                        "spoken aloud.", key="x"),
            QuizPassage("api.pdf", 1, "Amazon Polly and Amazon Rekognition are services.", key="t")]
    for seed in range(5):
        q = _q(slots, pool, seed)
        assert q.right == "Slots"
        assert sorted(q.choices) == ["Lexicons", "Slots", "Utterances"], q.choices


def test_a_persons_name_is_offered_among_names_of_as_many_words():
    books = QuizPassage("r.pdf", 1, "The evolution of the S language is characterized by four books by "
                        "John Chambers and coauthors.", key="a")
    pool = [books,
            QuizPassage("r.pdf", 2, "The program was first written by Ross Ihaka and Robert Gentleman, and the "
                        "first version by Ross Ihaka and Robert Gentleman was small.", key="b"),
            QuizPassage("r.pdf", 3, "Fonts came from Hershey and keys such as Delete behave as in Unix-alike "
                        "systems, with Hershey fonts, the Delete key and every Unix-alike shell.", key="c"),
            QuizPassage("r.pdf", 7, "The books by John Chambers describe the S language in full detail.", key="e")]
    q = _q(books, pool)
    assert q.right == "John Chambers"
    assert sorted(q.choices) == ["John Chambers", "Robert Gentleman", "Ross Ihaka"], q.choices


def test_distractors_prefer_the_same_document_and_nearby_passages():
    here = QuizPassage("06-knowledge-bases.pdf", 2, "Clients call RetrieveAndGenerate to get an answer to "
                       "the question with citations.", key="k2")
    pool = [QuizPassage("06-knowledge-bases.pdf", 1, "Clients use StartIngestionJob to start a sync and "
                        "ListDataSources to see the sources.", key="k1"),
            here,
            QuizPassage("03-amazon-rekognition.pdf", 1, "Faces are searched with SearchFacesByImage and "
                        "indexed with IndexFaces after CreateCollection.", key="r1"),
            QuizPassage("01-amazon-lex.pdf", 1, "The bot may return ElicitSlot or ConfirmIntent as the next "
                        "dialog action.", key="l1")]
    import random
    choose = offline.Pool(pool)
    [s] = offline.passage_sentences(here)
    answer = offline.phrases(s.text)[0]
    assert answer.text == "RetrieveAndGenerate"
    for seed in range(5):
        wrong = offline.distractors(answer, s, choose, random.Random(seed), want=2)
        assert sorted(wrong) == ["ListDataSources", "StartIngestionJob"], wrong


def test_an_embedder_ranks_distractors_by_meaning():
    import numpy as np

    def embed(texts):  # a toy embedder: fine-tuning and RAG mean much the same as prompt engineering
        near = {"Prompt engineering": [1, 0.1, 0], "Fine-tuning": [1, 0, 0], "Continued pre-training": [1, 0.2, 0],
                "Retrieval augmented generation": [0.9, 0.3, 0]}
        return np.array([near.get(t, [0, 0, 1]) for t in texts], dtype=float)

    texts = {"Fine-tuning": "Fine-tuning is a way to adapt a model to your own labelled examples.",
             "Continued pre-training": "Continued pre-training is a way to teach a model unlabelled domain text.",
             "Retrieval augmented generation": "Retrieval augmented generation is a way to ground answers in "
                                               "documents.",
             "Image analysis": "Image analysis is a way to find labels and faces in photos.",
             "Provisioned concurrency": "Provisioned concurrency is a way to keep functions warm all day.",
             "Hybrid search": "Hybrid search is a way to mix keyword and vector matches in one query.",
             "Versioning": "Versioning is a way to keep every version of an object in a bucket."}
    here = QuizPassage("bedrock.pdf", 1, "Prompt engineering is the cheapest way to steer a model.", key="h")
    pool = [here, *(QuizPassage(f"d{i}.pdf", 1, t, key=f"k{i}") for i, t in enumerate(texts.values()))]
    q = offline.generate([here], offline.Pool(pool, embed=embed), count=1)[0]
    assert q.right == "Prompt engineering"
    assert sorted(c for c in q.choices if c != q.right) == sorted(
        ["Fine-tuning", "Continued pre-training", "Retrieval augmented generation"]), q.choices


@pytest.mark.parametrize("stem, answer, kind", [
    ("Many high-level plots have axes, and you construct them with the lowlevel _____ graphics function.",
     "axis()", "call"),
    ("_____ reads printed text in an image, such as the words on a street sign.", "DetectText", "operation"),
    ("Warning: _____ loops are used in R code much less often than in compiled languages.", "for()", "call"),
])
def test_a_stem_that_shares_a_root_with_the_answer_gives_it_away(stem, answer, kind):
    assert offline.gives_away(stem, offline.Phrase(answer, 0, len(answer), kind, 2.8))


@pytest.mark.parametrize("sentence", [
    "Suppose, for example, z is a vector of 1500 elements.",
    "One thing to consider is what stdin() refers to.",
    "Unfortunately, this is not implemented entirely consistently and it is sometimes necessary to use par().",
    "RetrieveAndGenerate also calls the model and returns an answer with citations.",
    "You can find out which version is available by running extSoftVersion() in an R session.",
    "The presence of UseMethod indicates this is a generic function.",
])
def test_sentences_that_lean_on_the_one_before_make_no_question(sentence):
    assert offline.leans_back(sentence)
    passage = QuizPassage("r.pdf", 1, sentence, key="a")
    pool = [passage, *OTHERS, QuizPassage("r2.pdf", 1, "The functions seq() and qr() and nlm() and diag() exist. "
                                          "A vector of 3000 elements or 750 elements or 375 elements is long. "
                                          "CreateCollection, DetectPiiEntities and SearchFacesByImage are calls. "
                                          "NaNs and Hershey and PostScript are words.", key="b")]
    assert offline.generate([passage], pool, count=1) == []


def test_plain_sentences_do_not_lean_back():
    for sentence in ("A function can run for at most 15 minutes.",
                     "You create a bucket in a region, or CreateBucket in an SDK such as boto3.",
                     "Smaller chunks give precise matches, which larger chunks lose."):
        assert not offline.leans_back(sentence), sentence


def test_the_label_is_the_heading_the_sentence_is_under():
    text = ("Amazon SageMaker: the machine learning\nplatform\nWhat SageMaker covers\nSageMaker Studio is its "
            "web-based development environment, with notebooks and a visual pipeline editor. Training jobs\n"
            "A training job runs your algorithm on managed instances. You give it the location of the dataset.")
    p = QuizPassage("07-amazon-sagemaker.pdf", 1, text, "Amazon SageMaker: the machine learning", key="s")
    labels = {s.text: offline._lead(p, s.section) for s in offline.passage_sentences(p)}
    assert labels["A training job runs your algorithm on managed instances."] == "Fill in the blank (Training jobs)"
    assert labels["SageMaker Studio is its web-based development environment, with notebooks and a visual "
                  "pipeline editor."] == "Fill in the blank (What SageMaker covers)"
    whole = QuizPassage("07-amazon-sagemaker.pdf", 1, "Amazon SageMaker: the machine learning\nplatform\n"
                        "SageMaker runs notebooks for you on managed instances in the cloud.", "Amazon SageMaker: the machine learning", key="t")
    [s] = offline.passage_sentences(whole)
    assert offline._lead(whole, s.section) == "Fill in the blank (Amazon SageMaker: the machine learning platform)"
    assert offline._lead(whole) == "Fill in the blank (Amazon SageMaker: the machine learning platform)"


def test_a_distractor_the_course_says_the_same_of_is_rejected():
    """diag() is "written in R" too: as a distractor of mean() in that stem there would be two right answers."""
    here = QuizPassage("r.pdf", 1, "Most functions supplied with the system, such as mean(), are themselves "
                       "written in R and thus do not differ from user functions.", key="a")
    pool = [here,
            QuizPassage("r.pdf", 5, "Many functions supplied with the system, such as diag(), are written in R "
                        "and do not differ from user functions.", key="b"),
            QuizPassage("r.pdf", 9, "Use seq() for sequences, plot() for drawing, scan() for reading input, sd() "
                        "for spread and rbind() for stacking rows.", key="c")]
    for seed in range(6):
        q = _q(here, pool, seed)
        assert q.right == "mean()" and "diag()" not in q.choices, q.choices


def test_no_half_names_and_all_capital_answers_among_their_like():
    api = QuizPassage("api.pdf", 1, "Developers choose WebSocket APIs to keep a two-way connection open for "
                      "live updates.", key="a")
    pool = [api, QuizPassage("x.pdf", 1, "PyTorch and TensorFlow and SageMaker and CloudWatch and DynamoDB are "
                             "products. PyTorch, TensorFlow, SageMaker, CloudWatch and DynamoDB again.", key="b")]
    assert offline.generate([api], pool, count=1) == []
    null = QuizPassage("r.pdf", 1, "NULL is used to indicate the empty object in the language.", key="n")
    pool = [null, QuizPassage("r.pdf", 2, "Debugging is the hunt for errors in code you wrote. Programming is "
                              "the craft of writing code. Argument matching is the pairing of formals.", key="m")]
    assert offline.generate([null], pool, count=1) == []


def test_bench_quiz_takes_another_pdf_but_never_a_reserved_one(tmp_path):
    from bot.quiz import bench

    with pytest.raises(ValueError):
        bench.third_party_pdf("R-FAQ.pdf")
    with pytest.raises(ValueError):
        bench.third_party_pdf("/somewhere/R-data.pdf")
    with pytest.raises(ValueError):
        bench.third_party_pdf("notes.txt")
    assert bench.third_party_pdf(str(tmp_path / "missing.pdf")) is None
    assert bench._course_name(tmp_path / "R-lang.pdf") == "r-lang"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The sample course ingested into an isolated COURSEBOT_HOME (shared by this module's tests)."""
    from bot.services import Services
    from bot.settings import load
    from kb import sample
    from kb.local import sample_dir

    home = tmp_path_factory.mktemp("quiz-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSEBOT_HOME", str(home))
    settings = load(home=home, backend="local")
    services = Services(settings)
    services.kb.ingest([str(p) for p in sample.build(sample_dir(settings))])
    yield services
    mp.undo()


def test_every_generated_question_is_fair(course):
    """Over the whole sample course: the quote holds the answer and is in the cited passage, the blank
    is in the question, no distractor is in the passage or names the answer, no repeats in a set."""
    maker = course.get("quiz")
    made = maker.make(None, count=10, seed=11)
    assert len(made.questions) == 10
    assert len({q.id for q in made.questions}) == 10 and len({q.quote for q in made.questions}) == 10
    for q in made.questions:
        assert 3 <= len(q.choices) <= 4 and 0 <= q.answer < len(q.choices)
        assert offline.BLANK in q.question and q.quote in " ".join(q.passage.split())
        assert offline._mentions(q.quote, q.right) or q.right.lower() in q.quote.lower()
        assert q.url and f"#page={q.page}" in q.url
        for i, c in enumerate(q.choices):
            if i != q.answer:
                assert not offline._mentions(q.passage, c), (q.question, c)
                assert not offline.same_answer(c, q.right)


def test_asking_again_gives_different_questions(course):
    maker = course.get("quiz")
    first = maker.make("AWS Lambda", count=3, seed=1)
    second = maker.make("AWS Lambda", count=3, seed=2, avoid=[q.id for q in first.questions])
    assert {q.source for q in first.questions + second.questions} == {"08-aws-lambda.pdf"}
    assert not {q.id for q in first.questions} & {q.id for q in second.questions}


def test_lecture_numbers_and_unknown_topics(course):
    maker = course.get("quiz")
    assert {q.source for q in maker.make("lecture 3", count=2).questions} == {"03-amazon-rekognition.pdf"}
    assert {q.source for q in maker.make("S3", count=2).questions} == {"10-amazon-s3.pdf"}
    nothing = maker.make("medieval tapestry weaving", count=2)
    assert not nothing.questions and not nothing.found


# --- the conversation ----------------------------------------------------------------------------------
def _current(services, conversation: str) -> Question:
    state = services.conversations.load(conversation).extra["quiz"]
    return Question.from_dict(state["questions"][state["at"]])


def _wrong_letter(q: Question) -> str:
    return LETTERS[(q.answer + 1) % len(q.choices)]


def test_a_whole_set_graded_by_letter_number_and_text_then_scored(course):
    from bot.router import Router

    router = Router(course)
    c = "quiz-flow"
    first = router.handle(Turn(conversation=c, text="quiz me on AWS Lambda"))
    assert first.intent == "QuizMe" and first.state == "elicit" and first.elicit_slot == "answer"
    quiz = first.details["quiz"]
    assert set(quiz) >= {"question", "choices", "number", "of"} and quiz["number"] == 1 and quiz["of"] == 5
    assert len(quiz["choices"]) >= 3 and first.citations[-1].source == "08-aws-lambda.pdf"
    assert not first.citations[-1].quote  # the key sentence is shown only after the answer
    assert first.suggestions[:len(quiz["choices"])] == tuple(f"{LETTERS[i]}. {t}" for i, t in enumerate(quiz["choices"]))

    q = _current(course, c)
    graded = router.handle(Turn(conversation=c, text=q.letter.lower()))  # 1: right, by letter
    assert graded.text.startswith(f"Correct \u2014 {q.letter}. {q.right}.")
    assert f"\u201c{q.quote}\u201d ({q.source}, page {q.page})" in graded.text
    assert graded.citations[0].quote == q.quote and f"#page={q.page}" in graded.citations[0].url
    assert graded.details["graded"]["correct"] and graded.details["quiz"]["number"] == 2

    q = _current(course, c)
    graded = router.handle(Turn(conversation=c, text=_wrong_letter(q)))  # 2: wrong
    assert graded.text.startswith(f"Not quite \u2014 the answer is {q.letter}. {q.right}.")
    missed_page = q.page

    q = _current(course, c)
    graded = router.handle(Turn(conversation=c, text=str(q.answer + 1)))  # 3: right, by number
    assert graded.details["graded"]["correct"], graded.text

    q = _current(course, c)
    typo = q.right[:-1] if len(q.right) > 6 else q.right.lower()
    graded = router.handle(Turn(conversation=c, text=typo))  # 4: right, by the choice's text with a typo
    assert graded.details["graded"]["correct"], (typo, q.choices)

    q = _current(course, c)
    done = router.handle(Turn(conversation=c, text=f"the answer is {q.letter}"))  # 5: right
    assert done.state == "fulfilled" and done.details["score"]["right"] == 4 and done.details["score"]["of"] == 5
    assert f"You got 4 of 5; review page {missed_page} of 08-aws-lambda.pdf" in done.text
    assert "quiz" not in course.conversations.load(c).extra
    assert router.handle(Turn(conversation=c, text="B")).intent != "QuizMe" or \
        "no quiz going on" in router.handle(Turn(conversation=c, text="the answer is B")).text


def test_any_other_request_or_question_leaves_the_quiz(course):
    from bot.router import Router

    router = Router(course)
    c = "quiz-leave"
    assert 3 <= router.handle(Turn(conversation=c, text="5 questions on S3")).details["quiz"]["of"] <= 5
    other = router.handle(Turn(conversation=c, text="what is Amazon Polly used for?"))
    assert other.intent == "AskCoursePdfs" and "Polly" in other.text
    assert course.conversations.load(c).pending is None
    again = router.handle(Turn(conversation=c, text="quiz me"))
    assert again.intent == "QuizMe" and "stopped the previous" not in again.text
    stopped = router.handle(Turn(conversation=c, text="stop the quiz"))
    assert stopped.intent == "QuizMe" and stopped.state == "fulfilled" and "stopped the quiz" in stopped.text
    router.handle(Turn(conversation=c, text="quiz me on lambda"))
    skipped = router.handle(Turn(conversation=c, text="skip"))
    assert "stopped the quiz" in skipped.text and course.conversations.load(c).pending is None
    router.handle(Turn(conversation=c, text="quiz me on lambda"))
    assert router.handle(Turn(conversation=c, text="stop")).error == "cancelled"


def test_unmatched_answers_ask_again_then_give_up(course):
    from bot.router import Router

    router = Router(course)
    c = "quiz-unclear"
    router.handle(Turn(conversation=c, text="quiz me on lambda"))
    again = router.handle(Turn(conversation=c, text="hmm banana"))
    assert again.state == "elicit" and "couldn't tell which choice" in again.text and again.details["quiz"]["number"] == 1


def test_lex_voice_answer_and_a_question_instead_of_an_answer(course):
    """Lex fills the answer slot with whatever is said: "the answer is bee" grades, a question leaves the quiz."""
    from bot.router import Router

    router = Router(course)
    c = "lex-quiz"
    asked = router.handle(Turn(conversation=c, text="quiz me on lambda", channel="lex", intent="QuizMe",
                               slots={"topic": "lambda"}, input_mode="speech"))
    assert "blank" in asked.text and "_____" not in asked.text and "Say \"the answer is\"" in asked.text
    q = _current(course, c)
    spoken = {"A": "a", "B": "bee", "C": "see", "D": "dee"}[q.letter]
    graded = router.handle(Turn(conversation=c, text=f"the answer is {spoken}", channel="lex", intent="QuizMe",
                                slots={"answer": f"the answer is {spoken}"}, input_mode="speech"))
    assert graded.details["graded"]["correct"], graded.text
    left = router.handle(Turn(conversation=c, text="what is Amazon Polly used for?", channel="lex", intent="QuizMe",
                              slots={"answer": "what is Amazon Polly used for?"}))
    assert left.intent == "AskCoursePdfs" and "stopped the quiz" in left.text
    assert "quiz" not in course.conversations.load(c).extra


# --- channels ----------------------------------------------------------------------------------------
def _long_choice_reply(course):
    from intents.quiz_me import SPEC

    q = Question(question="Fill in the blank: \u201c_____ keeps environments initialised.\u201d",
                 choices=("Provisioned concurrency for every function in the account", "Amazon Polly", "SageMaker",
                          "A cold start that pays for the runtime and the code to load"),
                 answer=0, source="08-aws-lambda.pdf", page=2, quote="Provisioned concurrency keeps environments "
                 "initialised.")
    from intents import quiz_me
    from bot.conversation import Conversation
    from bot.specs import IntentContext, Slots

    ctx = IntentContext(intent=SPEC.name, confidence=1.0, slots=Slots(), conversation=Conversation(), services=course)
    state = {"questions": [q], "at": 0, "right": 0, "missed": [], "topic": None, "tries": 0}
    return quiz_me._ask(Turn(conversation="x"), ctx, state, "", ())


def test_lex_card_buttons_stay_within_lex_limits(course):
    from bot.channels.lex.adapter import BUTTON_CHARS, MAX_BUTTONS, text_messages

    reply = _long_choice_reply(course)
    cards = [m["imageResponseCard"] for m in text_messages(reply) if m["contentType"] == "ImageResponseCard"]
    [card] = cards
    buttons = card["buttons"]
    assert len(buttons) <= MAX_BUTTONS and len(buttons) == 5  # four choices and "Stop the quiz"
    assert all(1 <= len(b["text"]) <= BUTTON_CHARS and 1 <= len(b["value"]) <= BUTTON_CHARS for b in buttons)
    assert [b["value"][:2] for b in buttons[:4]] == ["A.", "B.", "C.", "D."]
    assert grade(buttons[3]["value"], reply.details["quiz"]["choices"]) == 3  # a shortened button still answers
    assert card["title"] != "You could also ask" and len(card["title"]) <= 250


def test_slack_buttons_answer_with_one_click(course):
    from bot.channels.slack.adapter import action_to_turn
    from bot.channels.slack.blocks import ACTION_SUGGEST, BUTTON_TEXT, reply_blocks

    reply = _long_choice_reply(course)
    _, blocks = reply_blocks(reply, "slack:T1:C1:1.0")
    actions = [a for a in next(b for b in blocks if b["type"] == "actions")["elements"]
               if a["action_id"].startswith(ACTION_SUGGEST)]
    labels = [a["text"]["text"] for a in actions]
    assert [label[:2] for label in labels[:4]] == ["A.", "B.", "C.", "D."] and all(len(t) <= BUTTON_TEXT for t in labels)
    assert labels[4] == "Stop the quiz" and "Read aloud" not in labels
    body = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "channel": {"id": "C1"},
            "message": {"ts": "1.0", "text": reply.text}, "container": {},
            "actions": [{"action_id": actions[1]["action_id"], "value": actions[1]["value"]}]}
    incoming = action_to_turn(body)
    assert grade(incoming.turn.text, reply.details["quiz"]["choices"]) == 1


# the web chat's one-click answer runs in a real browser: tests/test_web_browser.py::test_a_quiz_answered_with_one_click


# --- the acceptance path through the console script ---------------------------------------------------
def _cli(home, *args):
    env = {**os.environ, "COURSEBOT_HOME": str(home)}
    p = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, timeout=180)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    return p.stdout


def test_cli_quiz_on_lambda_is_cited_graded_and_scored(tmp_path):
    _cli(tmp_path, "kb", "ingest", "--sample")
    reply = json.loads(_cli(tmp_path, "turn", "quiz me on AWS Lambda", "--session", "q", "--json"))
    assert reply["intent"] == "QuizMe" and reply["state"] == "elicit" and reply["elicit_slot"] == "answer"
    assert len(reply["details"]["quiz"]["choices"]) >= 3
    assert any(c["source"] == "08-aws-lambda.pdf" for c in reply["citations"])
    total = reply["details"]["quiz"]["of"]
    for n in range(total):
        reply = json.loads(_cli(tmp_path, "turn", "A", "--session", "q", "--json"))
        graded = reply["details"]["graded"]
        assert reply["intent"] == "QuizMe" and graded["picked"] == "A"
        assert re.match(r"^(Correct \u2014|Not quite \u2014 the answer is) [A-D]\. ", reply["text"])
        assert f"{graded['source']}, page {graded['page']}" in reply["text"] and graded["answer"] in LETTERS
    assert reply["state"] == "fulfilled" and re.search(r"You got \d of \d", reply["text"])
    assert reply["details"]["score"]["of"] == total


def test_code_tokens_and_sentence_fragments_are_no_labels_and_footnote_marks_no_sentences():
    for label in ("CXX20PICFLAGS", "Then check the built system works correctly by make check",
                  "It does require a make command which supports the make", "With Intel compilers on 32-bit"):
        p = QuizPassage("R-admin.pdf", 3, "Packages are installed into the library tree of the running R.",
                        f"R Installation and Administration - {label}", key="a")
        assert offline._lead(p) == "Fill in the blank (R Installation and Administration)", label
    assert not offline._usable("5 Note that capitalization and versioning may differ from the Open Source project.")
    assert offline.numbers("The code makes use of DOUBLE COMPLEX and COMPLEX*16 variables.") == []
    assert offline.definition_term("The current default is to search for gfortran and then for f95 compilers.") is None


def test_a_chunks_section_comes_from_the_outline_by_page():
    import sqlite3

    from bot.quiz.local import _Outline

    class Index:
        db = sqlite3.connect(":memory:")

    Index.db.executescript("CREATE TABLE documents (id INTEGER, name TEXT, owner TEXT);"
                           "CREATE TABLE headings (doc_id INTEGER, position INTEGER, level INTEGER, title TEXT, "
                           "page INTEGER);"
                           "INSERT INTO documents VALUES (1, 'R-admin.pdf', '');"
                           "INSERT INTO headings VALUES (1, 0, 0, '1 Obtaining R', 6), (1, 1, 1, 'Help options', 9),"
                           " (1, 2, 1, 'Making the manuals', 10);")
    outline = _Outline(Index())
    stale = "1 Obtaining R - Then check the built system works"
    assert outline.context("R-admin.pdf", 9, "Some text before the heading.", stale) == "1 Obtaining R"
    assert outline.context("R-admin.pdf", 10, "More help text. Making the manuals\nThe manuals are made.", stale) \
        == "1 Obtaining R - Help options"  # the heading shows up later in this chunk: not yet in force
    assert outline.context("R-admin.pdf", 10, "The PDF manuals need TeX.", stale) == "1 Obtaining R - Making the manuals"
    assert outline.context("other.pdf", 3, "Text.", "Title - Section") == "Title - Section"


def test_a_plural_blank_gets_no_singular_product_name():
    answer = offline.Phrase("HTTP APIs", 0, 9, "term:plural", 3.2)
    assert not offline._agrees(answer, offline.Phrase("Amazon Alexa", 10, 22, "service", 2.6))
    assert offline._agrees(answer, offline.Phrase("Lexicons", 10, 18, "term:plural", 3.2))
    assert offline._agrees(offline.Phrase("John Chambers", 5, 18, "proper", 1.9),
                           offline.Phrase("Ross Ihaka", 5, 15, "proper", 1.9))


def test_an_empty_course_says_it_has_no_pdfs_and_a_missing_topic_says_so(course, tmp_path, monkeypatch):
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load
    from bot.turn import Turn

    monkeypatch.setenv("COURSEBOT_HOME", str(tmp_path))
    empty = Router(Services(load(home=tmp_path, backend="local")))
    said = empty.handle(Turn(conversation="quiz-empty", text="quiz me on s3", intent="QuizMe")).text
    assert "no PDFs yet" in said and "couldn't find" not in said
    monkeypatch.setenv("COURSEBOT_HOME", str(course.settings.home))
    said = Router(course).handle(Turn(conversation="quiz-topic", text="quiz me on medieval tapestry weaving",
                                      intent="QuizMe", slots={"topic": "medieval tapestry weaving"})).text
    assert "couldn't find anything on" in said and "no PDFs yet" not in said
