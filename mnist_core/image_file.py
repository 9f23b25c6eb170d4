"""Image files from users, decoded defensively: size limits, bombs refused, odd modes read.

    img = read_image(data)   # bytes of a PNG, JPEG, GIF, BMP or WebP -> PIL image (first frame)

Anything wrong becomes ImageError with a one-line message: empty, not an image, truncated,
too large, or a decompression bomb (a small file that declares a huge image).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024  # 10 MB per file, as the app's upload limit
MAX_PIXELS = 40_000_000  # about a 48-megapixel phone photo at most
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")


class ImageError(ValueError):
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
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"the image is {img.width}x{img.height} pixels; "
                                 f"the limit is {MAX_PIXELS // 10**6} megapixels")
            img.seek(0)  # animated GIF/WebP: the first frame
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
