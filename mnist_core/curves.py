"""What learning curves say, in words a learner reads beside them.

    memorising_from(history)   # 57: from epoch 57 the validation loss stops improving while the
                               # training loss still falls: the network starts memorising

The training loss keeps falling as the network fits the images it trains on; the validation
loss, on images it never trains on, falls with it while the network learns what generalises.
Where the validation loss has stopped improving for a while (PATIENCE epochs, or a tenth of
the run, whichever is longer) and the training loss has gone on falling, the gap that opens is
memorising: the point a learner should see named on the chart.
"""

from __future__ import annotations

from mnist_core.config import History

PATIENCE = 5  # epochs without a better validation loss, at the least, before the gap is named
TRAINING = "training"  # the curves' plain names, as the charts' legends show them
VALIDATION = "validation"
MEMORISING = "validation stops improving: the network starts memorising"


def memorising_from(history: History) -> int | None:
    """The epoch (1-based) of the best validation loss, when the validation loss has not improved
    since for long enough while the training loss fell; None while it still improves."""
    val, loss = history.get("val_loss") or [], history.get("loss") or []
    if len(val) < 2 * PATIENCE or len(loss) != len(val):
        return None
    best = min(range(len(val)), key=val.__getitem__)
    since = len(val) - 1 - best
    if since < max(PATIENCE, len(val) // 10) or loss[-1] >= loss[best]:
        return None
    return best + 1
