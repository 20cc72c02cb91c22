"""Local web chat channel: ``adapter`` (form fields -> Turn, Reply -> JSON, pure), ``app`` (the
FastAPI app and its routes), ``files`` (signed /files/ and /l/ short-link routes), ``static/``
(the one-page chat)."""

from bot.channels.web.adapter import UPLOAD_TYPES, to_turn, to_web
from bot.channels.web.app import create_app

__all__ = ["UPLOAD_TYPES", "create_app", "to_turn", "to_web"]
