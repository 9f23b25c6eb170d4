"""What each epoch trains on: MNIST's training split, and extra pools of digits, each a share.

    pools = style_pools(config, x_split, y_split) + [Pool("drawings", x, y, config.drawings)]
    mix = Mix.of(len(x_split), pools, replay=config.replay)
    rows_x, rows_y = stack(x_split, y_split, pools)   # what the epochs' indices point into
    order = mix.epoch(rng)            # one epoch's row indices, shuffled

An epoch holds `replay` MNIST training images drawn at random (all of the split when 0), and
beside them, for every pool, its share of the epoch: a pool of 300 labelled drawings at a share
of 0.25 beside 12,000 MNIST images appears 4,000 times an epoch, every drawing about 13 times
(each time differently distorted, when the config distorts). The pools:
- "pen": the training split's own digits redrawn with a round pen (pen.redraw_mnist);
- "styles": digits in the training fonts, typed or drawn (styles.style_digits);
- "drawings": the drawings people labelled, minus those held out (pipeline.py brings them).
All are (n, 28, 28) uint8, white on black, as MNIST; none is ever made from validation or test
images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.config import TrainConfig

STYLE_DIGITS = 24_000  # font digits made for a run (cached on disk): about 90 of each training font's digits


@dataclass(frozen=True)
class Pool:
    name: str
    x: np.ndarray  # (n, 28, 28) uint8
    y: np.ndarray  # (n,) labels 0-9
    share: float  # of each epoch's images


@dataclass(frozen=True)
class Mix:
    """Which rows an epoch takes: rows [0, mnist) are the MNIST split, each pool's rows follow."""

    mnist: int  # rows of the MNIST split
    replay: int  # MNIST images an epoch
    pools: tuple[tuple[int, int, int], ...]  # (first row, rows, images an epoch) of each pool

    @classmethod
    def of(cls, mnist: int, pools: Sequence[Pool] = (), replay: int = 0) -> Mix:
        replay = min(replay, mnist) if replay else mnist
        pools = [p for p in pools if p.share > 0 and len(p.x)]
        total = replay / (1.0 - sum(p.share for p in pools))
        spans, start = [], mnist
        for pool in pools:
            spans.append((start, len(pool.x), round(total * pool.share)))
            start += len(pool.x)
        return cls(mnist, replay, tuple(spans))

    @property
    def epoch_size(self) -> int:
        return self.replay + sum(count for _, _, count in self.pools)

    def epoch(self, rng: np.random.Generator) -> np.ndarray:
        """One epoch's row indices, shuffled: `replay` MNIST rows, and each pool's count of its rows
        (every row as often as the others: whole permutations, then part of one more)."""
        if not self.pools and self.replay == self.mnist:
            return rng.permutation(self.mnist)  # the plain fit: exactly Keras' shuffle
        parts = [rng.permutation(self.mnist)[:self.replay]]
        for start, rows, count in self.pools:
            laps = -(-count // rows)
            parts.append(start + np.concatenate([rng.permutation(rows) for _ in range(laps)])[:count])
        return rng.permutation(np.concatenate(parts))


def stack(x: np.ndarray, y: np.ndarray, pools: Sequence[Pool]) -> tuple[np.ndarray, np.ndarray]:
    """The rows Mix.of numbers: the MNIST split, then every pool with a share."""
    used = [p for p in pools if p.share > 0 and len(p.x)]
    return np.concatenate([x, *(p.x for p in used)]), np.concatenate([y, *(p.y for p in used)]).astype(y.dtype)


def style_pools(config: TrainConfig, x: np.ndarray, y: np.ndarray) -> list[Pool]:
    """The pools a config asks for that are made from the training split or the fonts."""
    pools = []
    if config.pen:
        from mnist_core.training.pen import redraw_mnist

        pools.append(Pool("pen", redraw_mnist(x, np.random.default_rng(config.seed)), y, config.pen))
    if config.styles:
        from mnist_core.training.styles import style_digits

        sx, sy = style_digits(STYLE_DIGITS, seed=config.seed)
        pools.append(Pool("styles", sx, sy.astype(y.dtype), config.styles))
    return pools
