"""Photo input handling: type from the bytes, limits, conversion, downscaling, bomb guard, memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from bot import images
from bot.errors import InputError


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def test_jpeg_within_limit_passes_through_byte_for_byte(astronaut):
    raw = encode(astronaut, "JPEG", quality=90)
    p = images.prepare(raw)
    assert p.data == raw and p.mime == "image/jpeg" and (p.width, p.height) == (512, 512)
    assert not p.changed and p.notes == ()


@pytest.mark.parametrize("fmt,mime", [("WEBP", "image/webp"), ("BMP", "image/bmp"), ("TIFF", "image/tiff")])
def test_other_formats_are_converted_to_jpeg(astronaut, fmt, mime):
    raw = encode(astronaut, fmt)
    assert images.check_kind(raw) == mime
    p = images.prepare(raw)
    assert p.mime == "image/jpeg" and p.data[:3] == b"\xff\xd8\xff"
    assert p.original_mime == mime and (p.width, p.height) == (512, 512)
    assert any("converted" in n for n in p.notes)


def test_animated_gif_uses_first_frame(astronaut):
    frames = [astronaut.convert("P"), Image.new("P", (512, 512), 3), Image.new("P", (512, 512), 9)]
    raw = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    p = images.prepare(raw, name="anim.gif")
    assert p.mime == "image/jpeg"
    assert any("first frame" in n for n in p.notes)
    first = Image.open(io.BytesIO(p.data)).convert("RGB")
    # the first frame is the photo (varied pixels), not a flat later frame
    assert np.asarray(first).std() > 20


def test_transparent_png_gets_white_background():
    im = Image.new("RGBA", (200, 120), (0, 0, 0, 0))
    rgb = images.open_image(encode(im, "PNG"))
    assert rgb.mode == "RGB" and rgb.getpixel((10, 10)) == (255, 255, 255)


def test_exif_orientation_is_applied(astronaut):
    tall = astronaut.resize((300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    raw = encode(tall, "JPEG", exif=exif)
    assert images.open_image(raw).size == (200, 300)


@pytest.mark.parametrize("payload,code,words", [
    (b"", "not_an_image", "empty (0 bytes)"),
    (b"<!DOCTYPE html><html><body>not a photo</body></html>", "not_an_image", "web page (HTML)"),
    (b"%PDF-1.7\n1 0 obj<<>>endobj\n", "not_an_image", "PDF document"),
    (bytes(np.random.default_rng(1).integers(1, 256, 4096, dtype=np.uint8)), "not_an_image", "not a photo"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image_corrupt", "couldn't decode"),
])
def test_bad_bytes_get_clear_errors(payload, code, words):
    with pytest.raises(InputError) as e:
        images.prepare(payload, name="photo.jpg")
    assert e.value.code == code
    assert words in e.value.user_message and "photo.jpg" in e.value.user_message


def test_heic_gets_a_clear_answer():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    with pytest.raises(InputError) as e:
        images.prepare(heic, name="IMG_0001.HEIC")
    assert e.value.code == "unsupported_image" and "JPEG or PNG" in e.value.user_message


def test_truncated_png_is_corrupt(astronaut):
    raw = encode(astronaut, "PNG")
    with pytest.raises(InputError) as e:
        images.prepare(raw[: len(raw) // 2], name="cut.png")
    assert e.value.code == "image_corrupt"


def test_too_small():
    with pytest.raises(InputError) as e:
        images.prepare(encode(Image.new("RGB", (79, 300)), "PNG"))
    assert e.value.code == "image_too_small" and "80 pixels" in e.value.user_message


def huge_png(side: int = 10_000) -> bytes:
    # 1-bit mode keeps the test's own memory small (12.5 MB); the file is a few KB
    return encode(Image.new("1", (side, side), 1), "PNG")


def test_10000px_png_refused_before_decoding():
    raw = huge_png()
    assert len(raw) < 1_000_000
    with pytest.raises(InputError) as e:
        images.prepare(raw, name="big.png")
    assert e.value.code == "image_too_large" and "10000×10000" in e.value.user_message


def test_decompression_bomb_header_refused():
    # a PNG whose header claims 60000×60000 pixels (3.6 gigapixels): Pillow's own guard fires at open
    raw = huge_png(100)
    ihdr = raw.index(b"IHDR")
    import struct
    import zlib

    body = struct.pack(">II", 60000, 60000) + raw[ihdr + 12: ihdr + 17]
    patched = raw[: ihdr] + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + raw[ihdr + 21:]
    with pytest.raises(InputError) as e:
        images.prepare(patched, name="bomb.png")
    assert e.value.code == "image_too_large"


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A ~20 MB 4000×3000 photo: the astronaut upscaled with sensor-like noise (noise defeats JPEG)."""
    rng = np.random.default_rng(7)
    base = np.asarray(Image.open(io.BytesIO(encode(Image.fromarray(
        __import__("skimage.data", fromlist=["astronaut"]).astronaut()), "PNG"))).resize((4000, 3000)), dtype=np.int16)
    noisy = np.clip(base + rng.integers(-40, 41, base.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    raw = encode(Image.fromarray(noisy), "JPEG", quality=98)
    assert len(raw) > 10_000_000
    return raw


def test_big_photo_is_downscaled_under_rekognition_limit(big_jpeg):
    p = images.prepare(big_jpeg, name="big.jpg")
    assert len(p.data) <= images.REKOGNITION_MAX_BYTES
    assert p.mime == "image/jpeg" and p.width < 4000 and p.width >= images.MIN_SIDE
    assert abs(p.width / p.height - 4 / 3) < 0.02
    assert p.original_bytes == len(big_jpeg) and any("scaled" in n for n in p.notes)


def _peak_rss_mb(code: str) -> dict:
    script = textwrap.dedent(code) + textwrap.dedent("""
        import resource, json
        print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "out": out}))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_memory_stays_bounded_on_huge_inputs(tmp_path, big_jpeg):
    png = tmp_path / "huge.png"
    png.write_bytes(huge_png())
    jpg = tmp_path / "big.jpg"
    jpg.write_bytes(big_jpeg)
    baseline = _peak_rss_mb("import bot.images, PIL.Image\nout = None")["rss_mb"]
    r = _peak_rss_mb(f"""
        from bot import images
        from bot.errors import InputError
        try:
            images.prepare(open({str(png)!r}, 'rb').read())
            out = "accepted"
        except InputError as e:
            out = e.code
    """)
    assert r["out"] == "image_too_large"
    assert r["rss_mb"] - baseline < 60, r  # the 10000×10000 pixels (300 MB as RGB) are never decoded
    r = _peak_rss_mb(f"""
        from bot import images
        p = images.prepare(open({str(jpg)!r}, 'rb').read())
        out = len(p.data)
    """)
    assert r["out"] <= images.REKOGNITION_MAX_BYTES
    assert r["rss_mb"] - baseline < 400, r


def test_verify_image_rejects_non_images(astronaut):
    assert images.verify_image(encode(astronaut, "PNG")) == "image/png"
    with pytest.raises(ValueError):
        images.verify_image(b"<html>nope</html>")
    with pytest.raises(Exception):
        images.verify_image(encode(astronaut, "PNG")[:300])
