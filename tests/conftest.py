"""Shared fixtures: an isolated COURSEBOT_HOME, no AWS credentials, no Slack tokens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach AWS or Slack: make any accidental real call fail fast.
for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
    os.environ.pop(var, None)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for var in [v for v in os.environ if v.startswith("COURSEBOT_")]:
    os.environ.pop(var)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("COURSEBOT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def settings(home):
    from bot.settings import load

    return load(home=home, backend="local")


@pytest.fixture
def services(settings):
    from bot.services import Services

    return Services(settings)


@pytest.fixture
def router(services):
    from bot.router import Router

    return Router(services)

# tests/badinputs.py is imported by name from the tests
import sys as _sys

_sys.path.insert(0, str(Path(__file__).parent))
