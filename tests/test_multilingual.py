"""Course questions in other languages reach the KB; the reply says (in English) which language answers come in."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from bot.capabilities import Answer, Citation
from bot.router import Router
from bot.services import Services
from bot.turn import Turn


class RecordingKb:
    def __init__(self):
        self.asked = []

    def ask(self, question, session_id=None, history=()):
        self.asked.append(question)
        return Answer(True, "A random variable maps outcomes to numbers.", (Citation("stats.pdf", 3),))

    def search(self, query, k=5):
        return []

    def list(self):
        return []


def test_local_backend_searches_as_asked_and_says_answers_are_in_english(settings):
    kb = RecordingKb()
    router = Router(Services(settings, overrides={"kb": kb}))
    r = router.handle(Turn(conversation="m1", text="¿Qué es una variable aleatoria en estadística?"))
    assert r.intent == "AskCoursePdfs" and kb.asked == ["¿Qué es una variable aleatoria en estadística?"]
    assert "You asked in Spanish" in r.text and "answers come in English" in r.text


def test_aws_backend_translates_question_and_answer_with_amazon_translate(settings):
    from bot.aws.translate import AwsTranslator

    client = boto3.client("translate", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("translate_text", {"TranslatedText": "What is a random variable in statistics?",
                                         "SourceLanguageCode": "es", "TargetLanguageCode": "en"},
                      {"Text": "¿Qué es una variable aleatoria en estadística?", "SourceLanguageCode": "auto",
                       "TargetLanguageCode": "en"})
    stub.add_response("translate_text", {"TranslatedText": "Una variable aleatoria asigna números a resultados.",
                                         "SourceLanguageCode": "en", "TargetLanguageCode": "es"},
                      {"Text": "A random variable maps outcomes to numbers.", "SourceLanguageCode": "auto",
                       "TargetLanguageCode": "es"})
    kb = RecordingKb()
    with stub:
        router = Router(Services(settings, overrides={"kb": kb, "translator": AwsTranslator(client)}))
        r = router.handle(Turn(conversation="m2", text="¿Qué es una variable aleatoria en estadística?"))
        stub.assert_no_pending_responses()
    assert kb.asked == ["What is a random variable in statistics?"]
    assert "Una variable aleatoria" in r.text and "translated the answer" in r.text
    assert r.citations and r.citations[0].source == "stats.pdf"
