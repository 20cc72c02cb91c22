"""`coursebot doctor`: what is installed and what each capability will use, for an operator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import require_engine

ROOT = Path(__file__).resolve().parent.parent
SECRET = "xoxb-secret-value"


def _doctor(tmp_path, *args, path: str | None = None, **env):
    full = {**os.environ, "COURSEBOT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": SECRET, **env}
    full.pop("COURSEBOT_BACKEND", None)
    if path is not None:
        full["PATH"] = path
    return subprocess.run([sys.executable, "-m", "bot.cli", "doctor", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def test_doctor_json_on_the_full_install(tmp_path):
    require_engine("espeak-ng", shutil.which("espeak-ng") is not None)
    require_engine("tesseract", shutil.which("tesseract") is not None)
    require_engine("an English word list (Debian package wamerican)", Path("/usr/share/dict/words").is_file())
    p = _doctor(tmp_path, "--json")
    assert SECRET not in p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    data = json.loads(p.stdout)
    assert {"backend", "ok", "capabilities", "kb", "settings"} <= set(data)
    assert data["backend"] == "local" and data["ok"] is True and p.returncode == 0, p.stdout
    caps = {c["capability"]: c for c in data["capabilities"]}
    for c in caps.values():
        assert {"capability", "provider", "usable", "missing", "fix"} <= set(c)
    assert caps["speech"]["provider"] == "espeak" and caps["speech"]["usable"] is True
    assert caps["imagegen"]["usable"] is False and "not available here" in caps["imagegen"]["note"]
    assert data["settings"]["SLACK_BOT_TOKEN"] is True and data["settings"]["SLACK_APP_TOKEN"] is False
    assert data["kb"]["provider"] == "local" and data["kb"]["chunks"] == 0
    assert caps["kb"]["word_list"]["installed"] is True and caps["kb"]["word_list"]["fix"] is None
    assert caps["kb"]["dictionaries"] == {"languages": ["de", "es", "fr", "it", "pt"], "installed": True, "fix": None}


def test_doctor_fails_and_says_how_to_fix_when_an_engine_is_missing(tmp_path):
    tesseract = shutil.which("tesseract")
    require_engine("tesseract", tesseract is not None)
    bin_dir = tmp_path / "bin"  # a PATH with tesseract but without espeak-ng
    bin_dir.mkdir()
    (bin_dir / "tesseract").symlink_to(tesseract)
    p = _doctor(tmp_path, "--json", path=str(bin_dir))
    assert p.returncode == 1, p.stdout + p.stderr
    data = json.loads(p.stdout)
    speech = next(c for c in data["capabilities"] if c["capability"] == "speech")
    assert data["ok"] is False and speech["usable"] is False
    assert speech["missing"] == ["espeak-ng"] and "make install" in speech["fix"]
    text = _doctor(tmp_path, path=str(bin_dir))  # the text report says the same
    assert text.returncode == 1 and "espeak-ng" in text.stdout and "make install" in text.stdout
    assert SECRET not in text.stdout


def test_doctor_check_aws_reports_failures_in_one_line(tmp_path):
    p = _doctor(tmp_path, "--check-aws", "--json", AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="",
                AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
                COURSEBOT_AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_EC2_METADATA_DISABLED="true")
    assert "Traceback" not in p.stderr
    checks = json.loads(p.stdout)["aws"]
    assert checks and checks[0]["check"] == "sts get_caller_identity" and checks[0]["ok"] is False
    assert all("\n" not in c["detail"] for c in checks)
