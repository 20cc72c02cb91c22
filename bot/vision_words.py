"""Turning face and photo analysis (from Rekognition or the offline engines) into plain sentences.

Conventions shared by both backends: ``yaw``/``pitch`` in degrees, directions as seen in the photo
(negative yaw = toward the left of the picture, positive pitch = up), boxes as fractions of the
image width/height (``left``, ``top``, ``width``, ``height``) like Rekognition's BoundingBox.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

# Below this many degrees the eyes count as looking straight at the camera; Rekognition's
# EyeDirection is typically within ±5° for a direct gaze.
STRAIGHT_DEG = 8.0
SLIGHT_DEG = 20.0
FAR_DEG = 35.0


def eye_direction_words(yaw: float | None, pitch: float | None) -> str:
    """Words for a gaze direction, e.g. ``looking slightly to the left`` or ``looking at the camera``.

    Args:
        yaw: degrees, negative toward the left of the picture.
        pitch: degrees, positive upward.
    """
    if yaw is None and pitch is None:
        return "eye direction unknown"
    yaw = float(yaw or 0.0)
    pitch = float(pitch or 0.0)
    horizontal = _amount(abs(yaw)) if abs(yaw) >= STRAIGHT_DEG else None
    vertical = _amount(abs(pitch)) if abs(pitch) >= STRAIGHT_DEG else None
    if horizontal is None and vertical is None:
        return "looking at the camera"
    parts = []
    if horizontal is not None:
        parts.append(f"{horizontal}to the {'left' if yaw < 0 else 'right'}")
    if vertical is not None:
        parts.append(f"{vertical}{'up' if pitch > 0 else 'down'}")
    return "looking " + " and ".join(parts)


def _amount(deg: float) -> str:
    if deg < SLIGHT_DEG:
        return "slightly "
    if deg < FAR_DEG:
        return ""
    return "far "


def count_phrase(n: int, noun: str) -> str:
    words = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
             9: "nine", 10: "ten"}
    return f"{words.get(n, str(n))} {noun}{'' if n == 1 else 's'}"


def join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def position_words(box: dict[str, float]) -> str:
    """Where a box sits in the picture: ``on the left``, ``in the middle``, ``at the top right``."""
    cx = box.get("left", 0.0) + box.get("width", 0.0) / 2
    cy = box.get("top", 0.0) + box.get("height", 0.0) / 2
    col = "left" if cx < 0.36 else "right" if cx > 0.64 else ""
    row = "top" if cy < 0.33 else "bottom" if cy > 0.67 else ""
    if row and col:
        return f"at the {row} {col}"
    if row:
        return f"at the {row}"
    if col:
        return f"on the {col}"
    return "in the middle"


def face_sentence(face: dict[str, Any], index: int | None = None) -> str:
    """One face as a phrase: age, expression, eyes, gaze, where it is."""
    bits: list[str] = []
    age = face.get("age_range")
    if age:
        bits.append(f"aged about {age['low']}–{age['high']}")
    emotion = face.get("emotion")
    if emotion:
        bits.append(emotion.lower())
    if face.get("smile") is True:
        bits.append("smiling")
    eyes_open = face.get("eyes_open")
    if eyes_open is False:
        bits.append("with eyes closed")
    gaze = face.get("eye_direction")
    if gaze and eyes_open is not False:
        bits.append(gaze.get("words") or eye_direction_words(gaze.get("yaw"), gaze.get("pitch")))
    if face.get("glasses"):
        bits.append(f"wearing {face['glasses']}")
    where = position_words(face["box"]) if face.get("box") else ""
    who = "a person" if index is None else f"person {index}"
    text = f"{who} {where}".strip()
    return f"{text}, {join(bits)}" if bits else text


def faces_summary(faces: Sequence[dict[str, Any]]) -> str:
    if not faces:
        return "I don't see any faces."
    if len(faces) == 1:
        return f"I see one face: {face_sentence(faces[0])}."
    shown = [face_sentence(f, i + 1) for i, f in enumerate(faces[:5])]
    more = f" (and {len(faces) - 5} more)" if len(faces) > 5 else ""
    return f"I see {count_phrase(len(faces), 'face')}{more}: " + "; ".join(shown) + "."


def text_summary(lines: Iterable[str], limit: int = 200) -> str:
    lines = [ln.strip() for ln in lines if ln and ln.strip()]
    if not lines:
        return ""
    joined = " / ".join(lines)
    if len(joined) > limit:
        joined = joined[: limit - 1].rstrip() + "…"
    return f"The text in it reads: \"{joined}\"."


def labels_summary(labels: Sequence[dict[str, Any]], limit: int = 6) -> str:
    names = [str(lb["name"]).lower() for lb in labels[:limit] if lb.get("name")]
    if not names:
        return ""
    return f"It shows {join(names)}."
