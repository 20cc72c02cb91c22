"""Which sentences the offline KB answers with, over the sample course: the sentence that answers the
question asked (a definition for "what is", a price for "how much", a size for "maximum size"), from
the document about what was asked."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from bot.services import Services
    from bot.settings import load
    from kb.sample import build

    home = tmp_path_factory.mktemp("kbhome")
    services = Services(load(home=home, backend="local"))
    services.kb.ingest([str(p) for p in build(home / "sample")])
    return services.kb


@pytest.mark.parametrize("question,expected,source", [
    ("What is Amazon Polly?", "converts written text into lifelike speech", "02-amazon-polly.pdf"),
    ("What is Amazon Comprehend?", "natural language processing service", "04-amazon-comprehend.pdf"),
    ("What is a knowledge base in Bedrock?", "A knowledge base reads documents", "06-knowledge-bases.pdf"),
    ("How much does Rekognition cost?", "billed per image", "03-amazon-rekognition.pdf"),
    ("What is the maximum size of an S3 object?", "up to 5 TB", "10-amazon-s3.pdf"),
    ("How long can a Lambda function run?", "at most 15 minutes", "08-aws-lambda.pdf"),
])
def test_answer_sentence(kb, question, expected, source):
    answer = kb.ask(question)
    assert answer.found
    assert expected in answer.text, answer.text
    assert answer.citations[0].source == source


def test_off_topic_abstains(kb):
    assert not kb.ask("Who won the football world cup in 1998?").found
