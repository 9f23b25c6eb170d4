"""The shipped default model read by numpy (mnist_core/reading/forward.py) beside Keras: speed, memory, load.

    python benchmarks/forward_speed.py [--calls 400] [--litert-python VENV/bin/python]

1. One canvas reading: the 7 views of test-time augmentation, a (7, 784) batch, through the
   1024-1024 model: `DenseNet.predict_proba` against today's Keras path (`Classifier`, a traced
   `tf.function`), median of `--calls` calls, interleaved so that the machine's moments fall on
   both alike; then a 10,000-image batch.
2. numpy's BLAS threads: the numpy figures again in child processes with OPENBLAS_NUM_THREADS
   1 and 2 (OpenBLAS reads it once, at import).
3. Memory (PSS and RSS, /proc/self/smaps_rollup) of a fresh process: after `import numpy, h5py,
   mnist_core.reading.forward` against `import tensorflow`, then with the model loaded and one reading.
4. Load time of the model, warm (median of 5 in this process) and cold (a fresh process: import,
   load, first reading).
5. With `--litert-python` (a separate venv holding ai-edge-litert and numpy, never the app's):
   the same model exported by Keras (`model.export(format="litert")`) run by the LiteRT
   interpreter: speed, memory, load time and install size.
The machine's other work shows as noise: the load average is printed with the figures.

Measured on the project's machine (2 shared cores, load average 2-3; 2026-12-02), median:
a canvas reading (7, 784) numpy 0.80 ms with 1 BLAS thread, 4.7 ms with 2 (10th percentile
0.45: the second thread waits for a busy core), Keras 0.76 ms, LiteRT 0.12 ms (XNNPACK packs the
weights once; OpenBLAS packs them on every call); 10,000 images numpy 381 ms, Keras 184 ms,
LiteRT 182 ms. A fresh process after one reading: numpy 43 MB PSS / 58 MB RSS at 0.30 s, Keras
477 / 704 MB at 5.0 s, LiteRT 51 / 57 MB at 0.19 s. Load, warm: numpy 25 ms, Keras 69 ms.
Installed: h5py 15 MB (numpy, 71 MB, either way), tensorflow-cpu 1,308 MB + keras 27 MB,
ai-edge-litert 61 MB + 5 MB of its own dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_core.reading.classifier import DEFAULT_MODEL, tta_views  # noqa: E402
from mnist_core.reading.forward import DenseNet  # noqa: E402

MEMORY = """
def memory():
    found = {}
    for line in open("/proc/self/smaps_rollup"):
        if line.split(":")[0] in ("Rss", "Pss"):
            found[line.split(":")[0].lower()] = int(line.split()[1]) / 1024
    return found
"""
NUMPY_CHILD = MEMORY + """
import json, time
t0 = time.perf_counter()
import numpy as np, h5py, mnist_core.reading.forward
imported, after_import = time.perf_counter() - t0, memory()
net = mnist_core.reading.forward.DenseNet.load(MODEL)
loaded = time.perf_counter() - t0
net.predict_proba(np.zeros((7, 784), np.float32))
print(json.dumps({"import_s": imported, "load_s": loaded - imported, "first_s": time.perf_counter() - t0,
                  "import": after_import, "read": memory()}))
"""
KERAS_CHILD = MEMORY + """
import json, os, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
t0 = time.perf_counter()
import numpy as np, tensorflow
imported, after_import = time.perf_counter() - t0, memory()
from mnist_core.reading.classifier import load_classifier
clf = load_classifier(MODEL)
loaded = time.perf_counter() - t0
clf.predict_proba(np.zeros((7, 784), np.float32))
print(json.dumps({"import_s": imported, "load_s": loaded - imported, "first_s": time.perf_counter() - t0,
                  "import": after_import, "read": memory()}))
"""
SPEED_CHILD = """
import json, os, time
import numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
if WAY == "numpy":
    from mnist_core.reading.forward import DenseNet
    predict = DenseNet.load(MODEL).predict_proba
elif WAY == "keras":
    from mnist_core.reading.classifier import load_classifier
    predict = load_classifier(MODEL).predict_proba
else:
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=MODEL, num_threads=THREADS)
    runner = it.get_signature_runner()
    name = it.get_signature_list()["serving_default"]["inputs"][0]
    predict = lambda x: runner(**{name: x})["output_0"]
found = {}
for n, calls in ((7, CALLS), (10_000, 10)):
    x = np.load(INPUTS) if n == 7 else np.random.default_rng(0).random((n, 784), dtype=np.float32)
    predict(x)
    times = []
    for _ in range(calls):
        t = time.perf_counter(); predict(x); times.append(time.perf_counter() - t)
    found[n] = times
print(json.dumps(found))
"""
LITERT_CHILD = MEMORY + """
import json, time
t0 = time.perf_counter()
import numpy as np
from ai_edge_litert.interpreter import Interpreter
imported, after_import = time.perf_counter() - t0, memory()
it = Interpreter(model_path=TFLITE, num_threads=1)
run = it.get_signature_runner()
name = it.get_signature_list()["serving_default"]["inputs"][0]
loaded = time.perf_counter() - t0
difference = float(np.abs(run(**{name: np.load(INPUTS)})["output_0"] - np.load(EXPECTED)).max())
from importlib import metadata
sizes = {}
for dist in ("ai-edge-litert", "flatbuffers", "ml_dtypes", "protobuf", "backports.strenum", "tqdm"):
    try:
        sizes[dist] = sum(f.locate().stat().st_size for f in metadata.distribution(dist).files or [])
    except metadata.PackageNotFoundError:
        pass
print(json.dumps({"import_s": imported, "load_s": loaded - imported, "first_s": time.perf_counter() - t0,
                  "import": after_import, "read": memory(), "max_diff": difference, "install_bytes": sizes}))
"""


def child(code: str, python: str = sys.executable, env: dict[str, str] | None = None, **names: object) -> dict:
    """Run `code` in a fresh Python, with `names` defined first; its last line of output, as JSON."""
    prelude = "".join(f"{k} = {v!r}\n" for k, v in names.items())
    out = subprocess.run([python, "-c", prelude + code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(times: list[float]) -> str:
    """'median (10th percentile)' in ms: the median as a server sees it here; the 10th percentile
    nearer what the code costs when the shared cores are free."""
    return f"{1000 * np.median(times):8.3f} ({1000 * np.percentile(times, 10):7.3f})"


def canvas_views() -> np.ndarray:
    """A '7' drawn as the canvas would, its 7 augmented views: (7, 784) float32 in [0, 1]."""
    image = np.zeros((28, 28), np.float32)
    image[6:8, 7:21] = 1.0
    for row in range(8, 23):
        image[row, 20 - (row - 8) // 2: 22 - (row - 8) // 2] = 1.0
    return tta_views(image[None]).reshape(7, 784)


def installed_mb(dist: str) -> float:
    from importlib import metadata

    return sum(f.locate().stat().st_size for f in metadata.distribution(dist).files or []
               if f.locate().is_file()) / 1e6


def mb(found: dict) -> str:
    return f"PSS {found['pss']:6.0f} MB, RSS {found['rss']:6.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="each way runs once a round, the ways in turn")
    parser.add_argument("--litert-python", help="a Python with ai-edge-litert installed (not the app's venv)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    model = str(DEFAULT_MODEL)
    print(f"{DEFAULT_MODEL.name}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        inputs, expected, tflite = Path(folder) / "x.npy", Path(folder) / "p.npy", Path(folder) / "default.tflite"
        np.save(inputs, canvas_views())
        np.save(expected, DenseNet.load(DEFAULT_MODEL).predict_proba(canvas_views()))
        ways = {"numpy, 1 BLAS thread": ({"OPENBLAS_NUM_THREADS": "1"}, "numpy", sys.executable),
                "numpy, 2 BLAS threads": ({"OPENBLAS_NUM_THREADS": "2"}, "numpy", sys.executable),
                "Keras tf.function (today)": ({}, "keras", sys.executable)}
        if args.litert_python:
            from mnist_core.reading.classifier import load_keras

            load_keras(DEFAULT_MODEL).export(str(tflite), format="litert", verbose=False)
            for threads in (1, 2):
                ways[f"LiteRT, {threads} thread(s)"] = ({}, "litert", args.litert_python)
        times: dict[str, dict[str, list[float]]] = {name: {"7": [], "10000": []} for name in ways}
        for _ in range(args.rounds):
            for name, (env, way, python) in ways.items():
                found = child(SPEED_CHILD, python=python, env=env, WAY=way, CALLS=args.calls, INPUTS=str(inputs),
                              MODEL=str(tflite) if way == "litert" else model, THREADS=int(name[8]) if way == "litert"
                              else 0)
                for n, values in found.items():
                    times[name][n] += values
        print(f"\n1. and 2. Speed, each way in a process of its own, {args.rounds} rounds: "
              "median (10th percentile) ms, and the ratio of medians to Keras'")
        keras7, keras10k = (np.median(times["Keras tf.function (today)"][n]) for n in ("7", "10000"))
        print(f"   {'':28} {'(7, 784): a canvas reading':>36} {'(10000, 784)':>32}")
        for name, found in times.items():
            print(f"   {name:28} {spread(found['7'])} {np.median(found['7']) / keras7:5.2f}x   "
                  f"{spread(found['10000'])} {np.median(found['10000']) / keras10k:5.2f}x")

        print("\n3. and 4. A fresh process: memory, and the time to the first reading")
        bare = child(MEMORY + "import json; print(json.dumps(memory()))")
        ours, theirs = child(NUMPY_CHILD, MODEL=model), child(KERAS_CHILD, MODEL=model)
        found = {"numpy, h5py, mnist_core.reading.forward": ours, "tensorflow (today)": theirs}
        if args.litert_python:
            lite = child(LITERT_CHILD, python=args.litert_python, TFLITE=str(tflite), INPUTS=str(inputs),
                         EXPECTED=str(expected))
            found["numpy, ai_edge_litert"] = lite
        print(f"   bare Python{'':33}{mb(bare)}")
        for name, one in found.items():
            print(f"   import {name:37}{mb(one['import'])}   {one['import_s']:5.2f} s")
            print(f"   + the model loaded, one reading             {mb(one['read'])}   load {one['load_s']:5.3f} s, "
                  f"first reading at {one['first_s']:5.2f} s")
        ratios = {k: ours["read"][k] / theirs["read"][k] for k in ("pss", "rss")}
        print(f"   numpy / Keras after one reading: PSS {ratios['pss']:.2f}x, RSS {ratios['rss']:.2f}x, "
              f"time to it {ours['first_s'] / theirs['first_s']:.2f}x")
        from mnist_core.reading.classifier import load_classifier

        warm: dict[str, list[float]] = {"numpy": [], "keras": []}
        for _ in range(5):
            for name, load in (("numpy", DenseNet.load), ("keras", load_classifier)):
                t = time.perf_counter()
                load(DEFAULT_MODEL)
                warm[name].append(time.perf_counter() - t)
        ours_s, theirs_s = np.median(warm["numpy"]), np.median(warm["keras"])
        print(f"   load in a warm process (median of 5): numpy {1000 * ours_s:.0f} ms, Keras {1000 * theirs_s:.0f} ms "
              f"({ours_s / theirs_s:.2f}x)")
        sizes = ", ".join(f"{dist} {installed_mb(dist):.0f}" for dist in ("numpy", "h5py", "tensorflow-cpu", "keras"))
        print(f"   installed in this venv (MB): {sizes}")
        if args.litert_python:
            sizes = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in lite["install_bytes"].items())
            print(f"\n5. LiteRT: {tflite.stat().st_size / 1e6:.1f} MB .tflite exported by Keras; max abs difference to "
                  f"numpy {lite['max_diff']:.1e}; installed (MB): {sizes}")


if __name__ == "__main__":
    main()
