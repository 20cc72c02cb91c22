"""Photo input handling before any engine or paid call: type from the bytes, size and pixel limits,
conversion to JPEG/PNG, downscaling under Rekognition's 5 MB inline limit, decompression-bomb guard.

Memory stays bounded: the pixel count is read from the header and checked *before* any pixel is
decoded; large JPEGs are decoded at 1/2, 1/4 or 1/8 scale by the decoder itself (``Image.draft``).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.errors import InputError
from bot.files import describe, sniff

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Rekognition accepts image bytes up to 5 MB inline (15 MB from S3), at least 80 px a side,
# in JPEG or PNG only. https://docs.aws.amazon.com/rekognition/latest/dg/limits.html
REKOGNITION_MAX_BYTES = 5 * 1024 * 1024
MIN_SIDE = 80
# Decoding is refused above this many pixels (except JPEG, which decodes at a reduced scale):
# 40 MP of RGBA is 160 MB, the most one photo may cost us in memory.
MAX_PIXELS = 40_000_000
# What engines need: faces and text are found well on a 2048 px long side; more costs time only.
WORK_SIDE = 2048
# Oversized photos are sent at most this long a side (Rekognition finds faces down to 40 px).
SEND_SIDE = 4096

_NAMES = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP", "image/bmp": "BMP",
    "image/tiff": "TIFF", "image/heic": "HEIC",
}


@dataclass(frozen=True)
class PreparedImage:
    """A photo ready to send: JPEG or PNG bytes within the byte limit, and what was done to it."""

    data: bytes
    mime: str  # image/jpeg | image/png
    width: int
    height: int
    original_mime: str
    original_bytes: int
    original_size: tuple[int, int]
    notes: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self.original_bytes != len(self.data) or self.original_mime != self.mime


def check_kind(data: bytes, name: str = "the file") -> str:
    """The image mime type sniffed from ``data``; a clear InputError when it is not a photo."""
    mime = sniff(data[:4096])
    if mime.startswith("image/"):
        return mime
    raise InputError(_not_a_photo(name, mime), code="not_an_image")


def _not_a_photo(name: str, mime: str) -> str:
    if mime == "application/x-empty":
        return f"'{name}' is empty (0 bytes), so there is no photo to look at. Please send it again."
    if mime == "application/pdf":
        return (f"'{name}' is a PDF document, not a photo. Send a JPEG or PNG picture to describe, "
                "or ask me a question about the PDF instead.")
    what = describe(mime, "data I can't read as a picture")
    return (f"'{name}' is not a photo: it looks like {what}, whatever its name says. "
            "Please send a JPEG, PNG, GIF, WebP, BMP or TIFF picture.")


def open_image(data: bytes, *, name: str = "the photo", max_pixels: int = MAX_PIXELS,
               target_side: int | None = None) -> "PILImage.Image":
    """Decode ``data`` into an RGB Pillow image, safely.

    Checks the type from the bytes, the pixel count from the header before decoding, takes the
    first frame of an animation, applies the EXIF orientation and enforces the minimum side.

    Args:
        data: the file's bytes.
        name: the file name, for messages.
        max_pixels: refuse (or, for JPEG, decode at a reduced scale) above this many pixels.
        target_side: when set, large JPEGs decode at the smallest DCT scale whose long side is
            still at least this (cheap downscaling inside the decoder).

    Raises:
        InputError: not an image, corrupt, too small, or too many pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    mime = check_kind(data, name)
    fmt = _NAMES.get(mime, "image")
    if mime == "image/heic":  # Pillow has no HEIC decoder without a plug-in
        raise InputError(f"'{name}' is a HEIC photo (the iPhone format), which I can't open yet. Please send it "
                         "as JPEG or PNG (on iPhone: Settings > Camera > Formats > Most Compatible).",
                         code="unsupported_image")
    try:
        with warnings.catch_warnings():
            # our own pixel check below is stricter than Pillow's warning (89 MP) and names the size;
            # Pillow still raises DecompressionBombError at open above 179 MP
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))  # reads the header only
            w, h = im.size
            if w < MIN_SIDE or h < MIN_SIDE:
                raise InputError(f"'{name}' is only {w}×{h} pixels; I need at least {MIN_SIDE} pixels on each side "
                                 "to see anything. Please send a larger photo.", code="image_too_small")
            if w * h > max_pixels or (target_side and max(w, h) > 2 * target_side):
                if im.format == "JPEG":
                    # the JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding: memory stays bounded
                    goal = target_side or int((max_pixels / (w * h)) ** 0.5 * max(w, h))
                    scale = max(w, h) / goal
                    im.draft("RGB", (int(w / scale), int(h / scale)))
                    if im.size[0] * im.size[1] > max_pixels:
                        raise InputError(_too_many_pixels(name, w, h, max_pixels), code="image_too_large")
                elif w * h > max_pixels:
                    raise InputError(_too_many_pixels(name, w, h, max_pixels), code="image_too_large")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated GIF/WebP/APNG: the first frame
            im.load()
            im = ImageOps.exif_transpose(im) or im
            return _to_rgb(im)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"'{name}' declares more pixels than I can safely open (limit {max_pixels // 1_000_000} "
                         "megapixels). Please send a smaller picture.", code="image_too_large") from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        raise InputError(f"'{name}' looks like a {fmt} file but I couldn't decode it; it may be damaged or cut "
                         "short. Please send the photo again.", code="image_corrupt") from e


def _too_many_pixels(name: str, w: int, h: int, limit: int) -> str:
    return (f"'{name}' is {w}×{h} pixels ({w * h / 1e6:.0f} megapixels); the most I open is "
            f"{limit // 1_000_000} megapixels. Please send a smaller picture.")


def _to_rgb(im: "PILImage.Image") -> "PILImage.Image":
    from PIL import Image

    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return im.point(lambda v: v / 256).convert("L").convert("RGB")
    return im.convert("RGB")


def prepare(data: bytes, *, name: str = "the photo", max_bytes: int = REKOGNITION_MAX_BYTES,
            max_pixels: int = MAX_PIXELS) -> PreparedImage:
    """Make ``data`` acceptable to an image API: JPEG or PNG, at most ``max_bytes``, ≥80 px a side.

    A JPEG or PNG that already fits is passed through byte for byte (after validation); any other
    format Pillow reads (GIF, WebP, BMP, TIFF) is converted; anything too large is downscaled and
    recompressed as JPEG until it fits.

    Raises:
        InputError: with the sentence to show, when the bytes are not a usable photo.
    """
    from PIL import Image

    original_mime = check_kind(data, name)
    notes: list[str] = []
    # a file over the byte limit will be shrunk anyway: let the JPEG decoder start at a smaller scale
    im = open_image(data, name=name, max_pixels=max_pixels, target_side=SEND_SIDE if len(data) > max_bytes else None)
    original_size = _header_size(data) or im.size
    if _is_animated(data):
        notes.append("It is an animation; I looked at its first frame.")
    if original_mime in ("image/jpeg", "image/png") and len(data) <= max_bytes and not notes \
            and im.size == original_size:
        return PreparedImage(data, original_mime, im.size[0], im.size[1], original_mime, len(data), original_size)
    if len(data) > max_bytes and max(im.size) > SEND_SIDE:
        # it must shrink anyway: start from SEND_SIDE (faces and text stay well above Rekognition's
        # minimums) instead of re-encoding the full size first
        im.thumbnail((SEND_SIDE, SEND_SIDE), Image.LANCZOS, reducing_gap=2.0)
    out, size = _fit(im, max_bytes)
    if size != original_size:
        notes.append(f"I scaled it from {original_size[0]}×{original_size[1]} to {size[0]}×{size[1]} pixels "
                     "to analyze it.")
    elif original_mime not in ("image/jpeg", "image/png"):
        notes.append(f"I converted it from {_NAMES.get(original_mime, 'its format')} to JPEG.")
    return PreparedImage(out, "image/jpeg", size[0], size[1], original_mime, len(data), original_size, tuple(notes))


def _fit(im: "PILImage.Image", max_bytes: int) -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes of ``im`` no larger than ``max_bytes``, shrinking it as needed."""
    from PIL import Image

    quality = 90
    current = im
    for _ in range(12):
        buf = io.BytesIO()
        current.save(buf, "JPEG", quality=quality, optimize=True)
        if buf.tell() <= max_bytes:
            return buf.getvalue(), current.size
        # bytes grow roughly with the pixel count: shrink the sides by the square root, with margin
        ratio = (max_bytes / buf.tell()) ** 0.5 * 0.9
        w, h = current.size
        nw, nh = max(MIN_SIDE, int(w * ratio)), max(MIN_SIDE, int(h * ratio))
        if (nw, nh) == (w, h):
            quality = max(40, quality - 15)
        current = im.resize((nw, nh), Image.LANCZOS)
    raise InputError("I couldn't make that photo small enough to analyze. Please send a smaller picture.",
                     code="image_too_large")


def _header_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                orientation = im.getexif().get(0x0112, 1)  # EXIF Orientation: 5-8 swap the sides
                return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    except Exception:
        return None


def _is_animated(data: bytes) -> bool:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return bool(getattr(im, "is_animated", False))
    except Exception:
        return False


def to_jpeg(im: "PILImage.Image", quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def verify_image(data: bytes) -> str:
    """The mime type of ``data`` when it is a whole, decodable image (used on generated images).

    Raises:
        ValueError: when the bytes are not an image or do not decode.
    """
    from PIL import Image

    mime = sniff(data[:4096])
    if not mime.startswith("image/"):
        raise ValueError(f"not an image ({mime})")
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    return mime
