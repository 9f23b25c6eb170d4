"""Python imports `sitecustomize` at start-up from the first folder on its path that has one.
The tests put this folder on the PYTHONPATH of the app servers they start (tests/data_gate.py),
so that those servers' MNIST loading waits while a test holds the gate shut. Nothing happens
unless MNIST_TEST_DATA_GATE is set."""

import os

if os.environ.get("MNIST_TEST_DATA_GATE"):
    from tests.data_gate import install

    install()
