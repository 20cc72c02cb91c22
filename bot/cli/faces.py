"""`coursebot faces index FOLDER [--collection NAME] [--json]`: add known faces to a Rekognition
collection (IndexFaces), each named after its file ("ada_lovelace.jpg" -> "ada_lovelace"), so photo
descriptions can say "this looks like ada lovelace" (SearchFacesByImage)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("faces", help="manage the Rekognition face collection for known faces",
                       description="Known faces for photo descriptions (AWS backend).")
    fsub = p.add_subparsers(dest="faces_command", metavar="ACTION")
    idx = fsub.add_parser("index", help="index every photo in FOLDER, named after its file",
                          description="Index the largest face of every photo in FOLDER into the collection "
                                      "(COURSEBOT_FACE_COLLECTION or --collection); the file name is the person's name.")
    idx.add_argument("folder", help="a folder of photos, one person per photo")
    idx.add_argument("--collection", help="collection id (default: COURSEBOT_FACE_COLLECTION)")
    idx.add_argument("--json", action="store_true", help="print one JSON object per photo")
    idx.set_defaults(run=run_index)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


def index_folder(folder: Path, vision: Any, max_bytes: int = 30_000_000) -> list[dict[str, Any]]:
    """Index each photo of ``folder`` (sorted by name). One result per file:
    ``{"file", "name", "status": indexed|no_face|skipped|failed, "face_id"?, "reason"?}``."""
    from bot.errors import CoursebotError
    from bot.files import sniff

    vision.ensure_collection()
    results = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        name = path.stem
        row: dict[str, Any] = {"file": path.name, "name": name}
        try:
            if path.stat().st_size > max_bytes:
                raise CoursebotError(f"larger than {max_bytes // 1_000_000} MB", code="too_large")
            with path.open("rb") as f:
                head = f.read(4096)
            if not sniff(head).startswith("image/"):
                row.update(status="skipped", reason="not a photo" + (" (by its name)" if path.suffix.lower() in _SUFFIXES else ""))
                results.append(row)
                continue
            r = vision.index_face(path.read_bytes(), name)
            if r["face_id"]:
                row.update(status="indexed", face_id=r["face_id"])
            else:
                row.update(status="no_face", reason="no face found")
        except CoursebotError as e:
            row.update(status="failed", reason=e.user_message)
        results.append(row)
    return results


def run_index(args: argparse.Namespace) -> int:
    import json

    from bot import settings as settings_mod
    from bot.aws.rekognition import RekognitionVision
    from bot.errors import CoursebotError

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"coursebot faces index: no such folder: {args.folder}", file=sys.stderr)
        return 2
    settings = settings_mod.get()
    if args.collection:
        settings = settings.model_copy(update={"face_collection": args.collection})
    if not settings.face_collection:
        print("coursebot faces index: set COURSEBOT_FACE_COLLECTION or pass --collection NAME.", file=sys.stderr)
        return 2
    try:
        results = index_folder(folder, RekognitionVision(settings), settings.max_attachment_bytes)
    except CoursebotError as e:
        print(f"coursebot faces index: {e.user_message}", file=sys.stderr)
        return 1
    for row in results:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            extra = f" ({row['reason']})" if row.get("reason") else ""
            print(f"{row['status']:8} {row['file']} -> {row['name']}{extra}")
    indexed = sum(r["status"] == "indexed" for r in results)
    if not args.json:
        print(f"{indexed} of {len(results)} files indexed into collection '{settings.face_collection}'.")
    return 0 if all(r["status"] in ("indexed", "skipped") for r in results) else 1
