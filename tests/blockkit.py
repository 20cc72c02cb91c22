"""Block Kit's published limits, checked the way Slack checks them (api.slack.com/reference/block-kit).

``problems(blocks, surface)`` lists every violation (empty when valid); tests assert it is empty.
Covers the block and element types coursebot sends: section, context, actions, header, divider,
input (plain_text_input), buttons, mrkdwn/plain_text objects, a Home tab view and a modal.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BLOCKS = {"message": 50, "home": 100, "modal": 100}
TEXT_TYPES = ("mrkdwn", "plain_text")


def _text(obj: Any, where: str, limit: int, out: list[str], plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        out.append(f"{where}: not a text object")
        return
    if plain_only and obj["type"] != "plain_text":
        out.append(f"{where}: must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        out.append(f"{where}: empty text")
    elif len(text) > limit:
        out.append(f"{where}: {len(text)} chars > {limit}")
    if obj["type"] == "mrkdwn" and "emoji" in obj:
        out.append(f"{where}: emoji is only for plain_text")


def _button(el: dict[str, Any], where: str, out: list[str], ids: set[str]) -> None:
    _text(el.get("text"), where + ".text", 75, out, plain_only=True)
    aid = el.get("action_id")
    if not aid or len(aid) > 255:
        out.append(f"{where}: action_id missing or > 255")
    elif aid in ids:
        out.append(f"{where}: duplicate action_id {aid}")
    else:
        ids.add(aid)
    if "value" in el and (not isinstance(el["value"], str) or len(el["value"]) > 2000):
        out.append(f"{where}: value > 2000 chars")
    if "url" in el and len(el["url"]) > 3000:
        out.append(f"{where}: url > 3000 chars")
    if el.get("style") not in (None, "primary", "danger"):
        out.append(f"{where}: bad style")


def problems(blocks: Any, surface: str = "message") -> list[str]:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    out: list[str] = []
    if not isinstance(blocks, list) or not blocks:
        return ["blocks: not a non-empty list"]
    if len(blocks) > MAX_BLOCKS[surface]:
        out.append(f"{len(blocks)} blocks > {MAX_BLOCKS[surface]}")
    block_ids: set[str] = set()
    for i, b in enumerate(blocks):
        where = f"blocks[{i}]"
        bid = b.get("block_id")
        if bid is not None:
            if not bid or len(bid) > 255 or bid in block_ids:
                out.append(f"{where}: block_id empty, > 255 or repeated")
            block_ids.add(bid)
        kind = b.get("type")
        if kind == "section":
            if "text" not in b and "fields" not in b:
                out.append(f"{where}: section needs text or fields")
            if "text" in b:
                _text(b["text"], where + ".text", 3000, out)
            for j, f in enumerate(b.get("fields") or []):
                _text(f, f"{where}.fields[{j}]", 2000, out)
            if len(b.get("fields") or []) > 10:
                out.append(f"{where}: more than 10 fields")
            if "accessory" in b and b["accessory"].get("type") == "button":
                _button(b["accessory"], where + ".accessory", out, set())
        elif kind == "context":
            els = b.get("elements") or []
            if not els or len(els) > 10:
                out.append(f"{where}: context needs 1-10 elements")
            for j, e in enumerate(els):
                if e.get("type") == "image":
                    continue
                _text(e, f"{where}.elements[{j}]", 3000, out)
        elif kind == "actions":
            els = b.get("elements") or []
            if not els or len(els) > 25:
                out.append(f"{where}: actions needs 1-25 elements")
            ids: set[str] = set()
            for j, e in enumerate(els):
                if e.get("type") != "button":
                    out.append(f"{where}.elements[{j}]: only buttons are checked here")
                    continue
                _button(e, f"{where}.elements[{j}]", out, ids)
        elif kind == "input":
            if surface != "modal":
                out.append(f"{where}: input blocks belong in modals")
            _text(b.get("label"), where + ".label", 2000, out, plain_only=True)
            if "hint" in b:
                _text(b["hint"], where + ".hint", 2000, out, plain_only=True)
            el = b.get("element") or {}
            if el.get("type") != "plain_text_input":
                out.append(f"{where}.element: only plain_text_input is checked here")
            aid = el.get("action_id")
            if not aid or len(aid) > 255:
                out.append(f"{where}.element: action_id missing or > 255")
            if "max_length" in el and not (isinstance(el["max_length"], int) and 1 <= el["max_length"] <= 3000):
                out.append(f"{where}.element: max_length not 1-3000")
            if "min_length" in el and not (isinstance(el["min_length"], int) and 0 <= el["min_length"] <= 3000):
                out.append(f"{where}.element: min_length not 0-3000")
            if "placeholder" in el:
                _text(el["placeholder"], where + ".element.placeholder", 150, out, plain_only=True)
            if "initial_value" in el and not isinstance(el["initial_value"], str):
                out.append(f"{where}.element: initial_value not a string")
        elif kind == "header":
            _text(b.get("text"), where + ".text", 150, out, plain_only=True)
        elif kind == "divider":
            pass
        else:
            out.append(f"{where}: unexpected block type {kind!r}")
    return out


def view_problems(view: Any) -> list[str]:
    """A Home tab view: type, blocks, and the view-level limits."""
    if isinstance(view, str):
        view = json.loads(view)
    out = []
    if view.get("type") != "home":
        out.append("view: type is not home")
    if len(view.get("private_metadata") or "") > 3000:
        out.append("view: private_metadata > 3000")
    if len(view.get("callback_id") or "") > 255:
        out.append("view: callback_id > 255")
    if len(json.dumps(view)) > 250_000:  # views.publish refuses views much larger than this
        out.append("view: too large")
    return out + problems(view.get("blocks"), "home")


def modal_problems(view: Any) -> list[str]:
    """A modal (views.open / a view_submission's ``update``): title, submit and close of at most 24
    plain_text chars, a submit button whenever it has an input, and the view-level limits."""
    if isinstance(view, str):
        view = json.loads(view)
    out = []
    if view.get("type") != "modal":
        out.append("view: type is not modal")
    _text(view.get("title"), "view.title", 24, out, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            _text(view[key], f"view.{key}", 24, out, plain_only=True)
    blocks = view.get("blocks") or []
    if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and "submit" not in view:
        out.append("view: an input needs a submit button")
    if len(view.get("private_metadata") or "") > 3000:
        out.append("view: private_metadata > 3000")
    if len(view.get("callback_id") or "") > 255:
        out.append("view: callback_id > 255")
    if len(json.dumps(view)) > 250_000:
        out.append("view: too large")
    return out + problems(blocks, "modal")
