"""Plain words: one sentence for each idea the pages show, written once, where a learner meets it.

    st.caption(words.EPOCH)                       # under the epoch counter
    st.caption(words.NONE_OF_THESE)               # beside a "not a digit" answer's chart
    words.shown_units(1024, 10)                   # "This layer has 1,024 units; the 10 ... are drawn."

A term of the trade (softmax, SGD, calibration, temperature, ReLU) never appears on a page
without its sentence; the sentences use only words a reader of the page already has.
"""

from __future__ import annotations

EPOCH = ("An epoch is one pass through all the training digits: the network sees each one once, and nudges its "
         "weights after every small batch of them.")
VALIDATION = ("Validation digits are set aside and never trained on: the network's score on them is its score on "
              "digits it has not seen. Training gets better and better; validation tells whether that is learning "
              "or memorising.")
LOSS = ("The loss measures how wrong the network's probabilities are (lower is better); accuracy is the share of "
        "digits it gets right.")
SOFTMAX = "Softmax turns the network's ten outputs into ten probabilities that add up to 100%."
NONE_OF_THESE = ("Why it still names a digit: the network has ten outputs, one per digit, and softmax makes them add "
                 "up to 100%, so it can only share its belief among the ten; no output means “none of these”. "
                 "The warning comes from a separate check of how unlike the digits it learned this drawing is.")
SGD = ("SGD (stochastic gradient descent): after each small batch of digits, every weight takes a small step in the "
       "direction that makes the batch's loss smaller; the learning rate is the size of that step.")
CALIBRATION = ("Calibrated: of all readings this sure, about this share are right (90% means right 9 times in 10).")
TEMPERATURE = ("The temperature makes over-sure readings humbler: the outputs are divided by it before softmax. It "
               "is fitted on validation digits, so that a reading's confidence is how often such readings are right.")
RED_BLUE = "Red: ink there pushes it up; blue: ink there pushes it down; black: no say."
UNIT_NUMBER = ("A unit's number is how strongly the drawing switches it on: the ink of every pixel times the unit's "
               "weight there, added up, plus its bias; anything below zero counts as zero (ReLU).")
OUTPUT_NUMBER = ("An output's number is its sum before softmax: the ink of every pixel times the output's weight "
                 "there, added up, plus its bias. " + SOFTMAX)
RELU = "ReLU: a hidden unit passes its sum on when it is above zero, and zero when it is not."
DROPOUT = ("Dropout switches off this share of the hidden units at random at every training step, so that no unit "
           "can be relied on alone; all of them work when the network reads.")
OPTIMIZERS = ("RMSprop and Adam are kinds of SGD that give each weight a step size of its own, from how its recent "
              "steps went.")
TEMPLATES = ("The book's network has a single layer: each digit's output adds up the ink times its own 784 weights, "
             "so those weights, drawn as a 28x28 picture, are what it has learned that digit looks like. They start "
             "as noise.")
FIRST_LAYER = ("Each unit of the first hidden layer adds up the ink times its own 784 weights: drawn as a 28x28 "
               "picture, they are the pattern of ink it looks for. They start as noise.")
CONFUSION = ("Rows: the true digit; columns: what the network said. The diagonal is right; every other count is a "
             "mistake, and the bigger it is, the more the network mixes up those two digits.")
DIAGRAM = ("Squares are units, brighter where the drawing switches them on more; lines are the strongest pushes "
           "from one layer to the next for this drawing (red up, blue down). Point at or tap a unit to see what "
           "it looks for.")
RESPONDS_TO = ("What it looks for: red where more ink would switch it on, blue where ink switches it off, for a "
               "drawing like this one; your ink is drawn over it in white.")

LESSON_LINK = ("A link that opens this page as it is now for every student: the same network and settings, only the "
               "ones you choose open to change. The second link shows the class's view of the step, for a projector; "
               "neither carries your private link.")

# A term of the trade, as it appears in a text (case aside), and its sentence.
TERMS = {"softmax": SOFTMAX, "sgd": SGD, "relu": RELU, "dropout": DROPOUT, "rmsprop": OPTIMIZERS, "adam": OPTIMIZERS,
         "calibrat": CALIBRATION, "temperature": TEMPERATURE}


def explain(text: str) -> str:
    """The sentences of the terms of the trade `text` uses, each once, in the order of TERMS:
    explain("one Dense(10, softmax) layer, SGD") -> SOFTMAX + " " + SGD; "" when it uses none."""
    lower = text.lower()
    return " ".join(dict.fromkeys(sentence for term, sentence in TERMS.items() if term in lower))


def shown_units(units: int, shown: int) -> str:
    """Why a wide layer is drawn in part: "This layer has 1,024 units; the 10 that the drawing switches on
    most are drawn, and the strip beside its name shows all of them (brighter: more)." """
    return (f"This layer has {units:,} units; the {shown} that the drawing switches on most are drawn, and the strip "
            f"shows all {units:,} (brighter: switched on more).")


def most_changed(shown: int, units: int) -> str:
    """Which units of a wide first layer a training shows."""
    return (f"The {shown} of its {units:,} first-layer units whose weights changed most in the first epoch, "
            "followed through the training.")


def sample(digits: int) -> str:
    """How its mistakes now are counted."""
    return f"Counted after each epoch on the same {digits:,} validation digits."
