"""Does labelling mend "not a digit"? Writers' digits the default refuses are labelled, a fine-tune
learns from them, and the refusals fall on the other digits of the same writers.

    python -m benchmarks.label_loop [--labelled 400] [--epochs 8] [--per-kind 100] [--per-source 1000] [--json]

The writers: the pen traces of 44 people (benchmarks/other_writers.py; the data set does not
say which trace is whose), drawn "stretched square" on the canvas as
benchmarks/real_handwriting.py draws them, all 10,992 of them, each read as the Draw page reads
it (`preprocess`, Classifier.judge with the drawing's span). Of those the default refuses, half
(at most `--labelled`; topped up to `--labelled` with others it reads, when it refuses fewer) are
labelled with their true digit through the core as the Draw page does it (DrawingStore.add with
the reading and the span), by one "person"; then the `finetune` preset runs through the Train
page's own pipeline (train_and_save) in a fresh SQLite database, and fits its own "not a digit"
check with them (finetune.own_head). Scored before (the default) and after (the fine-tuned run as
load_classifier opens it, its own head), and the fine-tuned network judged by the default's head
(what a fine-tune got before it had its own, issue 31), on:
- **the other pen traces**, none of the labelled ones (the other half of what the default
  refused among them): read right, refused, and read right and not refused;
- **the non-digit benchmark** (benchmarks/non_digits.py: letters in the held-out fonts,
  scribbles, shapes, faces, houses, filled blobs; digit-like letters and circles left out, as
  there): how many are still caught;
- **the other real sources**, other people (benchmarks/real_handwriting.py: USPS, Dutch maps,
  small drawings, forms): read right and refused.
About 15 minutes on 2 cores (the fine-tune 2-4, its check 1, the pictures the rest).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time

import numpy as np

from benchmarks.non_digits import as_28, make_non_digits, strokes
from benchmarks.other_writers import pendigits, trace_on_canvas
from benchmarks.real_handwriting import read, real_digits
from mnist_core.config import PRESETS
from mnist_core.reading.classifier import DEFAULT_MODEL, Classifier, load_classifier
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from mnist_core.store.runs import RunStore
from mnist_core.training.non_digit_examples import DIGIT_LIKE
from mnist_core.training.pipeline import train_and_save

WRITER = "link:benchmark-writers"  # one "person": the data set does not say who wrote which trace


def pen_traces(seed: int = 0) -> tuple[np.ndarray, list[float | None], np.ndarray]:
    """Every pen trace drawn stretched square on a canvas and read: (n, 28, 28), spans, labels."""
    rng = np.random.default_rng(seed)
    traces, labels = pendigits()
    xs, spans = [], []
    for i in range(0, len(traces), 500):  # 500 canvases at a time: 0.16 GB, not 3.4
        x, s = read([trace_on_canvas(p, rng) for p in traces[i:i + 500]])
        xs.append(x)
        spans += s
    return np.concatenate(xs), spans, labels


def judged(clf: Classifier, x: np.ndarray, spans: list[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """Classifier.judge's probabilities and refusals, 1,000 drawings at a time (a reading's
    activations: 0.1 GB a thousand for the default model)."""
    parts = [clf.judge(x[i:i + 1000], spans[i:i + 1000]) for i in range(0, len(x), 1000)]
    return np.concatenate([j.probabilities for j in parts]), np.concatenate([j.not_a_digit for j in parts])


def figures(clf: Classifier, x: np.ndarray, spans: list[float | None], y: np.ndarray) -> dict:
    p, refused = judged(clf, x, spans)
    right = p.argmax(axis=1) == y
    return {"n": int(len(y)), "read right": round(float(right.mean()), 4), "refused": round(float(refused.mean()), 4),
            "read right, not refused": round(float((right & ~refused).mean()), 4)}


def caught(clf: Classifier, others: dict) -> dict:
    """The non-digit benchmark's kinds: the share called not a digit (digit-like ones left out)."""
    out, total, n = {}, 0, 0
    for kind, (x, shown, spans) in others.items():
        counted = np.array([s not in DIGIT_LIKE and s != "circles" for s in shown])
        if not counted.any():
            continue
        refused = judged(clf, x[counted], [None if np.isinf(s) else float(s) for s in spans[counted]])[1]
        out[kind] = round(float(refused.mean()), 4)
        total, n = total + int(refused.sum()), n + len(refused)
    return {"caught": round(total / n, 4), "caught of": n, "per kind": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=PRESETS["finetune"].epochs)
    parser.add_argument("--per-kind", type=int, default=100, help="of the non-digit benchmark's kinds")
    parser.add_argument("--per-source", type=int, default=1000, help="of the other real sources")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    default = load_classifier(DEFAULT_MODEL)
    x, spans, y = pen_traces()
    p, not_a_digit = judged(default, x, spans)
    refused = np.nonzero(not_a_digit)[0]
    rng = np.random.default_rng(1)
    chosen = rng.permutation(refused)[:min(args.labelled, len(refused) // 2)]
    if len(chosen) < args.labelled:  # the default refuses fewer: others it reads, to make up the number
        rest = np.setdiff1d(np.nonzero(~not_a_digit)[0], chosen)
        chosen = np.concatenate([chosen, rng.choice(rest, args.labelled - len(chosen), replace=False)])
    others = np.setdiff1d(np.arange(len(y)), chosen)
    non_digits = {k: (as_28(c), np.array(shown), strokes(c)) for k, c, shown in make_non_digits(args.per_kind)}
    sources = {s: (*read(c), labels) for s, (c, labels) in real_digits(args.per_source).items()
               if not s.startswith("pen traces")}  # other people: the pen traces are the writers labelled
    made = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/label_loop.db"
        store = DrawingStore(Database.open(url))
        for i in chosen:  # "No, it was a 4": the label the person gives, the reading and span kept
            store.add(x[i], int(y[i]), WRITER, predicted=int(p[i].argmax()), confidence=float(p[i].max()),
                      model="default", strokes_across=spans[i])
        t = time.perf_counter()
        config = PRESETS["finetune"].replace(epochs=args.epochs)
        steps = []
        outcome = train_and_save(config, "finetune", url, on_event=lambda kind, payload: steps.append(
            (kind, time.perf_counter())))
        fine_tune_seconds = time.perf_counter() - t
        check = [at for kind, at in steps if kind == "check"]
        saving = next(at for kind, at in steps if kind == "saving")
        runs = RunStore(Database.open(url))
        tuned = load_classifier(runs.model_path(outcome.run.id))
        ft = runs.finetune(outcome.run.id)
    models = {"default": default, "fine-tuned, its own head": tuned,
              "fine-tuned, the default's head": dataclasses.replace(tuned, novelty=None)}
    spans_of = [spans[i] for i in others]
    result = {
        "labelled": int(len(chosen)), "of them refused by the default": int(np.isin(chosen, refused).sum()),
        "pen traces": int(len(y)), "refused by the default": int(len(refused)),
        "held out by the fine-tune (of the labelled)": len(ft.held_out),
        "seconds": {"pictures": round(made), "fine-tune": round(fine_tune_seconds),
                    "its not-a-digit check": round(saving - check[0]) if check else None},
        "mnist test": {"default": ft.before.mnist_test, "fine-tuned": ft.after.mnist_test},
        "other pen traces": {name: figures(clf, x[others], spans_of, y[others]) for name, clf in models.items()},
        "non-digits": {name: caught(clf, non_digits) for name, clf in models.items()},
        "other real sources": {s: {name: figures(clf, sx, sspans, sy) for name, clf in models.items()}
                               for s, (sx, sspans, sy) in sources.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(json.dumps({k: v for k, v in result.items() if k not in ("other pen traces", "non-digits",
                                                                     "other real sources")}))
    print("other pen traces (none of the labelled): read right, refused, read right and not refused")
    for name, r in result["other pen traces"].items():
        print(f"  {name:32} {r['read right']:7.2%} {r['refused']:7.2%} {r['read right, not refused']:7.2%}"
              f"  (n = {r['n']})")
    print("non-digit benchmark: caught")
    for name, r in result["non-digits"].items():
        print(f"  {name:32} {r['caught']:7.2%} of {r['caught of']}  " + ", ".join(
            f"{k} {v:.0%}" for k, v in r["per kind"].items()))
    print("other real sources: read right, refused")
    for source, by_model in result["other real sources"].items():
        print(f"  {source}: " + "; ".join(f"{name} {r['read right']:.2%}, {r['refused']:.2%}"
                                          for name, r in by_model.items()))


if __name__ == "__main__":
    main()
