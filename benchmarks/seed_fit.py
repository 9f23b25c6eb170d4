"""The seed notebook's fit, as it was written: the baseline that benchmarks/fit_speed.py beats.

    python benchmarks/seed_fit.py [--epochs 200] [--verbose 1]

Same data, model, optimizer, batch size, epochs and split as the notebook, through Keras'
`model.fit`; the last line of stdout is a JSON object with the accuracies and the times.
"""

import argparse
import json
import time

START = time.perf_counter()

import keras  # noqa: E402

from mnist_core.data import load_mnist  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=200)
parser.add_argument("--verbose", type=int, default=1, help="Keras verbosity; the notebook used 1")
args = parser.parse_args()

data = load_mnist()
X_train = data.x_train.reshape(60000, 784).astype("float32") / 255
X_test = data.x_test.reshape(10000, 784).astype("float32") / 255
Y_train = keras.utils.to_categorical(data.y_train, 10)
Y_test = keras.utils.to_categorical(data.y_test, 10)

model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax", name="dense_layer")])
model.compile(optimizer="SGD", loss="categorical_crossentropy", metrics=["accuracy"])
fit_start = time.perf_counter()
history = model.fit(X_train, Y_train, batch_size=128, epochs=args.epochs, verbose=args.verbose, validation_split=0.2)
fit_seconds = time.perf_counter() - fit_start
test_loss, test_accuracy = model.evaluate(X_test, Y_test, verbose=0)
print(json.dumps({
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "test_accuracy": float(test_accuracy),
    "fit_seconds": round(fit_seconds, 2),
    "process_seconds": round(time.perf_counter() - START, 2),
}))
