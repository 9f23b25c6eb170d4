"""Training: a config becomes a dense Keras network, trained and saved as a run (TensorFlow).

    from mnist_core.training.pipeline import train_and_save   # config -> data -> model -> loop -> saved run
    from mnist_core.training.budget import Budget             # what a job may cost, before it is queued

The data made beside MNIST (pen.py, fonts.py, styles.py, mix.py, augment.py, and the examples of
"not a digit": non_digit_examples.py, digit_variants.py), the network (model.py), the loop
(loop.py), the run from config to saved files (pipeline.py, finetune.py, novelty_fit.py), what it
costs (budget.py), how TensorFlow starts (tensorflow_env.py), and watching/ (a training seen from
inside). Nothing here is imported by reading/ or store/; jobs/ and the edges import it. This face
imports nothing, so `import mnist_core.training.budget` stays free of TensorFlow.
"""
