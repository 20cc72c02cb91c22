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


def _imports(path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_intents_import_no_backend():
    """Intents reach engines through ``services.<capability>``, never bot.aws, bot.local or kb internals."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "intents"
    files = sorted(folder.glob("*.py"))
    assert len(files) >= 8
    offending = {f"{f.name}: {m}" for f in files for m in _imports(f)
                 if m in ("kb", "bot.aws", "bot.local") or m.startswith(("kb.", "bot.aws.", "bot.local."))}
    assert not offending, sorted(offending)


def test_backend_import_check_sees_function_level_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from bot.aws.clients import call\n    import kb.extractive\n")
    assert {"bot.aws.clients", "kb.extractive"} <= _imports(probe)
