"""On-the-fly distortions of training digits, computed in TensorFlow on whole batches.

    x = distort(images, generator, elastic=True)  # (n, 28, 28) uint8 -> (n, 784) uint8

Each image gets a random affine map (rotation, scale, shear, shift) and, with `elastic`, a
smooth random displacement field (Simard et al., 2003): a coarse 4x4 grid of random offsets
upsampled bicubically to 28x28. Both become one sampling map, read with bilinear weights. The
result is rounded back to MNIST's own 256 grey levels: an epoch of 48,000 distorted digits is
then 37 MB, not 150 MB as floats (two are in memory at once: the one training, the next one).
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ROTATE = math.radians(12)  # radians either way
MAX_SCALE = 0.12  # relative zoom either way
MAX_SHEAR = 0.25  # radians either way
MAX_SHIFT = 2.5  # pixels either way
ELASTIC_PIXELS = 1.6  # standard deviation of the displacement field, in pixels


CHUNK = 1024  # images transformed at a time: a whole epoch at once took 3 GB at its peak (`best`)


def distort(images: tf.Tensor, generator: tf.random.Generator, elastic: bool = False) -> tf.Tensor:
    """(n, 28, 28) uint8 -> (n, 784) uint8, each image randomly distorted.

    Every image's random draws are made first, for all n at once (the same stream as one call
    on the whole batch), then applied CHUNK images at a time: the (n, 28, 28) sampling maps of a
    48,000-image epoch never exist all together."""
    n = int(images.shape[0])
    draws = _draw(tf.constant(n), generator, elastic)
    return tf.concat([_apply(images[i:i + CHUNK], *(d[i:i + CHUNK] for d in draws))
                      for i in range(0, n, CHUNK)], axis=0)


@tf.function(reduce_retracing=True)
def _draw(n: tf.Tensor, generator: tf.random.Generator, elastic: bool) -> tuple[tf.Tensor, ...]:
    """Each image's rotation, shear, scales, shift and (with `elastic`) coarse displacement field."""
    u = lambda lo, hi: generator.uniform([n], lo, hi)  # noqa: E731
    angle, shear = u(-MAX_ROTATE, MAX_ROTATE), u(-MAX_SHEAR, MAX_SHEAR)
    sx = 1.0 + u(-MAX_SCALE, MAX_SCALE)
    sy = sx * (1.0 + u(-MAX_SCALE / 2, MAX_SCALE / 2))  # small change of aspect ratio
    tx, ty = u(-MAX_SHIFT, MAX_SHIFT), u(-MAX_SHIFT, MAX_SHIFT)
    coarse = generator.normal([n, 4, 4, 2]) * ELASTIC_PIXELS if elastic else tf.zeros([n, 4, 4, 2])
    return angle, shear, sx, sy, tx, ty, coarse


@tf.function(reduce_retracing=True)
def _apply(images: tf.Tensor, angle: tf.Tensor, shear: tf.Tensor, sx: tf.Tensor, sy: tf.Tensor, tx: tf.Tensor,
           ty: tf.Tensor, coarse: tf.Tensor) -> tf.Tensor:
    """The drawn distortions applied: (k, 28, 28) uint8 -> (k, 784) uint8."""
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
    field = tf.image.resize(coarse, (28, 28), method="bicubic")  # (k, 28, 28, 2), smooth; zeros: none
    src_x += field[..., 0]
    src_y += field[..., 1]
    sampled = _bilinear(tf.cast(images, tf.float32), src_x, src_y)  # grey levels 0-255, as floats
    return tf.cast(tf.round(tf.reshape(sampled, (k, 784))), tf.uint8)


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
