"""One canvas frame to ten probabilities, as the Draw page does it (preprocess_and_span, seven views,
the model), with numpy (the app) and with Keras (how the app did it before), side by side.

    python benchmarks/predict_speed.py [--rounds 3] [--model models/default.keras]

Each way runs in a process of its own (numpy and TensorFlow in one process fight over the two
cores), in turns, numpy, keras, numpy... `--rounds` times; each round times FRAMES frames of a
280x280 RGBA drawing after one warm-up frame and prints its median. The ratio is of the medians
of the rounds' medians, so one noisy round moves it little.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 300


def frame(i: int) -> np.ndarray:
    img = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(img).line([(60 + i % 40, 50), (200, 60), (120, 240)], fill="white", width=12 + i % 30)
    return np.asarray(img)


def timed(engine: str, model: Path) -> dict[str, float]:
    """Medians in ms: preprocessing alone, and the whole frame to probabilities, with `engine`."""
    sys.path.insert(0, str(ROOT))
    from mnist_core.preprocessing import preprocess_and_span
    from mnist_core.reading.classifier import load_classifier, load_keras, tta_views

    if engine == "numpy":
        read = load_classifier(model).predict_proba_tta
    else:  # the app's way before: a traced tf.function over the Keras model, one graph for any batch
        import tensorflow as tf

        keras_model = load_keras(model)
        forward = tf.function(lambda x: keras_model(x, training=False),
                              input_signature=[tf.TensorSpec((None, 784), tf.float32)], reduce_retracing=True)

        def read(x28: np.ndarray) -> np.ndarray:
            return forward(tta_views(x28[None]).reshape(-1, 784)).numpy().mean(axis=0)

    frames = [frame(i) for i in range(FRAMES)]
    read(preprocess_and_span(frames[0])[0])  # warm
    whole, alone = [], []
    for f in frames:
        t = time.perf_counter()
        x, _ = preprocess_and_span(f)  # the 28x28 and the span, as the Draw page makes them
        alone.append(time.perf_counter() - t)
        read(x)
        whole.append(time.perf_counter() - t)
    return {"preprocess": 1000 * statistics.median(alone), "frame": 1000 * statistics.median(whole)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default.keras")
    parser.add_argument("--engine", choices=("numpy", "keras"), help=argparse.SUPPRESS)  # one round, in a child
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(timed(args.engine, args.model)))
        return
    results: dict[str, list[dict]] = {"numpy": [], "keras": []}
    for _ in range(args.rounds):
        for engine in results:
            out = subprocess.run([sys.executable, __file__, "--engine", engine, "--model", str(args.model)],
                                 capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                                                                   "PATH": "/usr/bin:/bin"})
            results[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
    medians = {e: {k: statistics.median(r[k] for r in rounds) for k in rounds[0]} for e, rounds in results.items()}
    print(f"{args.model.name}, a canvas frame to ten probabilities (preprocess + 7 views + model), "
          f"median of {args.rounds} rounds of {FRAMES} frames:")
    for engine, m in medians.items():
        print(f"  {engine:6} {m['frame']:6.2f} ms   (preprocessing alone {m['preprocess']:.2f} ms)")
    print(f"  numpy / keras: {medians['numpy']['frame'] / medians['keras']['frame']:.2f}")


if __name__ == "__main__":
    main()
