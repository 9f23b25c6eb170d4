"""In the training process: after each epoch, a frame of the network (frame.py), for the page
to show live and for the run to keep (film.py). It is a loop.Watch.

    watcher = Watcher.for_training(config, data)           # before train(): no TensorFlow yet
    result = train(config, data, watch=watcher)            # each epoch's logs["extras"]["frame"]
    film = watcher.film(result.model, result.epochs_done)  # saved with the run as FILM_FILE

What it costs: a frame reads the first layer's kernel and runs the model on SAMPLE validation
digits: about 2 ms for the book's network, on the thread that scores its epochs beside the one
that trains them; 60-90 ms for the shipped 1024-1024 network, whose epochs take seconds.
Frames are made at the epochs the film keeps and at most every LIVE_SECONDS otherwise; every
epoch's logs carry the latest one, so the page always has one (benchmarks/watch_cost.py: the
seed's fit with and without it).

Which units, for a network with hidden layers: the UNITS of its first layer whose weights
changed most in the first epoch, followed through the training (a grid that kept changing its
units could not be watched). Their change is measured from the initial weights, made again
from the config's seed (train() seeds the same way before it builds the model).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mnist_core.config import History, TrainConfig, split_validation
from mnist_core.data import Mnist
from mnist_core.training.watching.film import Film, kept
from mnist_core.training.watching.frame import Frame

SAMPLE = 1_000  # validation digits a frame is scored on: 100 a digit, enough to see its confusions
UNITS = 16  # first-layer units shown of a network with hidden layers
LIVE_SECONDS = 1.0  # at most this often a frame the film does not keep (the page redraws every 2 s)


class Watcher:
    def __init__(self, config: TrainConfig, sample_x: np.ndarray, sample_y: np.ndarray,
                 initial: np.ndarray | None = None) -> None:
        """`sample_x` (n, 28, 28) uint8 and `sample_y` (n,): the digits every frame is scored on;
        `initial`: the first layer's kernel before training (a base model's), else made again
        from the config's seed at the first epoch's end."""
        self.config = config
        self.sample_x, self.sample_y = sample_x, sample_y
        self._inputs: Any = sample_x.reshape(len(sample_x), 784).astype(np.float32) / 255.0
        self._initial = initial
        self._units: tuple[int, ...] | None = None
        self._kept: list[Frame] = []
        self._latest: dict[str, Any] | None = None
        self._made_at = 0.0

    @classmethod
    def for_training(cls, config: TrainConfig, data: Mnist, base: Any = None) -> Watcher:
        """A watcher of `config`'s training on `data`, scoring the first SAMPLE validation
        digits; `base`: the Keras model a fine-tune starts from."""
        cut = split_validation(len(data.x_train), config.validation_split)
        x, y = data.x_train[cut:][:SAMPLE], data.y_train[cut:][:SAMPLE]
        return cls(config, x, y, None if base is None else first_kernel(base))

    def __call__(self, epoch: int, model: Any, history: History) -> dict[str, Any]:
        """loop.Watch: after epoch `epoch` (0-based) with `model` holding its weights, the
        latest frame for the epoch's logs, made anew when it is due."""
        done = epoch + 1
        if self._units is None:
            self._start(model)
        if kept(done, self.config.epochs) or time.perf_counter() - self._made_at >= LIVE_SECONDS:
            self._made(self._frame(done, model))
        return {"frame": self._latest}

    def film(self, model: Any, epochs_done: int) -> Film:
        """The frames kept so far, ending at `epochs_done` with `model` (a stop, or someone who
        leaves a shared training, may end a run between two kept frames)."""
        kept = [frame for frame in self._kept if frame.epoch < epochs_done]
        return Film(tuple(kept + [self._frame(epochs_done, model, mistakes=False)]))

    def _start(self, model: Any) -> None:
        """At the first epoch's end: the frame before training, and the units to follow."""
        import keras

        self._inputs = keras.ops.convert_to_tensor(self._inputs)  # once: a model call then takes 1.3 ms, not 1.9
        initial_model = _initial_model(self.config) if self._initial is None else None
        if initial_model is not None:
            self._initial = first_kernel(initial_model)
        now = first_kernel(model)
        if _is_output(model):
            self._units = tuple(range(now.shape[1]))
        else:
            change = np.linalg.norm(now - self._initial, axis=0)
            self._units = tuple(int(u) for u in np.argsort(-change, kind="stable")[:UNITS])
        if initial_model is not None:  # a fine-tune's frame 0 would be its base's, trained already
            self._kept.append(self._frame(0, initial_model, mistakes=False))

    def _frame(self, done: int, model: Any, mistakes: bool = True) -> Frame:
        frame = Frame.of(done, first_kernel(model), self._units, _is_output(model), self._predict(model),
                         self.sample_x, self.sample_y)
        return frame if mistakes else Frame(frame.epoch, frame.units, frame.layer_units, frame.outputs,
                                            frame.pictures, frame.confusion)

    def _made(self, frame: Frame) -> None:
        self._made_at = time.perf_counter()
        self._latest = frame.to_json()
        if kept(frame.epoch, self.config.epochs):
            self._kept.append(Frame(frame.epoch, frame.units, frame.layer_units, frame.outputs, frame.pictures,
                                    frame.confusion))

    def _predict(self, model: Any) -> np.ndarray:
        return np.asarray(model(self._inputs, training=False))


def first_kernel(model: Any) -> np.ndarray:
    """The first Dense layer's kernel (784, units) of a Keras model (a committee's first member's)."""
    import keras

    from mnist_core.training.model import members

    net = members(model)[0]
    layer = next(layer for layer in net.layers if isinstance(layer, keras.layers.Dense))
    return np.asarray(layer.kernel.numpy())


def _is_output(model: Any) -> bool:
    """True when the first Dense layer is the last: the book's network, whose units are the digits."""
    import keras

    from mnist_core.training.model import members

    return sum(isinstance(layer, keras.layers.Dense) for layer in members(model)[0].layers) == 1


def _initial_model(config: TrainConfig) -> Any:
    """The model train() starts from, made again: the same seed, then the same build (nothing
    between them draws from the seeded generators: style pools and shuffles have their own).
    Made after the first epoch, not before training: TensorFlow must not start before train()
    sizes its thread pool. Reseeding now changes nothing of the training in progress: its
    shuffles, distortions and dropout draw from generators made at its start."""
    import keras

    from mnist_core.training.model import build_model

    keras.utils.set_random_seed(config.seed)
    return build_model(config)
