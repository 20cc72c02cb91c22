"""Amazon Translate: text to a target language, split under the 10,000-byte request limit."""

from __future__ import annotations

import re
from typing import Any

from bot import textutil
from bot.aws.clients import call, make_client
from bot.errors import InputError

MAX_BYTES = 9_000  # TranslateText accepts up to 10,000 bytes of UTF-8 per request
_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


class AwsTranslator:
    """Translator on Amazon Translate with automatic source-language detection.

    Args:
        client: a boto3 ``translate`` client.
    """

    def __init__(self, client: Any):
        self.client = client

    def translate(self, text: str, target_language: str) -> str:
        if not _CODE.match(target_language or ""):
            raise InputError(f"'{target_language}' is not a language code I know (try 'es', 'fr' or 'de').",
                             code="bad_language")
        out = []
        for piece in textutil.chunks(text, MAX_BYTES):
            r = call(self.client.translate_text, what="Amazon Translate", Text=piece, SourceLanguageCode="auto",
                     TargetLanguageCode=target_language)
            out.append(r["TranslatedText"])
        return " ".join(out)


def build(settings: Any, services: Any) -> AwsTranslator:
    return AwsTranslator(make_client("translate", settings))
