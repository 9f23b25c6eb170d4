"""Watching a network learn: what a training shows of itself after each epoch, live and kept.

    frame     one epoch's look inside: its first layer's weights as pictures, its mistakes now (numpy only)
    film      the frames a run keeps, at a few dozen epochs, as one small file (numpy only)
    watcher   in the training process: makes the frames from the Keras model (loop.Watch)

The training process's watcher puts the latest frame in each epoch's logs ("extras"), which
reach the page with the curves (jobs.process.JobState.extras); at the end, the film is saved
with the run (FILM_FILE), and the page's slider scrubs through it.
"""
