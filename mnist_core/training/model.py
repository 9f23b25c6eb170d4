"""The dense network a TrainConfig describes, and its optimizer.

    model = build_model(config)      # (n, 784) floats in [0, 1] -> (n, 10) probabilities
    optimizer = build_optimizer(config, steps_per_epoch=375)
    members(model)                   # the networks a committee averages; [model] for one network

The seed's model is exactly `Dense(10, activation="softmax", name="dense_layer")` on the 784
pixels; hidden layers are `Dense(h, relu)`, each followed by `Dropout` when asked. A committee
(`config.committee` > 1) is that many such networks, each a Sequential model named `member_i`,
side by side on the same input, their probabilities averaged by an `Average` layer: one file,
one call, dense layers only.
"""

from __future__ import annotations

import keras

from mnist_core.config import TrainConfig


def build_model(config: TrainConfig) -> keras.Model:
    """A Sequential model, not compiled: 784 inputs -> hidden ReLU layers -> 10 softmax outputs.

    Training compiles it with the optimizer that really steps it (`loop.train`), so a saved
    file carries that optimizer and its state, never a placeholder."""
    if config.committee == 1:
        return _network(config, "mnist_dense")
    pixels = keras.Input(shape=(784,), name="pixels")
    nets = [_network(config, f"member_{i}") for i in range(1, config.committee + 1)]
    average = keras.layers.Average(name="committee")([net(pixels) for net in nets])
    return keras.Model(pixels, average, name="mnist_committee")


def _network(config: TrainConfig, name: str) -> keras.Sequential:
    layers: list[keras.Layer] = [keras.Input(shape=(784,), name="pixels")]
    for i, units in enumerate(config.hidden, start=1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i}"))
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="dense_layer"))
    return keras.Sequential(layers, name=name)


def members(model: keras.Model) -> list[keras.Model]:
    """The networks whose probabilities the model averages: a committee's members, else [model]."""
    average = next((layer for layer in model.layers if isinstance(layer, keras.layers.Average)), None)
    if average is None:
        return [model]
    nets = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nets or [model]


def shape_of(model: keras.Model) -> dict:
    """The TrainConfig fields that describe a trained model's network: hidden widths, dropout,
    committee size (what a fine-tune's record says of the network it started from)."""
    net = members(model)[0]
    dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    dropout = [layer.rate for layer in net.layers if isinstance(layer, keras.layers.Dropout)]
    return {"hidden": tuple(int(layer.units) for layer in dense[:-1]), "dropout": float(dropout[0]) if dropout else 0.0,
            "committee": len(members(model))}


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.Optimizer:
    """The configured optimizer, with its learning-rate schedule over the whole run."""
    lr: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr)
