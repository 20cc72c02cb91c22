"""The exported Lex V2 bot definition is the intent specs: same intents, same utterances, same slots
and prompts; its bodies validate against botocore's lexv2-models CreateIntent/CreateSlot/CreateSlotType."""

from __future__ import annotations

import json
import zipfile

import botocore.session
import pytest
from botocore.validate import ParamValidator

from bot.channels.lex import definition as ld
from bot.specs import IntentSpec, SlotSpec
from intents import specs

MODELS = botocore.session.get_session().get_service_model("lexv2-models")
IDS = {"botId": "ABCDEFGHIJ", "botVersion": "DRAFT", "localeId": "en_US"}


def _validate(operation: str, params: dict) -> None:
    report = ParamValidator().validate(params, MODELS.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def _files(tmp_path):
    files, zip_path = ld.write_export(str(tmp_path))
    docs = {p: json.loads((tmp_path / p).read_text()) for p in ld.export_files()}
    return docs, zip_path


def test_exported_intents_and_utterances_equal_the_specs(tmp_path):
    docs, _ = _files(tmp_path)
    base = "coursebot/BotLocales/en_US/Intents"
    exported = {d["name"]: d for p, d in docs.items() if p.startswith(base) and p.endswith("/Intent.json")}
    expected_names = {s.name if not s.lex_parent else "FallbackIntent" for s in specs()}
    assert set(exported) == expected_names
    for spec in specs():
        if spec.lex_parent:
            doc = exported["FallbackIntent"]
            assert doc["parentIntentSignature"] == "AMAZON.FallbackIntent" == spec.lex_parent
            assert "sampleUtterances" not in doc  # Lex's built-in fallback takes none
            assert doc["fulfillmentCodeHook"] == {"enabled": True}
            continue
        doc = exported[spec.name]
        assert [u["utterance"] for u in doc["sampleUtterances"]] == list(spec.samples)
        assert doc["description"] == spec.description
        assert doc["fulfillmentCodeHook"] == {"enabled": True}
        assert doc.get("dialogCodeHook") == ({"enabled": True} if spec.slots else None)
        slots = {p.rsplit("/", 2)[-2]: d for p, d in docs.items() if p.startswith(f"{base}/{spec.name}/Slots/")}
        assert list(slots) == [s.name for s in spec.slots]
        for s in spec.slots:
            slot = slots[s.name]
            prompt = slot["valueElicitationSetting"]["promptSpecification"]["messageGroupsList"][0]["message"]
            assert prompt == {"plainTextMessage": {"value": s.prompt}}
            assert slot["slotTypeName"] == ld.CUSTOM_SLOT_TYPES[s.type].name if s.type in ld.CUSTOM_SLOT_TYPES else s.type
            # required-ness is the code hook's job (it can fill values from the conversation)
            assert slot["valueElicitationSetting"]["slotConstraint"] == "Optional"
        assert doc.get("slotPriorities", []) == [{"priority": i, "slotName": s.name} for i, s in enumerate(spec.slots, 1)]


def test_export_layout_and_zip(tmp_path):
    docs, zip_path = _files(tmp_path)
    assert docs["Manifest.json"]["metadata"] == {"schemaVersion": "1", "fileFormat": "LexJson", "resourceType": "BOT"}
    assert docs["coursebot/Bot.json"]["dataPrivacy"] == {"childDirected": False}
    assert docs["coursebot/BotLocales/en_US/BotLocale.json"]["identifier"] == "en_US"
    with zipfile.ZipFile(zip_path) as z:
        assert sorted(z.namelist()) == sorted(docs)
        assert json.loads(z.read("coursebot/BotLocales/en_US/SlotTypes/Language/SlotType.json"))["name"] == "Language"
    ids = [d["identifier"] for d in docs.values() if "identifier" in d and d is not docs["coursebot/BotLocales/en_US/BotLocale.json"]]
    assert len(ids) == len(set(ids)) and all(len(i) == 10 and i.isalnum() for i in ids)


def test_bodies_validate_against_the_lexv2_models_api():
    locale = ld.build()
    for intent in locale.intents:
        _validate("CreateIntent", {**IDS, "intentName": intent.name, **ld.intent_body(intent)})
        for slot in intent.slots:
            _validate("CreateSlot", {**IDS, "intentId": "INTENTID01", "slotName": slot.name,
                                     "slotTypeId": slot.slot_type, **ld.slot_body(slot)})
    for t in locale.slot_types:
        _validate("CreateSlotType", {**IDS, "slotTypeName": t.name, **ld.slot_type_body(t)})
    enum = MODELS.shape_for("SlotValueResolutionStrategy").enum
    assert all(ld.slot_type_body(t)["valueSelectionSetting"]["resolutionStrategy"] in enum for t in locale.slot_types)


def test_cloudformation_locale_matches_the_export():
    locale = ld.cfn_bot_locale()
    by_name = {i["Name"]: i for i in locale["Intents"]}
    for spec in specs():
        name = "FallbackIntent" if spec.lex_parent else spec.name
        assert [u["Utterance"] for u in by_name[name].get("SampleUtterances", [])] == ([] if spec.lex_parent else list(spec.samples))
        assert [s["Name"] for s in by_name[name].get("Slots", [])] == [s.name for s in spec.slots]
    assert locale["SlotTypes"][0]["ValueSelectionSetting"] == {"ResolutionStrategy": "ORIGINAL_VALUE"}


@pytest.mark.parametrize("bad, problem", [
    (IntentSpec("Bad Name", "d", ("hi",)), "not a valid Lex name"),
    (IntentSpec("Book", "d", ("book {city}",)), "braces"),
    (IntentSpec("Book", "d", ("book it", "Book  it")), "appears twice"),
    (IntentSpec("Book", "d", ()), "no sample utterances"),
    (IntentSpec("Book", "d", ("book",), slots=(SlotSpec("when", "AMAZON.Weekday", "When?"),)), "no Lex V2 equivalent"),
])
def test_specs_lex_would_reject_are_refused_with_a_clear_message(bad, problem):
    with pytest.raises(ld.DefinitionError, match=problem):
        ld.build([*specs(), bad])


def test_exactly_one_fallback_is_required():
    with pytest.raises(ld.DefinitionError, match="exactly one intent must map to AMAZON.FallbackIntent"):
        ld.build([s for s in specs() if not s.lex_parent])


def test_cli_export(tmp_path, capsys):
    from bot.cli import main

    assert main(["lex", "export", "--out", str(tmp_path / "out")]) == 0
    assert f"{len(specs())} intents" in capsys.readouterr().out
    assert (tmp_path / "out" / "coursebot-lex.zip").is_file()
    assert (tmp_path / "out" / "coursebot" / "BotLocales" / "en_US" / "Intents" / "Greeting" / "Intent.json").is_file()
