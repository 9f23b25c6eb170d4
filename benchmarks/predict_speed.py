"""One canvas frame to ten probabilities (preprocess + predict), per shipped model.

    python benchmarks/predict_speed.py

Median over 300 frames of a 280x280 RGBA drawing, in-process, against the same work done
with Keras' `model.predict` (what many tutorials call per drawing).
"""

import time

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.preprocessing import preprocess

FRAMES = 300


def frame(i: int) -> np.ndarray:
    img = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(img).line([(60 + i % 40, 50), (200, 60), (120, 240)], fill="white", width=12 + i % 30)
    return np.asarray(img)


def median_ms(fn, frames) -> float:
    times = []
    for f in frames:
        t = time.perf_counter()
        fn(f)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main() -> None:
    frames = [frame(i) for i in range(FRAMES)]
    pre = median_ms(preprocess, frames)
    print(f"preprocess alone: {pre:.2f} ms median")
    for path in (DEFAULT_MODEL, SEED_MODEL):
        clf = load_classifier(path)
        clf.predict_proba(preprocess(frames[0]))  # warm up
        clf.model.predict(np.zeros((1, 784), np.float32), verbose=0)
        fast = median_ms(lambda f, clf=clf: clf.predict_proba(preprocess(f)), frames)
        slow = median_ms(lambda f, clf=clf: clf.model.predict(preprocess(f).reshape(1, 784), verbose=0), frames[:60])
        print(f"{path.name:14} frame -> probabilities {fast:.2f} ms median; with model.predict {slow:.1f} ms "
              f"({slow / fast:.0f}x slower)")


if __name__ == "__main__":
    main()
