"""The training loop: the seed's `model.fit`, made fast, with callbacks and a clean stop.

    from mnist_core import load_mnist, train
    result = train(PRESETS["seed"], load_mnist(), on_epoch_end=lambda epoch, logs: print(logs))
    result.test_accuracy  # ~0.922 for the seed's 200 epochs

What it computes is Keras' fit, step by step:
1. the last `validation_split` of the training images is held out (`split_validation`);
2. every epoch, the rest (beside any extra pools of digits, each a share of the epoch: pen-drawn
   MNIST, font styles, labelled drawings; mix.py) is shuffled (and, with `augment`, randomly
   distorted) and cut into batches of `batch_size`, the last one smaller when it does not divide;
3. each batch is one optimizer step on the cross-entropy of the softmax outputs;
4. the epoch's loss and accuracy are the batches' averages; then the validation set is scored
   and `on_epoch_end(epoch, logs)` announces the epoch;
5. at the end, the test set is scored once. The model comes back compiled with the optimizer
   that really trained it, so a saved file goes on training where this stopped (a fine-tune of
   it, `base`, starts from that optimizer's moments: `_carry_state`).

Why it is fast (the seed's fit: 17x faster than `model.fit` on 2 cores, 12x as whole
processes; benchmarks/fit_speed.py), each trick in a small helper below:
- the data stays resident as uint8 tensors and a whole epoch of steps runs inside one
  XLA-compiled loop (`_epoch_function`), so Python and tf.data are out of the inner loop;
- a skinny first layer gets its kernel gradient in XLA's faster layout (`_skinny_forward`);
- while a worker thread trains an epoch, the calling thread shuffles the next one's batches
  and, for one-layer models, scores the previous one (`_overlapped_epochs`);
- one-layer models run TensorFlow's own pool on one thread (`_use_threads_for`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.ops.gen_xla_ops import xla_optimization_barrier

from mnist_core.config import METRICS, History, TrainConfig, split_validation
from mnist_core.data import Mnist
from mnist_core.training.augment import distort
from mnist_core.training.mix import Mix, Pool, stack, style_pools
from mnist_core.training.model import build_model, build_optimizer, members

# epoch (0-based), logs: the METRICS, batch_loss (list), seconds; "extras" when `watch` gave some
EpochCallback = Callable[[int, dict], None]
# epoch (0-based), a model holding that epoch's weights, the history so far -> a small JSON-able
# dict for the epoch's logs ("extras"), or None: what a page may show beside the curves, or a copy
# kept of the weights
Watch = Callable[[int, keras.Model, History], dict | None]
# Where train() is before its first epoch: "styles" (making the pools of pen-drawn and font
# digits), "compiling" (building the network, compiling its steps); then "training"
Stage = Callable[[str], None]

# Below this many units, the first layer's kernel gradient is computed as its transpose: for
# the seed's 784 -> 10 layer, XLA's (10, 784) product takes 10 ms an epoch where the (784, 10)
# one takes 20 ms; from 128 units on, the usual product is as fast or faster.
SKINNY_UNITS = 32
# Rows scored per call. Scoring runs beside training, so the calls' overhead hardly counts;
# one size for the seed's validation (12,000) and test (10,000) sets means one compilation.
CHUNK = 2_000


@dataclass
class TrainResult:
    model: keras.Model  # compiled with the optimizer that trained it
    config: TrainConfig
    history: History
    test_loss: float
    test_accuracy: float
    fit_seconds: float  # the epochs only: no import, data loading or saving
    stopped: bool  # True when a stop was requested before the last epoch
    epochs_done: int = field(init=False)

    def __post_init__(self) -> None:
        self.epochs_done = len(self.history["loss"])


def train(
    config: TrainConfig,
    data: Mnist,
    on_epoch_end: EpochCallback | None = None,
    stop: threading.Event | None = None,
    time_limit: float | None = None,
    pools: Sequence[Pool] = (),
    base: keras.Model | None = None,
    on_stage: Stage | None = None,
    watch: Watch | None = None,
) -> TrainResult:
    """Train a fresh model (or go on training `base`) on `data` and `pools` as `config` says;
    `on_epoch_end` is called from this thread, after `watch` (Watch). When `stop` is set, or
    `time_limit` seconds of training have passed, training stops within about a second
    (SLICE_SECONDS), the epoch in progress counted as far as it went. `on_stage` hears where it
    is before the first epoch (Stage)."""
    stage = on_stage or (lambda name: None)
    _use_threads_for(config)
    keras.utils.set_random_seed(config.seed)
    if config.pen or config.styles:
        stage("styles")
    x_train, y_train, (x_val, y_val), mix = _resident_rows(config, data, pools)  # 1.
    n = mix.epoch_size  # images an epoch
    steps, rest = divmod(n, config.batch_size)
    stage("compiling")
    model, optimizer, loss_fn = _compiled(config, base, steps_per_epoch=steps + (rest > 0))  # 3.
    run_epoch = _epoch_function(model, optimizer, loss_fn)
    # One-layer models are scored beside training, on a copy of the weights (cloned after the
    # model is built, so the model's own random draws are unchanged); others after each epoch.
    beside = _one_thread_loop(config)
    scorer = keras.models.clone_model(model) if beside else model
    prepare, evaluate = _evaluate_function(scorer, loss_fn)
    validation = prepare(x_val, y_val)
    rng = np.random.default_rng(config.seed)
    generator = tf.random.Generator.from_seed(config.seed)
    full = steps * config.batch_size
    sizes = [config.batch_size] * steps + ([rest] if rest else [])  # weights of the batch losses

    def shuffled_batches() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """2. One epoch's batches, shuffled (and distorted): (steps, batch, 784), (steps, batch),
        and Keras' last smaller batch as (1, rest, 784), (1, rest)."""
        order = mix.epoch(rng)
        x, y = tf.gather(x_train, order), tf.gather(y_train, order)  # (n, 784) uint8, (n,) int32
        if config.augment != "none":
            x = distort(tf.reshape(x, (-1, 28, 28)), generator, elastic=config.augment == "elastic")
        xs, ys = tf.reshape(x[:full], (steps, config.batch_size, 784)), tf.reshape(y[:full], (steps, config.batch_size))
        return xs, ys, x[None, full:], y[None, full:]

    def fit_epoch(xs: tf.Tensor, ys: tf.Tensor, x_rest: tf.Tensor, y_rest: tf.Tensor) -> dict:
        """3-4. One optimizer step per batch; the epoch's loss and accuracy. With a clock or a
        stop to heed, the steps run in slices of about SLICE_SECONDS, and a stop or the clock
        ends the epoch after the slice in progress: its logs are then the batches done
        (`partial`), and it is the run's last."""
        t0 = time.perf_counter()
        batch_loss, correct, seen = [], 0.0, 0
        for start, end in slicer.slices(steps):
            losses, hits = run_epoch(xs, ys, tf.constant(start), tf.constant(end))  # tensors: one trace
            batch_loss.extend(float(v) for v in losses.numpy()[start:end])
            correct, seen = correct + float(hits), seen + (end - start) * config.batch_size
            if end < steps and should_stop():
                return _logs(batch_loss, sizes[:end], correct / seen, t0, partial=True)
        if rest:  # Keras' last, smaller batch: one more step, compiled for its own shape
            last_loss, last_correct = run_epoch(x_rest, y_rest, tf.constant(0), tf.constant(1))
            batch_loss.append(float(last_loss[0]))
            correct += float(last_correct)
        return _logs(batch_loss, sizes, correct / n, t0)

    def sync_scorer() -> None:
        if scorer is not model:
            scorer.set_weights(model.get_weights())

    history: History = {k: [] for k in METRICS}

    def report(epoch: int, logs: dict) -> None:
        """4. Score the validation set (on the scorer, which holds this epoch's weights) and
        announce the epoch."""
        logs["val_loss"], logs["val_accuracy"] = evaluate(validation)
        for k in history:
            history[k].append(logs[k])
        extras = watch(epoch, scorer, history) if watch is not None else None
        if extras:
            logs["extras"] = extras
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)

    _compile_steps(run_epoch, steps, config.batch_size, rest)
    evaluate(validation)  # compiled before the clock starts: a time limit is for training
    stage("training")
    started = time.perf_counter()

    def should_stop() -> bool:
        over_time = time_limit is not None and time.perf_counter() - started > time_limit
        return over_time or (stop is not None and stop.is_set())

    slicer = _Slicer(whole=time_limit is None and stop is None)

    stopped = _overlapped_epochs(config.epochs, shuffled_batches, fit_epoch, sync_scorer, report, beside, should_stop)
    fit_seconds = time.perf_counter() - started
    # 5. The test set, once, on the final weights.
    sync_scorer()
    test_loss, test_accuracy = evaluate(prepare(data.x_test, data.y_test))
    return TrainResult(model, config, history, test_loss, test_accuracy, fit_seconds, stopped)


def _compile_steps(run_epoch: Callable, steps: int, batch_size: int, rest: int) -> None:
    """Compile the epoch's program (and the last smaller batch's) before the first epoch, by
    running none of its steps: the compiling stage ends before training starts, and a stop
    before then has nothing to wait for."""
    none = tf.constant(0)
    run_epoch(tf.zeros((steps, batch_size, 784), tf.uint8), tf.zeros((steps, batch_size), tf.int32), none, none)
    if rest:
        run_epoch(tf.zeros((1, rest, 784), tf.uint8), tf.zeros((1, rest), tf.int32), none, none)


def _resident_rows(config: TrainConfig, data: Mnist, pools: Sequence[Pool]) -> tuple:
    """1. Hold out the end of the training set; the rest, and any extra pools of digits (mix.py),
    stay resident as uint8 tensors: (x (rows, 784), y (rows,), (x_val, y_val), the epochs' mix)."""
    cut = split_validation(len(data.x_train), config.validation_split)
    x_val, y_val = data.x_train[cut:], data.y_train[cut:]
    if cut < 1 or len(x_val) < 1:
        raise ValueError("validation split leaves no training or no validation images")
    split_x, split_y = data.x_train[:cut], data.y_train[:cut]
    pools = [*style_pools(config, split_x, split_y), *pools]
    mix = Mix.of(len(split_x), pools, replay=config.replay)
    rows_x, rows_y = stack(split_x, split_y, pools)  # the pools' numpy arrays go with this frame: 100 MB for `best`
    # the tensors are the one copy kept
    return tf.constant(rows_x.reshape(-1, 784)), tf.constant(rows_y.astype(np.int32)), (x_val, y_val), mix


def _compiled(config: TrainConfig, base: keras.Model | None, steps_per_epoch: int) -> tuple:
    """3. The model (a new one, or `base` to go on training), and the optimizer that steps it
    (its schedule spans every step of the run, and it goes on from `base`'s own): (model,
    optimizer, loss); compiled with them, which is what a saved file carries."""
    model = base if base is not None else build_model(config)
    optimizer = build_optimizer(config, steps_per_epoch=steps_per_epoch)
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    trained_before = getattr(base, "optimizer", None)
    model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"])
    optimizer.build(model.trainable_variables)
    _carry_state(trained_before, optimizer)
    return model, optimizer, loss_fn


SLICE_SECONDS = 0.5  # with a clock or a stop to heed: steps run about this long between checks


def _logs(batch_loss: list[float], sizes: list[int], accuracy: float, t0: float, partial: bool = False) -> dict:
    """An epoch's logs from its batches' losses (weighted by their sizes) and its accuracy."""
    logs = {"loss": float(np.average(batch_loss, weights=sizes)), "accuracy": accuracy, "batch_loss": batch_loss,
            "seconds": time.perf_counter() - t0}
    return {**logs, "partial": True} if partial else logs


class _Slicer:
    """Cuts an epoch's steps into slices of about SLICE_SECONDS, from the time steps took so far
    (the first slice is a small probe), so that a stop or a time limit is seen within about a
    second whatever an epoch costs; `whole`: one slice, the whole epoch (nothing to heed)."""

    def __init__(self, whole: bool) -> None:
        self.whole = whole
        self.per_step: float | None = None

    def slices(self, steps: int) -> Iterator[tuple[int, int]]:
        start = 0
        while start < steps:
            if self.whole:
                size = steps
            elif self.per_step is None:  # a probe: a few steps (the first call compiles, too)
                size = max(1, min(steps // 16, 16))
            else:
                size = max(1, int(SLICE_SECONDS / max(self.per_step, 1e-6)))
            end = min(steps, start + size)
            t0 = time.perf_counter()
            yield start, end
            self.per_step = (time.perf_counter() - t0) / (end - start)
            start = end


def _overlapped_epochs(
    epochs: int,
    shuffled_batches: Callable[[], tuple],
    fit_epoch: Callable[..., dict],
    sync_scorer: Callable[[], None],
    report: EpochCallback,
    beside: bool,
    should_stop: Callable[[], bool],
) -> bool:
    """Run the epochs, each reported once; True when `should_stop` ended them early.

    A worker thread trains epoch n while this thread makes the shuffled batches of epoch n + 1
    and, when `beside`, reports (scores) epoch n - 1 on a copy of the weights; otherwise each
    epoch is reported after it ends. A stop ends the epoch in progress after its slice of
    steps (fit_epoch), and reports it.
    """
    worker = ThreadPoolExecutor(max_workers=1)
    pending: tuple[int, dict] | None = None
    stopped = False
    try:
        batches = shuffled_batches()
        for epoch in range(epochs):
            if should_stop():
                stopped = True
                break
            training = worker.submit(fit_epoch, *batches)
            if pending is not None:
                report(*pending)
            if epoch + 1 < epochs:
                batches = shuffled_batches()
            pending = epoch, training.result()
            sync_scorer()
            if pending[1].get("partial"):  # cut short within the epoch: by a stop, or the clock
                stopped = True
                break
            if not beside:
                report(*pending)
                pending = None
    finally:  # also on an error: no epoch is left training in the background
        worker.shutdown(cancel_futures=True)
    if pending is not None:
        report(*pending)
    return stopped


def _one_thread_loop(config: TrainConfig) -> bool:
    """True for the one-layer models, whose compiled epoch is work for one core: the loop then
    scores the last epoch on the other core while the next one trains. Wider models' epochs use
    both cores (TensorFlow splits their products), and anything beside them slows them down
    (the `adam` preset: 16% slower with scoring beside it, 37% on one thread)."""
    return not config.hidden


def _use_threads_for(config: TrainConfig) -> None:
    """Size TensorFlow's thread pool for training `config` (no effect once TensorFlow has run
    something in this process): one thread for the one-layer models, whose loop keeps both
    cores busy with its own two threads (the seed's fit: 4.2 s instead of 5.1)."""
    if _one_thread_loop(config):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow is running already: its pool stays as it is
            pass


def _carry_state(trained: keras.Optimizer | None, optimizer: keras.Optimizer) -> int:
    """Fine-tuning goes on from where the base model's training stopped: copy the moment
    estimates of the optimizer saved with it (Adam's, RMSprop's...) into the new one, slot by
    slot, when it is the same kind. The new optimizer keeps its own step count and schedule, so
    its bias correction starts afresh (early steps are smaller, never larger). Returns how many
    slots were copied (0 for a shipped model, saved without its optimizer)."""
    if trained is None or type(trained) is not type(optimizer) or not trained.built:
        return 0
    old = {v.path.split("/", 1)[-1]: v for v in trained.variables}
    copied = 0
    for variable in optimizer.variables:
        slot = variable.path.split("/", 1)[-1]
        if slot not in ("iteration", "learning_rate") and slot in old and old[slot].shape == variable.shape:
            variable.assign(old[slot])
            copied += 1
    return copied


def _epoch_function(model: keras.Model, optimizer: keras.Optimizer, loss_fn: keras.Loss) -> Callable:
    """One XLA program for a whole epoch: (steps, batch, 784) inputs -> per-batch losses.

    A committee's members each learn from their own loss (the mean of their losses is reported),
    so they stay independent networks, as in Ciresan et al.; its accuracy is the average's."""
    variables = model.trainable_variables
    nets = members(model)
    first = nets[0].layers[0]
    if len(nets) == 1 and isinstance(first, keras.layers.Dense) and first.units < SKINNY_UNITS:
        nets = [_skinny_forward(model)]

    @tf.function(jit_compile=True, reduce_retracing=True)
    def run_epoch(xs: tf.Tensor, ys: tf.Tensor, start: tf.Tensor, end: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Steps start to end of the epoch's batches: the losses (written at their step's
        index, the others zero) and the right answers. One compilation for every slice."""
        steps = tf.shape(xs)[0]

        def step(i, losses, correct):
            x = tf.cast(xs[i], tf.float32) / 255.0  # uint8, distorted or not
            y = tf.one_hot(ys[i], 10)
            with tf.GradientTape() as tape:
                ps = [net(x, training=True) for net in nets]
                loss = tf.add_n([loss_fn(y, q) for q in ps]) / len(ps)
            optimizer.apply(tape.gradient(loss, variables), variables)
            p = tf.add_n(ps) / len(ps)
            hits = tf.reduce_sum(tf.cast(tf.argmax(p, 1, output_type=tf.int32) == ys[i], tf.float32))
            return i + 1, losses.write(i, loss), correct + hits

        losses = tf.TensorArray(tf.float32, size=steps, element_shape=())
        for i in tf.range(steps):  # zeros outside the slice: the array's size must be static for XLA
            losses = losses.write(i, 0.0)
        _, losses, correct = tf.while_loop(
            lambda i, *_: i < end, step, (tf.convert_to_tensor(start), losses, tf.constant(0.0))
        )
        return losses.stack(), correct

    return run_epoch


def _skinny_forward(model: keras.Model) -> Callable:
    """model(x) with the first Dense layer's kernel gradient made in the faster layout."""
    first, rest = model.layers[0], model.layers[1:]

    @tf.custom_gradient
    def matmul(x: tf.Tensor, kernel: tf.Tensor) -> tuple[tf.Tensor, Callable]:
        def grad(g: tf.Tensor) -> tuple[None, tf.Tensor]:
            # The barrier keeps XLA from folding the transpose back into the slow product.
            return None, tf.transpose(_barrier(tf.matmul(g, x, transpose_a=True)))

        return tf.matmul(x, kernel), grad

    def forward(x: tf.Tensor, training: bool) -> tf.Tensor:
        h = first.activation(matmul(x, tf.convert_to_tensor(first.kernel)) + first.bias)
        for layer in rest:
            h = layer(h, training=training)
        return h

    return forward


def _barrier(t: tf.Tensor) -> tf.Tensor:
    return xla_optimization_barrier([t])[0]


def _evaluate_function(model: keras.Model, loss_fn: keras.Loss) -> tuple[Callable, Callable]:
    """prepare((n, 28, 28) uint8, (n,) labels) -> chunks; evaluate(chunks) -> (mean loss, accuracy)."""

    @tf.function(jit_compile=True, reduce_retracing=True)
    def chunk(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        p = model(tf.cast(x, tf.float32) / 255.0, training=False)  # scaled as the seed notebook
        n = tf.cast(tf.shape(x)[0], tf.float32)
        hits = tf.reduce_sum(tf.cast(tf.argmax(p, 1, output_type=tf.int32) == y, tf.float32))
        return loss_fn(tf.one_hot(y, 10), p) * n, hits

    def prepare(x: np.ndarray, y: np.ndarray) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """Chunks as uint8 tensors, made once (converting numpy every epoch costs ~10 ms)."""
        x, y = x.reshape(len(x), 784), y.astype(np.int32)
        return [(tf.constant(x[i : i + CHUNK]), tf.constant(y[i : i + CHUNK])) for i in range(0, len(x), CHUNK)]

    def evaluate(chunks: list[tuple[tf.Tensor, tf.Tensor]]) -> tuple[float, float]:
        n = sum(int(x.shape[0]) for x, _ in chunks)
        loss_sum = hits = 0.0
        for x, y in chunks:
            chunk_loss, chunk_hits = chunk(x, y)
            loss_sum, hits = loss_sum + float(chunk_loss), hits + float(chunk_hits)
        return loss_sum / n, hits / n

    return prepare, evaluate
