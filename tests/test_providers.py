"""The provider registry: selection per capability, flags, and the messages written from them."""

from __future__ import annotations

import importlib

import pytest

from bot import providers
from bot.errors import ConfigError, NotAvailable
from bot.services import Services


def test_every_registered_factory_exists():
    for cap, registered in providers.PROVIDERS.items():
        assert registered, cap
        for p in registered.values():
            module, _, attr = p.factory.partition(":")
            assert callable(getattr(importlib.import_module(module), attr)), p


def test_each_capability_has_a_default_per_backend_or_says_why(settings):
    for backend in ("local", "aws"):
        s = settings.model_copy(update={"backend": backend, "media_bucket": "b"})
        for cap in providers.CAPABILITIES:
            try:
                p = providers.select(cap, s)
            except NotAvailable as e:
                assert backend == "local" and cap in ("translator", "imagegen")
                assert "no offline engine" in e.user_message and "COURSEBOT_BACKEND=aws" in e.user_message
            else:
                assert backend in p.default_on


def test_a_setting_picks_the_provider_against_the_backend(settings):
    from bot.aws.polly import PollySpeech
    from bot.local.speech import EspeakSpeech

    assert isinstance(Services(settings.model_copy(update={"speech": "polly"})).speech, PollySpeech)
    aws = settings.model_copy(update={"backend": "aws", "speech": "espeak"})
    assert isinstance(Services(aws).speech, EspeakSpeech)


def test_settings_read_the_capability_variables(monkeypatch, home):
    from bot.settings import load

    monkeypatch.setenv("COURSEBOT_VISION", "rekognition")
    assert providers.select("vision", load()).name == "rekognition"


def test_an_unknown_provider_names_the_variable_and_the_choices(settings):
    with pytest.raises(ConfigError) as e:
        Services(settings.model_copy(update={"speech": "festival"})).speech
    assert e.value.user_message == "COURSEBOT_SPEECH must be one of: espeak, polly (got 'festival')."


def test_messages_come_from_the_flags(settings):
    providers.capability("_probe", "Probing")
    try:
        providers.register("_probe", "cloud", "bot.nowhere:build", title="Cloud Probe", offline=False,
                           needs=("kb_id",), default_on=("aws",))
        with pytest.raises(NotAvailable) as e:
            providers.select("_probe", settings)
        assert e.value.user_message == ("Probing has no offline engine, so it is not available on the local backend. "
                                        "Set COURSEBOT_BACKEND=aws and COURSEBOT_KB_ID (Cloud Probe) to enable it.")
        with pytest.raises(NotAvailable) as e:
            providers.select("_probe", settings.model_copy(update={"backend": "aws"}))
        assert e.value.code == "not_configured" and "COURSEBOT_KB_ID" in e.value.user_message
        with pytest.raises(NotAvailable) as e:  # the module is missing: not built yet, no traceback
            providers.build("_probe", settings.model_copy(update={"backend": "aws", "kb_id": "K"}), None)
        assert e.value.code == "not_built"
    finally:
        providers.CAPABILITIES.pop("_probe")
        providers.PROVIDERS.pop("_probe")


def test_a_missing_extra_says_how_to_install_it(settings, monkeypatch, tmp_path):
    (tmp_path / "probe_provider.py").write_text("import not_a_real_engine_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    providers.capability("_probe", "Probing")
    try:
        providers.register("_probe", "x", "probe_provider:build", title="X", offline=True, extra="speech",
                           default_on=("local",))
        with pytest.raises(NotAvailable) as e:
            providers.build("_probe", settings, None)
        assert e.value.code == "missing_extra" and "pip install 'coursebot[speech]'" in e.value.user_message
    finally:
        providers.CAPABILITIES.pop("_probe")
        providers.PROVIDERS.pop("_probe")


def test_services_are_typed():
    import typing

    hints = {name: typing.get_type_hints(getattr(Services, name).fget) for name in providers.CAPABILITIES}
    assert all(h["return"] is not typing.Any for h in hints.values())
    assert hints["speech"]["return"].__name__ == "Speech"
