"""A training job's life, from the form to the run, in four modules:

    line.admit(...)      # every rule a job passes (the page, `train --queue`), then it waits in the line
    line.JobQueue        # the line in the database: submit, claim, beat, finish, cancel; its one vocabulary, Status
    runner.Runner        # takes jobs from the line (an app server's, or a worker's on another machine)
    process.TrainingJob  # trains them in a process of its own (pipeline.train_and_save), readable as it goes
    pace.plan(...)       # how long each takes here now, and when each waiting one starts

A job is WAITING, RUNNING, then DONE, STOPPED or FAILED (or CANCELLED before it starts,
INTERRUPTED when its runners vanished twice); while it runs, its process's Phase says what it
is doing (loading data, making font digits, compiling, training, saving). Jobs with the same
settings train together: one network, a run for each.
"""
