"""Python imports `sitecustomize` at start-up from the first folder on its path that has one.
The tests put this folder on the PYTHONPATH of the app servers they start (tests/gates.py), so
that those servers' MNIST loading and fine-tunes' own checks wait while a test holds a gate shut.
Nothing happens unless MNIST_TEST_DATA_GATE is set."""

import os

if os.environ.get("MNIST_TEST_DATA_GATE"):
    from tests.gates import install

    install()
