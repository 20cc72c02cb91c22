"""Local web chat channel: ``adapter`` (form fields -> Turn, Reply -> JSON, pure), ``app`` (the
FastAPI app and its routes), ``files`` (signed /files/ and /l/ short-link routes), ``static/``
(the one-page chat), ``lexmode`` (answered by a Lex bot alias), ``aws_lambda`` (the app on Lambda behind
the HTTP API, deployed as ``bot.channels.web.lambda_handler``)."""

from bot.channels.web.adapter import UPLOAD_TYPES, to_turn, to_web
from bot.channels.web.app import create_app
from bot.channels.web.aws_lambda import lambda_handler

__all__ = ["UPLOAD_TYPES", "create_app", "lambda_handler", "to_turn", "to_web"]
