"""The seen-delivery stores' old import path: they live in :mod:`bot.channels.slack.dedupe`."""

from bot.channels.slack.dedupe import DEFAULT_TTL_SECONDS, DedupeStore, DynamoDedupe, MemoryDedupe, SqliteDedupe, build

__all__ = ["DEFAULT_TTL_SECONDS", "DedupeStore", "DynamoDedupe", "MemoryDedupe", "SqliteDedupe", "build"]
