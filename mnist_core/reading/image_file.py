"""Image files from users, decoded defensively: size limits, bombs refused, odd modes read.

    img = read_image(data)         # bytes of a PNG, JPEG, GIF, BMP, WebP or TIFF -> PIL image (first frame)
    declared_pixels(data)          # what decoding it would take, from its header: 16_000_000
    rgba = read_canvas(data_url)   # the Draw page's canvas frame -> (280, 280, 4) uint8

Anything wrong becomes ImageError with a one-line message: empty, not an image, truncated,
too large, or a decompression bomb (a small file that declares a huge image). Every size is
checked from what the file declares before a pixel is decoded, and at most DECODERS pictures
are decoded at once in a process, so the memory that decoding takes is bounded whatever
arrives: MAX_PIXELS x 4 bytes x DECODERS (256 MB), however many requests come at once.
"""

from __future__ import annotations

import base64
import io
import struct
import threading
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_core.errors import UserError
from mnist_core.preprocessing import MAX_SIDE

MAX_BYTES = 10 * 1024 * 1024  # 10 MB per file, as the app's upload limit (.streamlit/config.toml says it too)
# A 12-megapixel phone photo (4000x3000) fits; a 48-megapixel one must be sent at its usual
# 12-megapixel size. The digit ends up 20 px tall: preprocessing shrinks pictures to 1024 px.
MAX_PIXELS = 16_000_000
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
EXTENSIONS = ("png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff")  # what the upload boxes accept
DECODERS = threading.BoundedSemaphore(4)  # pictures being decoded at once in this process

CANVAS_SIDE = 280  # px: the Draw page's canvas, and the frame it sends (one pixel a CSS pixel, any screen)
# A 280x280 RGBA PNG holds at most 313,600 bytes of pixels: a data URL of a frame, base64 and all,
# is under 0.5 MB, whatever is drawn.
MAX_CANVAS_URL = 600_000
PNG = b"\x89PNG\r\n\x1a\n"


class ImageError(UserError, ValueError):
    """An image file cannot be used; the message is one line for the user."""


def read_image(data: bytes) -> Image.Image:
    """Decode the first frame, upright (EXIF), fully loaded; raise ImageError if unusable."""
    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_BYTES:
        raise ImageError(f"the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)  # the header only, so far
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"the image is {img.width}x{img.height} pixels; "
                                 f"the limit is {MAX_PIXELS // 10**6} megapixels")
            img.seek(0)  # animated GIF/WebP: the first frame
            if img.format == "JPEG":
                # decoded at 1/2, 1/4 or 1/8 scale straight away while still as large as preprocessing keeps
                img.draft(img.mode, (MAX_SIDE, MAX_SIDE))
            with DECODERS:
                img.load()
            return ImageOps.exif_transpose(img) or img
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image in a supported format (PNG, JPEG, GIF, BMP, WebP, TIFF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("the image declares too many pixels (a decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"the image is damaged or truncated ({str(e)[:80]})") from None


def declared_pixels(data: bytes | BinaryIO) -> int:
    """The pixels decoding this picture (its bytes, or a stream of them) would take, from its
    header alone: 0 for one that read_image refuses before decoding (not an image, over
    MAX_BYTES or MAX_PIXELS, a bomb)."""
    if isinstance(data, bytes) and (not data or len(data) > MAX_BYTES):
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data, formats=FORMATS) as img:
                pixels = img.width * img.height
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError, EOFError):
        return 0
    return pixels if pixels <= MAX_PIXELS else 0


def read_canvas(data_url: str) -> np.ndarray:
    """The canvas's frame, a PNG data URL, as (CANVAS_SIDE, CANVAS_SIDE, 4) uint8 RGBA. What a
    client sends is checked before it is decoded: the URL's length, then the PNG's header,
    which must declare the canvas's own size; anything else is ImageError."""
    head, _, encoded = data_url.partition(";base64,")
    if head != "data:image/png" or len(data_url) > MAX_CANVAS_URL:
        raise ImageError(f"the canvas sent something other than its {CANVAS_SIDE}x{CANVAS_SIDE} picture")
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ImageError("the canvas sent a picture that is not base64") from None
    if data[:8] != PNG or data[12:16] != b"IHDR" or len(data) < 24:
        raise ImageError("the canvas sent something other than a PNG")
    width, height = struct.unpack(">II", data[16:24])
    if (width, height) != (CANVAS_SIDE, CANVAS_SIDE):
        raise ImageError(f"the canvas sent a {width}x{height} picture; it makes {CANVAS_SIDE}x{CANVAS_SIDE}")
    return np.asarray(read_image(data).convert("RGBA"))


def preview(img: Image.Image, size: int = 280) -> Image.Image:
    """A small 8-bit copy to show on a page (16-bit and other modes made displayable)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        img = Image.fromarray((a * (255.0 / max(float(a.max()), 1.0))).astype(np.uint8), "L")
    elif img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA")
    img = img.copy()
    img.thumbnail((size, size))
    return img
