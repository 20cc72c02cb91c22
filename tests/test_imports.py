"""`import bot` stays light: no boto3, slack_bolt, onnxruntime or langchain until a backend needs them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("boto3", "botocore", "slack_bolt", "slack_sdk", "onnxruntime", "langchain_aws", "langchain_core", "numpy")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    return {m.split(".")[0] for m in out}


def test_import_bot_is_light():
    assert not loaded_after("import bot") & set(HEAVY)


def test_core_modules_are_light():
    mods = loaded_after("import bot.turn, bot.errors, bot.router, bot.cli, bot.specs, bot.conversation, bot.files, intents; intents.registry()")
    assert not mods & {"boto3", "botocore", "slack_bolt", "onnxruntime", "langchain_aws", "langchain_core"}


def test_services_build_lazily():
    code = ("from bot.services import Services\nfrom bot.settings import load\n"
            "s = Services(load(backend='aws'))\n")
    assert "boto3" not in loaded_after(code)
