"""On-the-fly distortions of training digits, computed in TensorFlow on whole batches.

    x = distort(images, generator, elastic=True)  # (n, 28, 28) uint8 -> (n, 784) uint8

Each image gets a random affine map (rotation, scale, shear, shift) and, with `elastic`, a
smooth random displacement field as Simard, Steinkraus and Platt (2003) made theirs: a random
offset in [-1, 1] for every pixel, in x and in y, smoothed by a Gaussian of sigma 4 px and
scaled by alpha = 34 (their published parameters for MNIST). Both become one sampling map, read
with bilinear weights. The result is rounded back to MNIST's own 256 grey levels: an epoch of
48,000 distorted digits is then 37 MB, not 150 MB as floats (two are in memory at once: the
one training, the next one).
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ROTATE = math.radians(12)  # radians either way
MAX_SCALE = 0.12  # relative zoom either way
MAX_SHEAR = 0.25  # radians either way
MAX_SHIFT = 2.5  # pixels either way
ELASTIC_SIGMA, ELASTIC_ALPHA = 4.0, 34.0  # Simard et al. 2003: smoothing (px) and scale of the field


CHUNK = 1024  # images transformed at a time: a whole epoch at once took 3 GB at its peak (`best`)


def distort(images: tf.Tensor, generator: tf.random.Generator, elastic: bool = False) -> tf.Tensor:
    """(n, 28, 28) uint8 -> (n, 784) uint8, each image randomly distorted.

    Every image's affine draws are made first, for all n at once (the same stream as one call
    on the whole batch), then applied CHUNK images at a time, each chunk's elastic field drawn
    as it comes: the (n, 28, 28) sampling maps and fields of a 48,000-image epoch (300 MB each)
    never exist all together."""
    n = int(images.shape[0])
    draws = _draw(tf.constant(n), generator)
    chunks = []
    for i in range(0, n, CHUNK):
        k = min(CHUNK, n - i)
        raw = generator.uniform([k, 28, 28, 2], -1.0, 1.0) if elastic else tf.zeros([k, 1, 1, 2])
        chunks.append(_apply(images[i:i + CHUNK], *(d[i:i + CHUNK] for d in draws), raw, elastic))
    return tf.concat(chunks, axis=0)


@tf.function(reduce_retracing=True)
def _draw(n: tf.Tensor, generator: tf.random.Generator) -> tuple[tf.Tensor, ...]:
    """Each image's rotation, shear, scales and shift."""
    u = lambda lo, hi: generator.uniform([n], lo, hi)  # noqa: E731
    angle, shear = u(-MAX_ROTATE, MAX_ROTATE), u(-MAX_SHEAR, MAX_SHEAR)
    sx = 1.0 + u(-MAX_SCALE, MAX_SCALE)
    sy = sx * (1.0 + u(-MAX_SCALE / 2, MAX_SCALE / 2))  # small change of aspect ratio
    tx, ty = u(-MAX_SHIFT, MAX_SHIFT), u(-MAX_SHIFT, MAX_SHIFT)
    return angle, shear, sx, sy, tx, ty


@tf.function(reduce_retracing=True)
def _apply(images: tf.Tensor, angle: tf.Tensor, shear: tf.Tensor, sx: tf.Tensor, sy: tf.Tensor, tx: tf.Tensor,
           ty: tf.Tensor, raw: tf.Tensor, elastic: bool) -> tf.Tensor:
    """The drawn distortions applied: (k, 28, 28) uint8 -> (k, 784) uint8. `raw`: Simard's
    unsmoothed field, (k, 28, 28, 2) uniform in [-1, 1], used when `elastic` (a Python bool:
    one trace each way; the tensors' shapes are generalised away by reduce_retracing)."""
    k = tf.shape(images)[0]
    # For each output pixel (x, y), the input point it samples: centre, inverse map, recentre.
    grid = tf.range(28, dtype=tf.float32) - 13.5
    gy, gx = tf.meshgrid(grid, grid, indexing="ij")  # (28, 28) each
    gx, gy = gx[None] - tx[:, None, None], gy[None] - ty[:, None, None]
    cos, sin = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    rx, ry = cos * gx + sin * gy, -sin * gx + cos * gy  # undo the rotation
    rx = rx - tf.tan(shear)[:, None, None] * ry  # undo the shear
    src_x = rx / sx[:, None, None] + 13.5
    src_y = ry / sy[:, None, None] + 13.5
    if elastic:  # Simard's field: (k, 28, 28, 2) offsets in pixels
        field = ELASTIC_ALPHA * _gaussian_blur(raw, ELASTIC_SIGMA)
        src_x += field[..., 0]
        src_y += field[..., 1]
    sampled = _bilinear(tf.cast(images, tf.float32), src_x, src_y)  # grey levels 0-255, as floats
    return tf.cast(tf.round(tf.reshape(sampled, (k, 784))), tf.uint8)


def _gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """(k, 28, 28, c) smoothed by a normalised Gaussian, separably, zeros beyond the edge."""
    radius = int(3 * sigma)
    taps = tf.exp(-tf.square(tf.range(-radius, radius + 1, dtype=tf.float32)) / (2 * sigma**2))
    taps /= tf.reduce_sum(taps)
    c = images.shape[-1]
    rows = tf.tile(tf.reshape(taps, (-1, 1, 1, 1)), (1, 1, c, 1))  # (taps, 1, c, 1): along y
    cols = tf.reshape(rows, (1, -1, c, 1))  # along x
    out = tf.nn.depthwise_conv2d(images, rows, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "SAME")


def _bilinear(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Sample (n, 28, 28) images at float coordinates (n, 28, 28); outside is black."""
    n = tf.shape(images)[0]
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1]])  # (n, 30, 30): a black border
    flat = tf.reshape(padded, [-1])
    x = tf.clip_by_value(x + 1.0, 0.0, 28.999)  # in padded coordinates, inside the border
    y = tf.clip_by_value(y + 1.0, 0.0, 28.999)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0
    base = (tf.range(n) * 900)[:, None, None]
    i00 = base + tf.cast(y0, tf.int32) * 30 + tf.cast(x0, tf.int32)
    at = lambda offset: tf.gather(flat, i00 + offset)  # noqa: E731
    top = at(0) * (1 - wx) + at(1) * wx
    bottom = at(30) * (1 - wx) + at(31) * wx
    return top * (1 - wy) + bottom * wy
