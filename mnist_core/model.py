"""The dense network a TrainConfig describes, and its optimizer.

    model = build_model(config)      # (n, 784) floats in [0, 1] -> (n, 10) probabilities
    optimizer = build_optimizer(config, steps_per_epoch=375)

The seed's model is exactly `Dense(10, activation="softmax", name="dense_layer")` on the 784
pixels; hidden layers are `Dense(h, relu)`, each followed by `Dropout` when asked.
"""

from __future__ import annotations

import keras

from mnist_core.config import TrainConfig


def build_model(config: TrainConfig) -> keras.Model:
    """A Sequential model, not compiled: 784 inputs -> hidden ReLU layers -> 10 softmax outputs.

    Training compiles it with the optimizer that really steps it (`training.train`), so a saved
    file carries that optimizer and its state, never a placeholder."""
    layers: list[keras.Layer] = [keras.Input(shape=(784,), name="pixels")]
    for i, units in enumerate(config.hidden, start=1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i}"))
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="dense_layer"))
    return keras.Sequential(layers, name="mnist_dense")


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
