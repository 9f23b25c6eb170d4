"""Reading a picture of a digit, without TensorFlow: from a file to what a person is told.

    image_file      a user's picture, decoded defensively (sizes checked before pixels)
    model_plan      a model's config as a plan: its layers, their shapes and weights, counted
    model_check     a model file opened: sized from what it declares, one boundary for every error
    keras_file      a .keras or .h5 file's weights, read by its plan into numpy_layers
    numpy_layers    its layers computed with numpy, forward and backward
    forward         the network: DenseNet (probabilities, activations, gradients)
    classifier      a model as the app uses it: the seven-view reading, calibrated, "not a digit"
    novelty         "not a digit" and calibration: the scores and their statistics
    interpretation  the reading told: "7", "4 or 9?", "Not a digit"; ink against MNIST's
    explain         why: the pixels and the hidden units behind a reading
"""
