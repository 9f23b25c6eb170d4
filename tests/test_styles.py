"""Training data beyond MNIST: fonts split in two for good, pen strokes, Simard's distortions, the mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import ImageFont

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.training import fonts, styles
from mnist_core.training.augment import _draw, distort
from mnist_core.training.mix import Mix, Pool, stack
from mnist_core.training.pen import draw_with_pen, redraw_mnist, thin
from tests.helpers import synthetic_digits


def test_no_font_design_is_on_both_sides_and_the_split_is_fixed_by_name():
    designs = {f"design-{i}": (Path(f"/fonts/design-{i}/a.ttf"),) for i in range(60)}
    train, held = fonts.split_designs(designs)
    assert not set(train) & set(held) and set(train) | set(held) == set(designs)
    assert 10 < len(held) < 30  # about a third
    assert fonts.split_designs(dict(reversed(designs.items()))) == (train, held)  # order-free: by name alone
    assert fonts.design_of(Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf")) == \
        fonts.design_of(Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")) == "liberation"
    assert fonts.design_of(Path("/usr/share/fonts/opentype/stix-word/STIX-Bold.otf")) == "stix"
    assert fonts.design_of(Path("/usr/share/fonts/opentype/b612/B612-Bold.otf")) == "b612"  # a name, not a version


def test_the_training_pool_never_types_in_a_held_out_design(monkeypatch, tmp_path, font_pool):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path))
    designs = {name: (font_pool,) for name in "abcdefgh"}  # g and h are held out (by their names' hashes)
    train, held = fonts.split_designs(designs)
    assert set(held) == {"g", "h"}
    used = []
    typed = styles.typed_digit
    monkeypatch.setattr(styles, "typed_digit", lambda d, path, rng: used.append(path) or typed(d, path, rng))
    monkeypatch.setattr(styles, "font_designs", lambda: {k: (Path(f"/held/{k}"),) if k in held else v
                                                         for k, v in designs.items()})
    x, y = styles.style_digits(40, seed=3)
    assert used and all(not str(p).startswith("/held/") for p in used)
    assert x.shape == (40, 28, 28) and x.dtype == np.uint8 and np.bincount(y).tolist() == [4] * 10
    assert (x.reshape(40, -1).max(axis=1) > 200).all()  # every one a digit, made by `preprocess`
    again, _ = styles.style_digits(40, seed=3)  # the second time from the cache, the same
    assert np.array_equal(again, x) and len(list(tmp_path.glob("styles-*.npz"))) == 1


def test_no_fonts_is_one_line(monkeypatch):
    monkeypatch.setattr(styles, "font_designs", lambda: {})
    with pytest.raises(styles.NoFonts, match="make fonts"):
        styles.style_digits(10, seed=1)


def test_a_font_that_draws_boxes_for_digits_is_left_out():
    assert fonts.draws_digits(ImageFont.load_default(40))
    blank = ImageFont.load_default(40)
    blank.getmask = lambda text, *a, **k: ImageFont.load_default(40).getmask("x")  # the same glyph for all
    assert not fonts.draws_digits(blank)


def test_thinning_leaves_one_pixel_wide_lines_that_keep_the_shape():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 16:24] = True  # an 8-px-wide bar
    skeleton = thin(mask)
    assert skeleton.sum() >= 20 and (skeleton.sum(axis=1)[10:30] == 1).all()  # one pixel across, down the middle
    assert not (skeleton & ~mask).any()
    drawn = draw_with_pen(skeleton, radius=4.0) > 0.5
    assert (drawn & mask).sum() / (drawn | mask).sum() > 0.7  # drawn again, about the same bar


def test_pen_redraws_keep_the_digit_and_even_out_its_strokes():
    x, _ = synthetic_digits(64, seed=2)
    x[:, :, :] = np.where(x > 200, x, 0)  # the bars alone
    redrawn = redraw_mnist(x, np.random.default_rng(0))
    assert redrawn.shape == x.shape and redrawn.dtype == np.uint8
    rows = lambda a: (a > 128).any(axis=2)  # noqa: E731  which rows the bar is on
    assert (rows(redrawn) & rows(x)).sum() / rows(x).sum() > 0.9


def test_simard_elastic_field_moves_pixels_smoothly():
    x, _ = synthetic_digits(8, seed=1)
    images = tf.constant(x)
    plain = distort(images, tf.random.Generator.from_seed(5))
    elastic = distort(images, tf.random.Generator.from_seed(5), elastic=True)
    assert plain.shape == elastic.shape == (8, 784) and not np.array_equal(plain.numpy(), elastic.numpy())
    from mnist_core.training.augment import ELASTIC_ALPHA, ELASTIC_SIGMA, _gaussian_blur

    field = ELASTIC_ALPHA * _gaussian_blur(tf.random.Generator.from_seed(1).uniform([64, 28, 28, 2], -1, 1),
                                           ELASTIC_SIGMA).numpy()
    assert 0.5 < field.std() < 3.0  # Simard's alpha 34 over sigma 4: displacements of a pixel or two
    assert np.abs(np.diff(field, axis=1)).mean() < 0.5 * field.std()  # smooth: neighbours move together
    assert len(_draw(tf.constant(8), tf.random.Generator.from_seed(1))) == 6  # the affine draws alone


def test_an_epoch_mixes_each_pool_by_its_share():
    x, y = synthetic_digits(1000)
    extra = Pool("drawings", x[:30], y[:30], 0.2)
    mix = Mix.of(len(x), [extra], replay=400)
    rows_x, rows_y = stack(x, y, [extra, Pool("none", x[:5], y[:5], 0.0)])
    assert len(rows_x) == len(rows_y) == 1030 and np.array_equal(rows_x[1000:], x[:30])
    assert mix.epoch_size == 500  # 400 MNIST images are 80% of the epoch
    order = mix.epoch(np.random.default_rng(0))
    assert len(order) == 500 and (order >= 1000).sum() == 100 and len(set(order[order < 1000])) == 400
    drawn = np.bincount(order[order >= 1000] - 1000, minlength=30)
    assert drawn.min() >= 3 and drawn.max() <= 4  # every drawing as often as the others
    plain = Mix.of(len(x))
    assert np.array_equal(plain.epoch(np.random.default_rng(7)), np.random.default_rng(7).permutation(1000))


def test_shares_must_leave_room_for_mnist():
    with pytest.raises(ConfigError, match="sum < 1"):
        TrainConfig(pen=0.5, styles=0.5)
    assert TrainConfig(pen=0.2, styles=0.3).mnist_share == pytest.approx(0.5)


def test_non_digit_examples_never_type_in_a_held_out_design_nor_a_letter_read_as_a_digit(monkeypatch, tmp_path,
                                                                                        font_pool):
    from mnist_core.training import non_digit_examples as nd

    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path))
    designs = {name: (font_pool,) for name in "abcdefgh"}
    held = fonts.split_designs(designs)[1]
    typed, used = nd.typed_glyph, []
    monkeypatch.setattr(nd, "typed_glyph", lambda text, path, rng: used.append((text, path)) or typed(text, path, rng))
    monkeypatch.setattr(nd, "font_designs", lambda: {k: (Path(f"/held/{k}"),) if k in held else v
                                                     for k, v in designs.items()})
    x, kind = nd.non_digit_examples(60, seed=3)
    assert x.shape == (60, 28, 28) and x.dtype == np.uint8 and set(kind) <= set(nd.SHARES)
    assert (x.reshape(60, -1).max(axis=1) > 200).all()  # every one drawn, through `preprocess`
    assert used and all(not str(p).startswith("/held/") for _, p in used)
    assert not {t for t, _ in used} & nd.DIGIT_LIKE
    assert all(nd.roundness(im / 255) >= nd.MIN_ROUNDNESS for im, k in zip(x, kind, strict=True)
               if k not in ("letters", "signs"))  # a thin drawn example is a 1 to a person: drawn again
    assert "loops" not in set(kind)  # a lone loop is a 0 to a person (version 2 taught it as no digit)
    again, _ = nd.non_digit_examples(60, seed=3)
    assert np.array_equal(again, x) and len(list(tmp_path.glob("non-digits-*.npz"))) == 1


def test_a_font_types_letters_and_knows_which_it_lacks(font_pool):
    assert fonts.draws_glyph(font_pool, "k") and not fonts.draws_glyph(font_pool, "\u4e00")  # Aileron has no CJK
    glyph = fonts.typed_glyph("k", font_pool, np.random.default_rng(0))
    assert glyph.dtype == np.uint8 and glyph.max() == 255 and min(glyph.shape) > 10
