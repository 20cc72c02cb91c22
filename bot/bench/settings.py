"""Settings only the benchmarks read, with the same rules as bot.settings: argument, COURSEBOT_* (or .env), default."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.settings import ENV_PREFIX, _describe


class BenchSettings(BaseSettings):
    """Benchmark settings. Every field reads ``COURSEBOT_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore")

    web_bench_sessions: int = Field(20, ge=1, le=500)  # `coursebot bench web`: concurrent sessions
    web_bench_turns: int = Field(10, ge=1, le=1000)  # ... and turns per session


def load(**overrides: Any) -> BenchSettings:
    """Build bench settings; an invalid value raises ConfigError naming the variable and allowed values."""
    try:
        return BenchSettings(**overrides)
    except ValidationError as e:
        raise ConfigError(" ".join(_describe(err) for err in e.errors())) from None
