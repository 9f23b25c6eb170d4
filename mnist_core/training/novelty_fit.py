"""Fit a model's NoveltyStats (temperature, "not a digit" head, threshold): at the end of a
training run, or once for a shipped model.

    stats = fit_novelty(dense_layers(model.get_weights()), load_mnist(), seed=1671)
    stats.save(Path("models/default.novelty.npz"))     # about 1 MB beside the weights

The steps, all numpy except the drawing of examples (PIL):
1. temperature: the validation split (the last 20% of MNIST's training set, as training holds
   it out), each digit's 7 views (classifier.tta_views) averaged as the Draw page reads them;
2. digits the head learns from: training-split digits as they are, drawn again as a canvas
   gives them and read through `preprocess` (drawn_again), redrawn with a round pen
   (pen.redraw_mnist), and rescanned, bent or traced by a hurried hand (digit_variants); the
   training fonts' digits (styles.style_digits, cached by training); and `labelled` drawings,
   people's own digits (a fine-tune's);
3. non-digits: non_digit_examples (cached), each of its kinds taught as what it looks like;
4. one random view of each through the network, and the head trained on the activations; the
   pixel subspace from the training split;
5. calibration digits, never seen by the head: validation digits drawn again and in the
   variants, and other renderings of the training fonts' digits; their scores set the scale and
   the threshold.
The default model's: about 2 minutes on 2 cores once the examples are cached (the first time
add 4-6 minutes to make them); about 0.6 GB of memory beyond TensorFlow and MNIST, most of it
the head's 100,000 feature rows (kept as float16). `share` makes every set smaller in
proportion (a fine-tune's head: a quarter, about 30 s).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from mnist_core.config import TrainConfig, split_validation
from mnist_core.data import Mnist
from mnist_core.reading.classifier import tta_views
from mnist_core.reading.novelty import (
    KINDS,
    Layers,
    NoveltyStats,
    calibrate,
    features,
    fit_head,
    fit_pixel_subspace,
    fit_temperature,
    forward,
    parts,
    view_probabilities,
)
from mnist_core.training.digit_variants import variant_digits
from mnist_core.training.non_digit_examples import LOOKS_LIKE, non_digit_examples
from mnist_core.training.pen import redraw_mnist
from mnist_core.training.styles import NoFonts, digit_28, style_digits

VALIDATION_SPLIT = TrainConfig().validation_split  # as every preset holds out: the last 20%
DIGITS_EACH = 12_000  # training-split digits as they are, drawn again, redrawn with a pen
VARIANT_DIGITS = 24_000  # training-split digits rescanned, bent or traced (digit_variants)
STYLE_DIGITS = 24_000  # the training fonts' digits (mix.STYLE_DIGITS: the pool `best` trains on)
NON_DIGITS = 16_000
CALIBRATION_EACH = 2_000  # validation digits drawn again, and in the variants; other font digits
LABELLED_WEIGHT = 4  # times each labelled drawing is taught: people's own digits count more
Progress = Callable[[str], None]


def fit_novelty(layers: Layers, data: Mnist, seed: int = 1671, progress: Progress | None = None,
                labelled: np.ndarray | None = None, share: float = 1.0) -> NoveltyStats:
    """A model's NoveltyStats from its dense layers and MNIST (the fonts too, when installed);
    `labelled`: (n, 28, 28) uint8 drawings people said are digits, taught as digits too;
    `share`: of every set's size (a quarter for a fine-tune's head)."""
    say = progress or (lambda message: None)
    rng = np.random.default_rng(seed)
    cut = split_validation(len(data.x_train), VALIDATION_SPLIT)
    x_val, y_val = data.x_train[cut:], data.y_train[cut:]

    say("temperature on the validation split")
    temperature = fit_temperature(view_probabilities(view_logits(layers, x_val)), y_val)

    say("digits and non-digits for the head")
    each = min(round(DIGITS_EACH * share), cut)
    raw, again, pen = (data.x_train[:cut][rng.choice(cut, each, replace=False)] for _ in range(3))
    digits = [raw, drawn_again(again, rng), redraw_mnist(pen, rng),
              variant_digits(data.x_train[:cut], round(VARIANT_DIGITS * share), seed)]
    fonts = _font_digits(round(STYLE_DIGITS * share), seed)
    if fonts is not None:
        digits.append(fonts)
    if labelled is not None and len(labelled):
        digits.append(np.repeat(np.asarray(labelled, np.uint8), LABELLED_WEIGHT, axis=0))
    others, kind_names = non_digit_examples(round(NON_DIGITS * share), seed)

    say("the head")
    kind = np.concatenate([np.zeros(sum(map(len, digits)), int),
                           [KINDS.index(LOOKS_LIKE[str(k)]) for k in kind_names]])
    head = fit_head(_one_view_features(layers, np.concatenate([*digits, others]), rng), kind, KINDS, seed=seed)
    pixels = fit_pixel_subspace(raw.reshape(len(raw), -1) / np.float32(255))

    say("calibration digits and the threshold")
    calibration = calibration_digits(x_val, seed, share)
    return calibrate(temperature, head, pixels, np.concatenate(
        [parts(head, pixels, view_features(layers, calibration[i:i + 512])) for i in range(0, len(calibration), 512)]))


def calibration_digits(x_val: np.ndarray, seed: int, share: float = 1.0) -> np.ndarray:
    """Digits the head never sees, drawn again as drawings are: CALIBRATION_EACH validation
    digits, as many in the variants (digit_variants), and as many other renderings of the
    training fonts' digits (when installed)."""
    rng = np.random.default_rng(seed + 1)
    n = min(round(CALIBRATION_EACH * share), len(x_val))
    chosen = [x_val[rng.choice(len(x_val), n, replace=False)]]
    fonts = _font_digits(n, seed + 1)
    if fonts is not None:
        chosen.append(fonts)
    return np.concatenate([drawn_again(np.concatenate(chosen), rng), variant_digits(x_val, n, seed + 1)])


def view_features(layers: Layers, images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) images (uint8, or float in [0, 1]) -> (n, 7, d) float32 head features of
    their 7 views (as the Draw page reads a drawing)."""
    x = _as_float(images)
    return np.concatenate([features(forward(layers, tta_views(x[i:i + 512]).reshape(-1, 784))).reshape(
        len(x[i:i + 512]), 7, -1) for i in range(0, len(x), 512)])


def drawn_again(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 28, 28) uint8 digits drawn again as a canvas gives them: 30-250 px tall, turned up
    to 20 degrees, a pen up to 3 px thicker or (on big ones) 1 px thinner, read back through
    `preprocess` (the drawing benchmark puts its digits on the canvas the same way)."""
    out = np.zeros((len(images), 28, 28), np.uint8)
    for i, image in enumerate(images):
        height = int(rng.uniform(30, 250))
        glyph = Image.fromarray(image).resize((112, 112), Image.BICUBIC)
        glyph = glyph.rotate(float(rng.uniform(-20, 20)), Image.BILINEAR, expand=True).resize((height, height),
                                                                                              Image.BILINEAR)
        pen = int(rng.integers(-2, 4))
        if pen > 0:
            glyph = glyph.filter(ImageFilter.MaxFilter(2 * pen + 1))
        elif pen < 0 and height > 80:
            glyph = glyph.filter(ImageFilter.MinFilter(3))
        out[i] = np.round(digit_28(np.asarray(glyph)) * 255)
    return out


def _font_digits(n: int, seed: int) -> np.ndarray | None:
    try:
        return style_digits(n, seed=seed)[0]
    except NoFonts:  # a machine without fonts: MNIST's digits alone
        return None


def _as_float(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return (x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)).reshape(-1, 28, 28)


def view_logits(layers: Layers, images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) images -> (n, 7, 10) logits of their 7 views."""
    x = _as_float(images)
    return np.concatenate([forward(layers, tta_views(x[i:i + 1024]).reshape(-1, 784))[-1].reshape(-1, 7, 10)
                           for i in range(0, len(x), 1024)])


def _one_view_features(layers: Layers, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 28, 28) -> (n, d) float16: the features of one random view of each image."""
    out = None
    for i in range(0, len(images), 1024):
        views = tta_views(_as_float(images[i:i + 1024]))
        one = views[np.arange(len(views)), rng.integers(0, views.shape[1], len(views))]
        f = features(forward(layers, one.reshape(-1, 784)))
        out = np.empty((len(images), f.shape[1]), np.float16) if out is None else out
        out[i:i + len(f)] = f
    return out
