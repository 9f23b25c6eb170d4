"""`python -m mnist_core`: see mnist_core/cli.py."""

import gc
import sys

# Keras imports pandas (and pyarrow: 0.3 s) only to accept DataFrames in fit(); nothing here
# passes one, so the command line does without it (Keras checks for its absence).
sys.modules.setdefault("pandas", None)

from mnist_core.cli import main  # noqa: E402

status = main()
# TensorFlow leaves some 300,000 objects behind, and the interpreter's last collection of
# them takes a second at exit. Everything is saved and closed by now: exempt them from it.
gc.freeze()
sys.exit(status)
