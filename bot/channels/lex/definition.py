"""The Lex V2 bot definition, generated from the intent specs (the same specs the local NLU learns from).

Two renderings of one model: the Lex JSON import format (``coursebot lex export``; zip the folder and
import it in the Lex console) and the ``BotLocales`` of the CloudFormation ``AWS::Lex::Bot`` in
``infra/template.yaml``. Slots are Optional in Lex: the code hook decides when a required value is
missing, because it can often fill it from the conversation ("read that aloud" speaks the previous
answer), and elicits it with the spec's prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from bot.specs import IntentSpec

BOT_NAME = "coursebot"
LOCALE_ID = "en_US"
LOCALE_NAME = "English (US)"
VOICE_ID = "Joanna"
NLU_CONFIDENCE_THRESHOLD = 0.40
IDLE_SESSION_TTL_SECONDS = 600
MAX_RETRIES = 2
FALLBACK_SIGNATURE = "AMAZON.FallbackIntent"
LEX_FALLBACK_NAME = "FallbackIntent"
MAX_UTTERANCE_CHARS = 500

# Built-in slot types of Lex V2 (not every Alexa/Lex V1 AMAZON.* type exists in V2).
BUILTIN_SLOT_TYPES = frozenset({
    "AMAZON.AlphaNumeric", "AMAZON.City", "AMAZON.Confirmation", "AMAZON.Country", "AMAZON.Date",
    "AMAZON.Duration", "AMAZON.EmailAddress", "AMAZON.FirstName", "AMAZON.FreeFormInput", "AMAZON.LastName",
    "AMAZON.Number", "AMAZON.Percentage", "AMAZON.PhoneNumber", "AMAZON.State", "AMAZON.StreetName",
    "AMAZON.Time", "AMAZON.UKPostalCode",
})


@dataclass(frozen=True)
class CustomSlotType:
    """A slot type we define in the bot, for spec types Lex V2 has no built-in for."""

    name: str
    description: str
    values: tuple[str, ...]


# Spec slot types without a Lex V2 built-in -> the custom type the bot defines for them.
CUSTOM_SLOT_TYPES: dict[str, CustomSlotType] = {
    "AMAZON.Language": CustomSlotType(
        "Language", "A language to speak or translate into (resolved to the value the user said).",
        ("English", "Spanish", "French", "German", "Italian", "Portuguese", "Dutch", "Swedish", "Danish",
         "Norwegian", "Polish", "Russian", "Turkish", "Arabic", "Hindi", "Japanese", "Korean", "Chinese",
         "Mandarin", "Cantonese"),
    ),
}

_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,100}$")  # Lex V2 intent, slot and slot type names


class DefinitionError(ValueError):
    """An intent spec that Lex V2 would reject; the message lists every problem."""


@dataclass(frozen=True)
class LexSlot:
    name: str
    slot_type: str
    description: str
    prompt: str
    priority: int


@dataclass(frozen=True)
class LexIntent:
    name: str
    description: str
    utterances: tuple[str, ...]
    slots: tuple[LexSlot, ...]
    parent: str | None
    dialog_hook: bool
    fulfillment_hook: bool = True


@dataclass(frozen=True)
class LexLocale:
    intents: tuple[LexIntent, ...]
    slot_types: tuple[CustomSlotType, ...]


def build(specs: Iterable[IntentSpec] | None = None) -> LexLocale:
    """The en_US locale for ``specs`` (default: every registered intent).

    Raises:
        DefinitionError: when a spec cannot become a Lex intent (bad name, braces in an utterance,
            a duplicate utterance, a slot type without a Lex equivalent).
    """
    if specs is None:
        from intents import specs as registered

        specs = registered()
    specs = list(specs)
    check(specs)
    intents = []
    types: dict[str, CustomSlotType] = {}
    for spec in specs:
        slots = []
        for i, s in enumerate(spec.slots, 1):
            custom = CUSTOM_SLOT_TYPES.get(s.type)
            if custom:
                types[custom.name] = custom
            slots.append(LexSlot(s.name, custom.name if custom else s.type, s.description, s.prompt, i))
        is_fallback = spec.lex_parent == FALLBACK_SIGNATURE
        intents.append(LexIntent(
            name=LEX_FALLBACK_NAME if is_fallback else spec.name,
            description=spec.description[:200],
            utterances=() if spec.lex_parent else tuple(spec.samples),
            slots=tuple(slots),
            parent=spec.lex_parent,
            dialog_hook=bool(slots),  # validate and elicit slots; slot-less intents go straight to fulfillment
        ))
    return LexLocale(tuple(intents), tuple(types.values()))


def check(specs: Sequence[IntentSpec]) -> None:
    """Raise DefinitionError listing every reason Lex V2 would reject these specs."""
    problems: list[str] = []
    names: set[str] = set()
    fallbacks = 0
    for spec in specs:
        if not _NAME.match(spec.name):
            problems.append(f"intent name {spec.name!r} is not a valid Lex name")
        if spec.name in names:
            problems.append(f"intent {spec.name!r} is defined twice")
        names.add(spec.name)
        if spec.lex_parent == FALLBACK_SIGNATURE:
            fallbacks += 1
            if spec.slots:
                problems.append(f"{spec.name}: AMAZON.FallbackIntent takes no slots")
            continue
        if spec.lex_parent:
            problems.append(f"{spec.name}: built-in parent {spec.lex_parent!r} is not supported by the exporter")
        if not spec.samples:
            problems.append(f"{spec.name}: has no sample utterances")
        seen: set[str] = set()
        for u in spec.samples:
            key = " ".join(u.lower().split())
            if not key or len(u) > MAX_UTTERANCE_CHARS:
                problems.append(f"{spec.name}: utterance {u[:40]!r} must be 1-{MAX_UTTERANCE_CHARS} characters")
            if "{" in u or "}" in u:
                problems.append(f"{spec.name}: utterance {u!r} has braces, which Lex reads as a slot reference")
            if key in seen:
                problems.append(f"{spec.name}: utterance {u!r} appears twice")
            seen.add(key)
        slot_names = set()
        for s in spec.slots:
            if not _NAME.match(s.name):
                problems.append(f"{spec.name}: slot name {s.name!r} is not a valid Lex name")
            if s.name in slot_names:
                problems.append(f"{spec.name}: slot {s.name!r} is defined twice")
            slot_names.add(s.name)
            if s.type not in BUILTIN_SLOT_TYPES and s.type not in CUSTOM_SLOT_TYPES:
                problems.append(f"{spec.name}.{s.name}: slot type {s.type!r} has no Lex V2 equivalent; "
                                "add it to CUSTOM_SLOT_TYPES in bot/channels/lex/definition.py")
            if not s.prompt.strip() or len(s.prompt) > 1000:
                problems.append(f"{spec.name}.{s.name}: the prompt must be 1-1000 characters")
    if fallbacks != 1:
        problems.append(f"exactly one intent must map to {FALLBACK_SIGNATURE} (found {fallbacks})")
    if problems:
        raise DefinitionError("The intent specs cannot become a Lex V2 bot:\n- " + "\n- ".join(problems))


# --- the Lex JSON import format -----------------------------------------------------------------------
def identifier(kind: str, name: str) -> str:
    """A stable 10-character Lex identifier derived from the resource's kind and name."""
    digest = hashlib.sha256(f"{kind}:{name}".encode()).hexdigest().upper()
    return "".join(c for c in digest if c.isalnum())[:10]


def _prompt(text: str) -> dict[str, Any]:
    return {"messageGroups": [{"message": {"plainTextMessage": {"value": text}}}],
            "maxRetries": MAX_RETRIES, "allowInterrupt": True}


def intent_body(intent: LexIntent) -> dict[str, Any]:
    """The intent as Lex's CreateIntent request body (camelCase, without the bot/locale ids)."""
    body: dict[str, Any] = {"description": intent.description}
    if intent.parent:
        body["parentIntentSignature"] = intent.parent
    if intent.utterances:
        body["sampleUtterances"] = [{"utterance": u} for u in intent.utterances]
    if intent.dialog_hook:
        body["dialogCodeHook"] = {"enabled": True}
    body["fulfillmentCodeHook"] = {"enabled": intent.fulfillment_hook}
    return body


def slot_body(slot: LexSlot) -> dict[str, Any]:
    """The slot as Lex's CreateSlot request body (without the slot type id, which Lex assigns)."""
    return {"description": slot.description[:200],
            "valueElicitationSetting": {"slotConstraint": "Optional", "promptSpecification": _prompt(slot.prompt)}}


def slot_type_body(t: CustomSlotType) -> dict[str, Any]:
    return {"description": t.description[:200],
            "slotTypeValues": [{"sampleValue": {"value": v}} for v in t.values],
            "valueSelectionSetting": {"resolutionStrategy": "OriginalValue"}}


# The import format and CloudFormation spell two things differently from the API bodies above.
_FILE_KEYS = {"messageGroups": "messageGroupsList"}
_CFN_VALUES = {"OriginalValue": "ORIGINAL_VALUE", "TopResolution": "TOP_RESOLUTION", "Concatenation": "CONCATENATION"}


def _file_form(value: Any) -> Any:
    if isinstance(value, dict):
        return {_FILE_KEYS.get(k, k): _file_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_file_form(v) for v in value]
    return value


def export_files(locale: LexLocale | None = None, bot_name: str = BOT_NAME) -> dict[str, dict[str, Any]]:
    """Relative path -> JSON document of the Lex JSON import format (zip them to import the bot)."""
    locale = locale or build()
    base = f"{bot_name}/BotLocales/{LOCALE_ID}"
    files: dict[str, dict[str, Any]] = {
        "Manifest.json": {"metadata": {"schemaVersion": "1", "fileFormat": "LexJson", "resourceType": "BOT"}},
        f"{bot_name}/Bot.json": {
            "name": bot_name, "identifier": identifier("bot", bot_name), "version": "DRAFT",
            "description": "coursebot: answers questions from the course PDFs, summarizes, describes photos, speaks and draws.",
            "dataPrivacy": {"childDirected": False}, "idleSessionTTLInSeconds": IDLE_SESSION_TTL_SECONDS,
        },
        f"{base}/BotLocale.json": {
            "name": LOCALE_NAME, "identifier": LOCALE_ID, "version": None, "description": None,
            "voiceSettings": {"voiceId": VOICE_ID, "engine": "neural"},
            "nluConfidenceThreshold": NLU_CONFIDENCE_THRESHOLD,
        },
    }
    for intent in locale.intents:
        doc = {"name": intent.name, "identifier": identifier("intent", intent.name), **_file_form(intent_body(intent))}
        if intent.slots:
            doc["slotPriorities"] = [{"priority": s.priority, "slotName": s.name} for s in intent.slots]
        files[f"{base}/Intents/{intent.name}/Intent.json"] = doc
        for slot in intent.slots:
            files[f"{base}/Intents/{intent.name}/Slots/{slot.name}/Slot.json"] = {
                "name": slot.name, "identifier": identifier("slot", f"{intent.name}.{slot.name}"),
                "slotTypeName": slot.slot_type, **_file_form(slot_body(slot))}
    for t in locale.slot_types:
        files[f"{base}/SlotTypes/{t.name}/SlotType.json"] = {
            "name": t.name, "identifier": identifier("slottype", t.name), **_file_form(slot_type_body(t))}
    return files


def write_export(out_dir: str, locale: LexLocale | None = None) -> tuple[list[str], str]:
    """Write the import-format files under ``out_dir`` plus ``coursebot-lex.zip`` of them.

    Returns:
        (the files written, the zip path).
    """
    import zipfile
    from pathlib import Path

    out = Path(out_dir)
    files = export_files(locale)
    written = []
    zip_path = out / f"{BOT_NAME}-lex.zip"
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, doc in sorted(files.items()):
            text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            z.writestr(rel, text)
            written.append(str(path))
    return written, str(zip_path)


# --- CloudFormation ---------------------------------------------------------------------------------
def _pascal(value: Any) -> Any:
    """camelCase Lex API keys -> the PascalCase CloudFormation property names."""
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:] if k not in _FILE_KEYS else "MessageGroupsList"): _pascal(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return _CFN_VALUES.get(value, value) if isinstance(value, str) else value


def cfn_bot_locale(locale: LexLocale | None = None) -> dict[str, Any]:
    """The en_US entry of ``AWS::Lex::Bot`` ``BotLocales``."""
    locale = locale or build()
    intents = []
    for intent in locale.intents:
        d = {"Name": intent.name, **_pascal(intent_body(intent))}
        if intent.slots:
            d["SlotPriorities"] = [{"Priority": s.priority, "SlotName": s.name} for s in intent.slots]
            d["Slots"] = [{"Name": s.name, "SlotTypeName": s.slot_type, **_pascal(slot_body(s))} for s in intent.slots]
        intents.append(d)
    out: dict[str, Any] = {
        "LocaleId": LOCALE_ID,
        "Description": LOCALE_NAME,
        "NluConfidenceThreshold": NLU_CONFIDENCE_THRESHOLD,
        "VoiceSettings": {"VoiceId": VOICE_ID, "Engine": "neural"},
        "Intents": intents,
    }
    if locale.slot_types:
        out["SlotTypes"] = [{"Name": t.name, **_pascal(slot_type_body(t))} for t in locale.slot_types]
    return out
