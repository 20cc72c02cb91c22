"""`coursebot bench vision`: local describe latency per image, and the bytes sent to Rekognition
after downscaling (measured on the request a stubbed Rekognition client actually receives)."""

from __future__ import annotations

import io
import time
from typing import Any

from bot.bench.core import Row, machine, peak_rss_mb, percentile

RUNS = 7


def _samples() -> dict[str, Any]:
    """Real photos from scikit-image when installed (dev extra), and rendered text."""
    from PIL import Image, ImageDraw, ImageFont

    out: dict[str, Any] = {}
    try:
        from skimage import data

        out["astronaut 512×512 (1 face)"] = Image.fromarray(data.astronaut())
        out["chelsea 451×300 (cat, no face)"] = Image.fromarray(data.chelsea())
        out["coffee 600×400 (no face)"] = Image.fromarray(data.coffee())
    except ImportError:
        pass
    im = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=60)
    draw.text((40, 40), "HELLO COURSE", fill="black", font=font)
    draw.text((40, 160), "Amazon Rekognition", fill="black", font=font)
    out["rendered text 900×300"] = im
    return out


def _png(im: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def bench_vision() -> list[Row]:
    from bot.local.vision import LocalVision, _FaceModels

    rows: list[Row] = []
    t = time.perf_counter()
    _FaceModels.get()
    rows.append(Row("vision", "local face+landmark+iris models load", round((time.perf_counter() - t) * 1000), "ms",
                    "first use in this process; " + machine()))
    engine = LocalVision()
    for name, im in _samples().items():
        data = _png(im)
        engine.describe(data)  # warm
        times = []
        for _ in range(RUNS):
            t = time.perf_counter()
            engine.describe(data)
            times.append((time.perf_counter() - t) * 1000)
        rows.append(Row("vision", f"local describe p50: {name}", round(percentile(times, 50), 1), "ms",
                        f"faces+iris (LiteRT) + Tesseract OCR, {RUNS} runs; {machine()}"))
    rows.append(Row("vision", "peak RSS after local describes", round(peak_rss_mb()), "MB",
                    "this bench process, local vision only; " + machine()))
    rows.extend(_rekognition_bytes())
    return rows


def _rekognition_bytes() -> list[Row]:
    """What RekognitionVision sends for big photos, seen by a botocore-stubbed client (no AWS call)."""
    import boto3
    import numpy as np
    from botocore.stub import ANY, Stubber
    from PIL import Image

    from bot.aws.rekognition import RekognitionVision
    from bot.settings import load

    rng = np.random.default_rng(0)
    # a phone-sized photo: a smooth scene with mild sensor noise, and a worst case of pure noise
    phone = np.empty((4000, 6000, 3), dtype=np.uint8)
    across = np.linspace(0, 200, 6000, dtype=np.float32)[None, :, None]
    for top in range(0, 4000, 500):  # in blocks, so the bench's own test data stays small in memory
        down = np.linspace(top / 4000 * 55, (top + 500) / 4000 * 55, 500, dtype=np.float32)[:, None, None]
        noise = rng.standard_normal((500, 6000, 3), dtype=np.float32) * 6
        phone[top:top + 500] = np.clip(across + down + noise, 0, 255).astype(np.uint8)
    inputs = {
        "6000×4000 phone-like JPEG q95": Image.fromarray(phone),
        "4000×3000 pure-noise JPEG q97": Image.fromarray(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)),
    }
    del phone
    rows = []
    for name, im in inputs.items():
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=95 if "q95" in name else 97)
        raw = buf.getvalue()
        client = boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench")
        sent: list[int] = []
        client.meta.events.register("provide-client-params.rekognition.*",
                                    lambda params, **kw: sent.append(len(params["Image"]["Bytes"])))
        with Stubber(client) as stub:
            stub.add_response("detect_moderation_labels", {"ModerationLabels": []}, {"Image": {"Bytes": ANY}, "MinConfidence": ANY})
            stub.add_response("detect_labels", {"Labels": []}, None)
            stub.add_response("detect_faces", {"FaceDetails": []}, None)
            stub.add_response("detect_text", {"TextDetections": []}, None)
            t = time.perf_counter()
            RekognitionVision(load(backend="aws"), client=client).describe(raw)
            ms = (time.perf_counter() - t) * 1000
        on = f"input {len(raw) / 1e6:.1f} MB; limit 5 MB inline; {machine()}"
        rows.append(Row("vision", f"bytes sent to Rekognition: {name}", max(sent), "bytes", on))
        rows.append(Row("vision", f"describe time (downscale + stubbed calls): {name}", round(ms), "ms", on))
    return rows
