"""Local NLU: intents from the specs, near-misses, payload and slot extraction, dev-set accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bench.core import DATA, NLU_DATA, evaluate_nlu, load_jsonl
from bot.nlu import split_payload


@pytest.fixture(scope="module")
def nlu(tmp_path_factory):
    from bot.services import Services
    from bot.settings import load

    return Services(load(home=tmp_path_factory.mktemp("home"))).nlu


@pytest.mark.parametrize("text,intent", [
    # the near-misses the issue names
    ("draw conclusions from this paragraph: the results improved after the change", "SummarizeText"),
    ("what is Amazon Rekognition?", "AskCoursePdfs"),
    ("summarize what the course says about Polly", "AskCoursePdfs"),
    ("can you read this to me: the exam is on Friday", "SpeakAnswer"),
    # and others of the same kind
    ("what is text to speech?", "AskCoursePdfs"),
    ("describe how lambda functions are triggered", "AskCoursePdfs"),
    ("how do I generate images with bedrock", "AskCoursePdfs"),
    ("hi there", "Greeting"),
    ("hlep", "Help"),
    ("summarize: Rekognition detects faces. It also reads text. Developers call an API.", "SummarizeText"),
    ("read that aloud", "SpeakAnswer"),
    ("drw a house", "GenerateImage"),
    ("what's the weather in seattle", "AskCoursePdfs"),  # a question: the course says whether it knows
    ("draw 200 dollars from my savings account", "Fallback"),
    ("asdfgh", "Fallback"),
    ("xyzzy", "Fallback"),
    ("hola", "Greeting"),
    ("Remind me what SQL stands for", "AskCoursePdfs"),
    ("remind me to buy milk", "Fallback"),
    ("which AWS service converts speech to text?", "AskCoursePdfs"),
    ("dibuja un gato", "GenerateImage"),
])
def test_recognizes(nlu, text, intent):
    assert nlu.parse(text).intent == intent


def test_attachments_decide(nlu):
    assert nlu.parse("", ["image"]).intent == "DescribePhoto"
    assert nlu.parse("draw this photo as a cartoon", ["image"]).intent == "GenerateImage"
    assert nlu.parse("", ["pdf"]).intent == "AskCoursePdfs"
    assert nlu.parse("summarize this pdf", ["pdf"]).intent == "SummarizeText"
    assert nlu.parse("", ["text"]).intent == "SummarizeText"


def test_payload_is_not_classified(nlu):
    # the pasted text talks about Rekognition and photos; the instruction says summarize
    r = nlu.parse("summarize: Amazon Rekognition describes photos, finds faces and reads the text in images.")
    assert r.intent == "SummarizeText"
    assert r.slots["text"].startswith("Amazon Rekognition describes photos")


@pytest.mark.parametrize("text,instruction,payload", [
    ("summarize: some text here", "summarize", "some text here"),
    ('read this aloud "hello there"', "read this aloud", "hello there"),
    ("give me a summary\nline one\nline two", "give me a summary", "line one\nline two"),
    ("what is https://example.com about", "what is https://example.com about", None),
    ("what is Amazon Lex?", "what is Amazon Lex?", None),
    ("Can you give me a TL;DR of this? The committee met and approved the budget for next year.",
     "Can you give me a TL;DR of this?", "The committee met and approved the budget for next year."),
    ("How does Lex work? I read the notes but the slots part was unclear to me.",
     "How does Lex work? I read the notes but the slots part was unclear to me.", None),
])
def test_split_payload(text, instruction, payload):
    assert split_payload(text) == (instruction, payload)


def test_slots(nlu):
    assert nlu.parse("say it in spanish").slots.get("language") == "es"
    assert nlu.parse("say it in spanish").slots.refers_to_previous is True
    assert "_refers_to_previous" not in nlu.parse("say it in spanish").to_dict()["slots"]
    assert nlu.parse("read that with a british voice").slots.get("voice") == "british"
    assert nlu.parse("say hello world").slots["text"] == "hello world"
    assert nlu.parse("generate an image of a sunset over the sea").slots["prompt"] == "a sunset over the sea"
    assert nlu.parse("draw a cat").slots["prompt"] == "a cat"
    assert "prompt" not in nlu.parse("create an image").slots
    assert nlu.parse("what is Amazon Lex?").slots["question"] == "what is Amazon Lex?"
    assert nlu.parse("summarize that").slots.refers_to_previous is True


def test_long_pasted_text_is_summarized(nlu):
    text = " ".join(["The service analyzes images and returns labels with confidence scores."] * 6)
    r = nlu.parse(text)
    assert r.intent == "SummarizeText" and r.slots["text"] == text


def test_confidence_is_a_probability_and_fallback_below_threshold(nlu):
    for text in ("hello", "what is bedrock", "asdf"):
        r = nlu.parse(text)
        assert 0.0 <= r.confidence <= 1.0
    assert nlu.parse("").intent == "Fallback"


def test_zero_width_and_rtl_characters_are_ignored(nlu):
    assert nlu.parse("he\u200bllo\u200f").intent == "Greeting"


def test_dev_set_accuracy(nlu):
    items = load_jsonl(NLU_DATA / "nlu_dev.jsonl")
    assert len(items) >= 150
    assert {i["intent"] for i in items} == {"SummarizeText", "DescribePhoto", "SpeakAnswer", "GenerateImage",
                                            "AskCoursePdfs", "Help", "Greeting", "Fallback"}
    accuracy, misses, _ = evaluate_nlu(nlu, items)
    assert accuracy >= 0.95, misses


def test_splits_are_disjoint():
    """Train, dev and the blind test splits share no message (a test item fixed moves to dev, not train)."""
    from bot.nlu import normalize

    def texts(name):
        return {normalize(i["text"]) for i in load_jsonl((NLU_DATA if name in ("nlu_train.jsonl", "nlu_dev.jsonl") else DATA) / name)}

    train, dev, test_b = texts("nlu_train.jsonl"), texts("nlu_dev.jsonl"), texts("nlu_test_b.jsonl")
    # the blind writer and we both wrote common short phrases ("thx", "bye"): a small coincidental overlap
    assert len((train | dev) & test_b) / len(test_b) < 0.1
    test_c = texts("nlu_test_c.jsonl")
    assert len(test_c) >= 250 and not (train | dev) & test_c  # items we had written too were dropped
    test_d = texts("nlu_test_d.jsonl")
    assert len(test_d) >= 250 and not (train | dev) & test_d  # the held-out split: nothing of it is trained on
    test_e = texts("nlu_test_e.jsonl")
    assert len(test_e) >= 250 and not (train | dev) & test_e  # the newest held-out split (d and e share 3 short phrases)
    test_a = texts("nlu_test_a.jsonl")
    studied = {normalize(m["text"]) for m in load_jsonl(NLU_DATA / "nlu_dev.jsonl") if m.get("from") == "test_a"}
    assert len(studied) >= 15 and studied <= test_a
    assert not train & studied  # misses of test a went to dev, never to train


@pytest.mark.parametrize("text,intent", [
    ("¿qué es una variable aleatoria?", "AskCoursePdfs"), ("qu'est-ce qu'une fonction ?", "AskCoursePdfs"),
    ("was ist eine Matrix?", "AskCoursePdfs"), ("o que é uma média?", "AskCoursePdfs"),
    ("hola", "Greeting"), ("merci beaucoup", "Greeting"), ("danke", "Greeting"), ("obrigado", "Greeting"),
    ("ayuda", "Help"), ("aide-moi", "Help"), ("Hilfe bitte", "Help"), ("ajuda", "Help"),
])
def test_other_languages(nlu, text, intent):
    r = nlu.parse(text)
    assert r.intent == intent
    if len(text.split()) >= 3:
        assert r.language != "en"


def test_training_is_deterministic_and_calibrated():
    """Two trainings on the same data give the same weights; the temperature comes from dev."""
    import numpy as np

    from bot.nlu import Example, LocalNlu
    from intents import specs

    class Bag:  # a deterministic stand-in embedder: hashed character trigrams
        model_id = "bag"

        def embed(self, texts):
            return np.stack([self.embed_one(t) for t in texts])

        def embed_one(self, text):
            v = np.zeros(64, np.float32)
            for i in range(len(text) - 2):
                v[hash(text[i:i + 3]) % 64] += 1
            n = np.linalg.norm(v)
            return v / n if n else v

    dev = [Example("hello there", "Greeting"), Example("what is a p-value", "AskCoursePdfs"),
           Example("draw a fox", "GenerateImage")]
    a = LocalNlu(specs(), Bag(), train=[], dev=dev, shipped=None)
    b = LocalNlu(specs(), Bag(), train=[], dev=dev, shipped=None)
    assert np.array_equal(a.w, b.w) and a.temperature == b.temperature
    p = a.probabilities("hello there")
    assert abs(float(p.sum()) - 1) < 1e-5


def test_calibration_table():
    from bot.nlu import calibration_table, expected_calibration_error

    rows = calibration_table([0.95, 0.9, 0.6, 0.3], [True, True, False, False], thresholds=(0.0, 0.5, 0.9))
    assert [r["n"] for r in rows] == [4, 3, 2]
    assert rows[0]["accuracy"] == 0.5 and rows[2]["accuracy"] == 1.0
    assert 0 < expected_calibration_error([0.95, 0.9, 0.6, 0.3], [True, True, False, False]) < 1


def test_unsure_question_uses_the_knowledge_base_as_evidence(nlu):
    """Where the classifier is unsure, a question whose words match course passages is a course question."""
    from bot.nlu import KB_EVIDENCE_SCORE

    text = "asn1 der decoding errors"
    plain = nlu.parse(text, evidence=None)
    calls = []

    def strong(q):
        calls.append(q)
        return KB_EVIDENCE_SCORE + 0.2

    r = nlu.parse(text, evidence=strong)
    if plain.confidence < nlu.evidence_below and plain.intent != "AskCoursePdfs":
        assert r.intent == "AskCoursePdfs" and r.rule == "kb-evidence" and calls and r.evidence_ms is not None
    else:  # sure already: the KB is not consulted
        assert not calls and r.intent == plain.intent
    assert nlu.parse("hello", evidence=strong).intent == "Greeting"


def test_specs_have_enough_varied_samples():
    from intents import specs

    for spec in specs():
        assert len(set(spec.samples)) >= 25, spec.name
        assert len(spec.samples) == len(set(spec.samples)), f"duplicate samples in {spec.name}"


@pytest.mark.parametrize("text", ["describe my photo please", "i need a summary",
                                  "book me a flight to rome"])
def test_an_intent_that_would_have_to_ask_or_fallback_listens_to_strong_course_evidence(nlu, text):
    """A message the classifier reads as a request with nothing to work on (no photo, no text), or as no
    request at all, is a course question when the course's passages match it strongly; weak evidence
    leaves it as it was."""
    from bot.nlu import KB_EVIDENCE_SCORE

    plain = nlu.parse(text, evidence=None)
    spec = nlu.specs[plain.intent]
    assert plain.intent == nlu.fallback or any(not plain.slots.satisfies(s.name) for s in spec.required_slots)
    strong = nlu.parse(text, evidence=lambda q: KB_EVIDENCE_SCORE + 0.3)
    weak = nlu.parse(text, evidence=lambda q: KB_EVIDENCE_SCORE - 0.3)
    assert strong.intent == "AskCoursePdfs" and strong.rule == "kb-evidence"
    assert weak.intent == plain.intent and weak.rule is None
    # with the photo attached, the request has what it needs: the knowledge base is not asked
    asked = []
    nlu.parse("describe my photo please", ["image"], evidence=lambda q: asked.append(q) or 1.0)
    assert not asked


def test_kb_evidence_reads_the_conversations_own_uploads(home):
    """A student's private PDF is evidence only for that student's conversation: the router passes the
    conversation's owner, and the NLU's KB evidence searches the course plus that owner's uploads."""
    from bot.router import Router
    from bot.roles import owner_of
    from bot.services import Services
    from bot.settings import load
    from kb.sample import render

    services = Services(load(home=home, backend="local"))
    owner = owner_of("web:zebra-fan")
    notes = "# My study notes\n\n## Zebras\nThe plains zebra lives in herds on the grasslands of East Africa. " \
            "Its stripes confuse biting flies.\n"
    assert services.kb.ingest_bytes("mine.pdf", render(notes), owner=owner).status == "added"
    question = "why do plains zebras have stripes"
    mine = services.kb.relevance(question, owner=owner)
    assert mine is not None and mine > 0.3
    assert services.kb.relevance(question) is None  # nobody else's scope holds it
    assert services.kb.relevance(question, owner=owner_of("web:someone-else")) is None
    from bot.nlu import _kb_evidence

    assert _kb_evidence(services)(question, owner=owner) == mine
    real, seen = services.nlu, []

    class Recording:
        def parse(self, text, kinds=(), *, course=None, owner=None):
            seen.append((course, owner))
            return real.parse(text, kinds, course=course, owner=owner)

    from bot.turn import Turn

    recorded = Services(services.settings, overrides={"nlu": Recording(), "kb": services.kb})
    reply = Router(recorded).handle(Turn(conversation="web:zebra-fan", channel="web", text=question))
    assert seen and seen[-1][1] == owner
    assert reply.intent == "AskCoursePdfs" and any(c.source == "mine.pdf (your file)" for c in reply.citations)


def test_the_evidence_threshold_is_the_deployments_setting(tmp_path):
    """A knowledge base whose scores are on another scale (Bedrock's vector store) gets its own threshold:
    the same score makes an unsure request a course question under the default and not under a stricter one."""
    from bot.nlu import KB_EVIDENCE_SCORE
    from bot.services import Services
    from bot.settings import load

    text, score = "book me a flight to rome", KB_EVIDENCE_SCORE + 0.1

    class Scored:
        def relevance(self, question, **scope):
            return score

    default = Services(load(home=tmp_path / "a", backend="local"), overrides={"kb": Scored()}).nlu
    strict = Services(load(home=tmp_path / "b", backend="local", kb_evidence_score=score + 0.05),
                      overrides={"kb": Scored()}).nlu
    assert default.evidence_at == KB_EVIDENCE_SCORE and strict.evidence_at == score + 0.05
    assert default.parse(text).intent == "AskCoursePdfs" and default.parse(text).rule == "kb-evidence"
    assert strict.parse(text).intent == default.parse(text, use_evidence=False).intent
