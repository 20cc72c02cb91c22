"""Photo description on AWS: Rekognition (moderation, labels, faces with EyeDirection, text,
celebrities, a face collection), an optional SageMaker image classifier and an optional Bedrock
vision caption.

Order matters for cost: the photo is validated and shrunk under 5 MB before any call; moderation
runs first and an unsafe photo stops there; celebrity and collection searches run only when
DetectFaces found a face (SearchFacesByImage even fails without one).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot import images
from bot.aws.clients import call, make_client
from bot.capabilities import PhotoDescription
from bot.errors import InputError, ServiceError
from bot.vision_words import eye_direction_words, faces_summary, join, labels_summary, text_summary

log = logging.getLogger(__name__)

# Top-level moderation categories that make us decline to describe a photo (Rekognition's
# taxonomy v7 and the older v6 names). Milder ones (Alcohol, Swimwear, Gambling...) become a note.
DECLINE = {
    "Explicit", "Explicit Nudity", "Non-Explicit Nudity of Intimate parts and Kissing", "Nudity",
    "Violence", "Visually Disturbing", "Hate Symbols", "Graphic Violence", "Graphic Violence Or Gore",
}
WHAT = "the image analysis service (Amazon Rekognition)"


class RekognitionVision:
    """The AWS Vision. Every client is injectable (tests pass botocore-stubbed clients).

    Args:
        settings: coursebot settings (face_collection, classifier_endpoint, vision_model_id, ...).
        client: a ``rekognition`` client; ``sagemaker`` a ``sagemaker-runtime`` client;
            ``bedrock`` a ``bedrock-runtime`` client. Built lazily from settings when not given.
    """

    def __init__(self, settings: Any, client: Any = None, sagemaker: Any = None, bedrock: Any = None):
        self.settings = settings
        self._client = client
        self._sagemaker = sagemaker
        self._bedrock = bedrock
        self.last_request_bytes: int | None = None  # what was sent, for the bench

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("rekognition", self.settings)
        return self._client

    @property
    def sagemaker(self) -> Any:
        if self._sagemaker is None:
            self._sagemaker = make_client("sagemaker-runtime", self.settings)
        return self._sagemaker

    @property
    def bedrock(self) -> Any:
        if self._bedrock is None:
            self._bedrock = make_client("bedrock-runtime", self.settings)
        return self._bedrock

    def describe(self, image: bytes, mime: str = "image/jpeg") -> PhotoDescription:
        s = self.settings
        prepared = images.prepare(image, max_bytes=images.REKOGNITION_MAX_BYTES,
                                  max_pixels=getattr(s, "vision_max_pixels", images.MAX_PIXELS))
        self.last_request_bytes = len(prepared.data)
        img = {"Bytes": prepared.data}
        notes = list(prepared.notes)

        moderation = self._moderation(img)
        declined = sorted({m["parent"] or m["name"] for m in moderation
                           if (m["parent"] or m["name"]) in DECLINE or m["name"] in DECLINE})
        if declined:
            return PhotoDescription(
                summary=("I'd rather not describe this image: it appears to contain "
                         f"{join([d.lower() for d in declined])} content. Please send a different photo."),
                moderation=tuple(moderation), notes=("declined",))
        mild = sorted({m["parent"] or m["name"] for m in moderation})
        if mild:
            notes.append(f"Content note: it may show {join([m.lower() for m in mild])}.")

        labels = self._labels(img)
        faces = self._faces(img)
        lines = self._text(img)
        celebrities = self._celebrities(img) if faces else []
        known = self._known_faces(img) if faces and s.face_collection else []
        classification = self._classify(prepared) if s.classifier_endpoint else None
        caption = self._caption(prepared) if s.vision_model_id else None

        parts = []
        if caption:
            parts.append(caption)
        else:
            parts.append(labels_summary(labels))
        parts.append(faces_summary(faces))
        if celebrities:
            parts.append("This looks like " + join(
                [f"{c['name']} ({c['confidence']:.0f}% match)" for c in celebrities]) + ".")
        if known:
            parts.append("This looks like " + join(
                [f"{k['name']} from your collection ({k['similarity']:.0f}% similar)" for k in known]) + ".")
        parts.append(text_summary(lines))
        if classification:
            parts.append(f"The custom classifier says: {classification['label']}"
                         + (f" ({classification['confidence']:.0f}%)." if classification.get("confidence") is not None else "."))
        labels_out = list(labels)
        if classification:
            labels_out.append({"name": classification["label"], "confidence": classification.get("confidence"),
                               "source": "classifier"})
        return PhotoDescription(summary=" ".join(p for p in parts if p), labels=tuple(labels_out),
                                faces=tuple(faces), text=tuple(lines), celebrities=tuple(celebrities),
                                known_faces=tuple(known), moderation=tuple(moderation), notes=tuple(notes))

    # -- Rekognition calls --
    def _moderation(self, img: dict) -> list[dict[str, Any]]:
        r = call(self.client.detect_moderation_labels, Image=img,
                 MinConfidence=float(self.settings.moderation_min_confidence), what=WHAT)
        return [{"name": m["Name"], "parent": m.get("ParentName") or "", "confidence": round(m.get("Confidence", 0), 1)}
                for m in r.get("ModerationLabels", [])]

    def _labels(self, img: dict) -> list[dict[str, Any]]:
        r = call(self.client.detect_labels, Image=img, MaxLabels=int(self.settings.vision_max_labels),
                 MinConfidence=float(self.settings.vision_min_confidence), what=WHAT)
        out = []
        for lb in r.get("Labels", []):
            item = {"name": lb["Name"], "confidence": round(lb.get("Confidence", 0), 1)}
            if lb.get("Instances"):
                item["count"] = len(lb["Instances"])
            if lb.get("Parents"):
                item["parents"] = [p["Name"] for p in lb["Parents"]]
            out.append(item)
        return out

    def _faces(self, img: dict) -> list[dict[str, Any]]:
        r = call(self.client.detect_faces, Image=img, Attributes=["ALL"], what=WHAT)
        faces = []
        for fd in r.get("FaceDetails", []):
            bb = fd.get("BoundingBox", {})
            face: dict[str, Any] = {
                "box": {"left": round(bb.get("Left", 0), 4), "top": round(bb.get("Top", 0), 4),
                        "width": round(bb.get("Width", 0), 4), "height": round(bb.get("Height", 0), 4)},
                "confidence": round(fd.get("Confidence", 0), 1),
            }
            if "AgeRange" in fd:
                face["age_range"] = {"low": fd["AgeRange"]["Low"], "high": fd["AgeRange"]["High"]}
            emotions = sorted(fd.get("Emotions", []), key=lambda e: -e.get("Confidence", 0))
            if emotions:
                face["emotions"] = [{"type": e["Type"], "confidence": round(e["Confidence"], 1)} for e in emotions[:3]]
                top = emotions[0]
                if top.get("Confidence", 0) >= 50 and top["Type"] not in ("UNKNOWN",):
                    face["emotion"] = {"CALM": "calm", "HAPPY": "happy", "SAD": "sad", "ANGRY": "angry",
                                       "CONFUSED": "confused", "DISGUSTED": "disgusted", "SURPRISED": "surprised",
                                       "FEAR": "afraid"}.get(top["Type"], top["Type"].lower())
            for key, name in (("Smile", "smile"), ("EyesOpen", "eyes_open"), ("MouthOpen", "mouth_open")):
                if key in fd:
                    face[name] = bool(fd[key]["Value"])
            if fd.get("Sunglasses", {}).get("Value"):
                face["glasses"] = "sunglasses"
            elif fd.get("Eyeglasses", {}).get("Value"):
                face["glasses"] = "glasses"
            if "Gender" in fd:
                face["gender"] = {"value": fd["Gender"]["Value"], "confidence": round(fd["Gender"]["Confidence"], 1)}
            gaze = fd.get("EyeDirection")
            if gaze:
                # Rekognition: negative yaw toward the left of the picture, positive pitch up
                face["eye_direction"] = {"yaw": round(gaze.get("Yaw", 0), 1), "pitch": round(gaze.get("Pitch", 0), 1),
                                         "confidence": round(gaze.get("Confidence", 0), 1),
                                         "words": eye_direction_words(gaze.get("Yaw"), gaze.get("Pitch"))}
            if "Pose" in fd:
                face["pose"] = {k.lower(): round(v, 1) for k, v in fd["Pose"].items()}
            faces.append(face)
        faces.sort(key=lambda f: f["box"]["left"])
        return faces

    def _text(self, img: dict) -> list[str]:
        r = call(self.client.detect_text, Image=img, what=WHAT)
        return [t["DetectedText"] for t in r.get("TextDetections", [])
                if t.get("Type") == "LINE" and t.get("Confidence", 0) >= float(self.settings.vision_min_confidence)]

    def _celebrities(self, img: dict) -> list[dict[str, Any]]:
        r = call(self.client.recognize_celebrities, Image=img, what=WHAT)
        out = []
        for c in r.get("CelebrityFaces", []):
            conf = c.get("MatchConfidence", 0)
            if conf < float(self.settings.vision_min_confidence):
                continue
            item = {"name": c["Name"], "confidence": round(conf, 1)}
            if c.get("Urls"):
                item["urls"] = list(c["Urls"])
            out.append(item)
        return out

    def _known_faces(self, img: dict) -> list[dict[str, Any]]:
        try:
            r = call(self.client.search_faces_by_image, CollectionId=self.settings.face_collection, Image=img,
                     MaxFaces=5, FaceMatchThreshold=float(self.settings.face_match_threshold),
                     what="the face collection")
        except ServiceError as e:
            if e.code == "not_found":
                log.warning("face collection %r not found", self.settings.face_collection)
                return []
            raise
        best: dict[str, float] = {}
        for m in r.get("FaceMatches", []):
            name = m.get("Face", {}).get("ExternalImageId") or "an unnamed face"
            best[name] = max(best.get(name, 0), m.get("Similarity", 0))
        return [{"name": name.replace("_", " "), "similarity": round(sim, 1)}
                for name, sim in sorted(best.items(), key=lambda kv: -kv[1])]

    # -- optional extras --
    def _classify(self, prepared: images.PreparedImage) -> dict[str, Any] | None:
        s = self.settings
        r = call(self.sagemaker.invoke_endpoint, EndpointName=s.classifier_endpoint,
                 ContentType=s.classifier_content_type, Accept="application/json", Body=prepared.data,
                 what="the image classifier endpoint")
        raw = r["Body"].read(1_000_000)
        return parse_classification(raw, [x.strip() for x in s.classifier_labels.split(",") if x.strip()])

    def _caption(self, prepared: images.PreparedImage) -> str | None:
        fmt = "png" if prepared.mime == "image/png" else "jpeg"
        r = call(self.bedrock.converse, modelId=self.settings.vision_model_id,
                 messages=[{"role": "user", "content": [
                     {"image": {"format": fmt, "source": {"bytes": prepared.data}}},
                     {"text": "Describe this photo for a student in two plain sentences. Do not guess who people are."},
                 ]}],
                 inferenceConfig={"maxTokens": 200, "temperature": 0.2}, what="the Bedrock vision model")
        if r.get("stopReason") == "content_filtered":
            return None
        texts = [c["text"] for c in r.get("output", {}).get("message", {}).get("content", []) if "text" in c]
        caption = " ".join(t.strip() for t in texts if t.strip())
        return caption or None

    # -- face collections --
    def index_face(self, image: bytes, name: str) -> dict[str, Any]:
        """Add the largest face in ``image`` to the collection under ``name`` (IndexFaces).

        Returns:
            ``{"name", "face_id", "faces_in_photo"}``; ``face_id`` is None when no face was found.
        """
        prepared = images.prepare(image, name=name)
        r = call(self.client.index_faces, CollectionId=self.settings.face_collection, Image={"Bytes": prepared.data},
                 ExternalImageId=external_id(name), MaxFaces=1, QualityFilter="AUTO", DetectionAttributes=[],
                 what="the face collection")
        records = r.get("FaceRecords", [])
        return {"name": name, "face_id": records[0]["Face"]["FaceId"] if records else None,
                "faces_in_photo": len(records) + len(r.get("UnindexedFaces", []))}

    def ensure_collection(self) -> bool:
        """Create the collection when it does not exist. Returns True when it was created."""
        from botocore.exceptions import ClientError

        try:
            call(self.client.create_collection, CollectionId=self.settings.face_collection, what="the face collection")
            return True
        except ServiceError as e:
            cause = e.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "ResourceAlreadyExistsException":
                return False
            raise


def external_id(name: str) -> str:
    """A name as Rekognition's ExternalImageId (``[a-zA-Z0-9_.\\-:]+``, ≤255): spaces become ``_``."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9_.\-:]+", "_", name.strip()).strip("_")
    if not cleaned:
        raise InputError(f"'{name}' can't be used as a face name; use letters and digits.", code="bad_name")
    return cleaned[:255]


def parse_classification(raw: bytes, labels: list[str]) -> dict[str, Any] | None:
    """The label from a classifier endpoint's answer, whatever common shape it has.

    Accepts JSON ``{"predicted_label": ...}``, ``{"labels": [...], "probabilities": [...]}``,
    ``{"probabilities": [...]}`` or a bare list of probabilities (names from ``labels``, e.g. the
    seeds' unclassified/up/down), or a plain-text label.
    """
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return {"label": text[:100]} if text else None
    if isinstance(data, dict):
        probs = data.get("probabilities") or data.get("probability") or data.get("scores")
        names = data.get("labels") or labels
        if data.get("predicted_label") is not None:
            label = data["predicted_label"]
            conf = max(probs) * 100 if isinstance(probs, list) and probs else None
            return {"label": str(label), "confidence": None if conf is None else round(conf, 1)}
        data = probs if probs is not None else data.get("prediction")
    else:
        names = labels
    if isinstance(data, list) and data and all(isinstance(p, (int, float)) for p in data):
        i = max(range(len(data)), key=lambda j: data[j])
        name = names[i] if i < len(names) else f"class {i}"
        return {"label": str(name), "confidence": round(float(data[i]) * 100, 1)}
    if isinstance(data, (str, int)):
        return {"label": str(data)}
    raise ServiceError("The image classifier endpoint answered in a form I don't understand.", code="bad_response")


def build(settings: Any, services: Any) -> RekognitionVision:
    return RekognitionVision(settings)

