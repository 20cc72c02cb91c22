"""Shared fixtures: an isolated COURSEBOT_HOME, no AWS credentials, no Slack tokens."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os

import bot  # noqa: F401  (first: it sets numpy's BLAS threads before numpy is imported)
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

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

# .ci/run sets CI=true: there a missing engine fails its tests instead of skipping them quietly.
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_engine(name: str, available: bool, hint: str = "`make test` installs it") -> None:
    """Skip the calling test (or module) when engine ``name`` is missing here; under CI, fail instead."""
    if available:
        return
    message = f"{name} is not installed ({hint})"
    if IN_CI:
        pytest.fail(f"{message}; under CI a missing engine fails the test instead of skipping it", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(module: str, name: str | None = None, hint: str = "`make test` installs it") -> ModuleType:
    """``pytest.importorskip`` that fails under CI: the imported module, or a skip (locally) / failure (CI)."""
    found = importlib.util.find_spec(module.split(".")[0]) is not None
    require_engine(name or module, found, hint)
    return importlib.import_module(module)


def has_program(program: str) -> bool:
    return shutil.which(program) is not None


def needs_engine(name: str, available: Callable[[], bool], hint: str = "`make test` installs it") -> Callable:
    """Decorator: the test needs engine ``name`` (``available()`` says whether it is here)."""
    def decorate(test: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> Any:
            require_engine(name, available(), hint)
            return test(*args, **kwargs)

        return run

    return decorate


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


@pytest.fixture
def moto_s3(monkeypatch):
    """An S3 client on moto (fake credentials, SigV4 like the product); the test creates its buckets."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))


@pytest.fixture
def serve_cli(monkeypatch, capsys):
    """Runs `coursebot serve --port 0` without serving: returns (what it printed, the app it would serve);
    COURSEBOT_INSTRUCTOR_TOKEN starts unset."""
    import uvicorn

    from bot.cli import build_parser
    from bot.cli import serve as web_cli

    seen: dict[str, Any] = {}

    def fake_run(self, sockets=None):
        seen["app"] = self.config.app
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    monkeypatch.delenv("COURSEBOT_INSTRUCTOR_TOKEN", raising=False)

    def serve() -> tuple[str, Any]:
        assert web_cli.run(build_parser().parse_args(["serve", "--port", "0"])) == 0
        return capsys.readouterr().out, seen["app"]

    return serve

# tests/badinputs.py is imported by name from the tests
import sys as _sys

_sys.path.insert(0, str(Path(__file__).parent))
