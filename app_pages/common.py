"""What the pages share: models and data loaded once per process, the training slot, the model list."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core import data as mnist_data
from mnist_core.classifier import DEFAULT_MODEL, MODEL_SUFFIXES, SEED_MODEL, Classifier, load_classifier
from mnist_core.job import JobSlot
from mnist_core.runs import list_runs, runs_dir

UPLOADED_MODELS = Path(tempfile.gettempdir()) / "mnist-dense-uploads"
MODEL_KEY = "model_choice"  # session state: the label of the model the Draw page uses


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _classifier(path: str, mtime: float) -> Classifier:
    return load_classifier(path)


def classifier(path: Path) -> Classifier:
    """The model at `path`, loaded once per process (reloaded if the file changes)."""
    return _classifier(str(path), path.stat().st_mtime)


@st.cache_resource
def job_slot() -> JobSlot:
    """The process's one training slot, shared by every session and tab."""
    return JobSlot()


@st.cache_resource(show_spinner="Loading MNIST…")
def mnist() -> mnist_data.Mnist:
    return mnist_data.load_mnist()


def load_training_data(progress: mnist_data.Progress) -> mnist_data.Mnist:
    """The training job's data loader (module attribute looked up at call time, for tests)."""
    return mnist_data.load_mnist(progress=progress)


def model_choices() -> dict[str, Path]:
    """Label -> model file: the shipped models, then every usable run, newest first."""
    choices = {"Default: best dense model": DEFAULT_MODEL, "Seed reproduction (92.2%)": SEED_MODEL}
    for run in list_runs(runs_dir()):
        if not run.broken:
            accuracy = f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "?"
            choices[f"Run: {run.name} ({accuracy})"] = run.model_path
    return choices


def save_uploaded_model(data: bytes, filename: str) -> Path:
    """Store an uploaded model under a name derived from its content, never from the user."""
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix in MODEL_SUFFIXES else ".keras"
    path = UPLOADED_MODELS / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    if not path.exists():
        from mnist_core import atomic

        atomic.write_bytes(path, data)
    return path


def enlarge(image: np.ndarray, size: int = 196) -> np.ndarray:
    """A 28x28 image in [0, 1] as uint8, blown up with hard pixel edges."""
    factor = size // image.shape[0]
    return np.kron((np.clip(image, 0, 1) * 255).astype(np.uint8), np.ones((factor, factor), np.uint8))
