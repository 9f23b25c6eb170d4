"""Plain words: each sentence is one line a page shows, and every term of the trade the presets use has its sentence."""

from __future__ import annotations

from mnist_core import words
from mnist_core.config import PRESET_NOTES


def test_each_sentence_is_one_plain_line():
    sentences = [v for k, v in vars(words).items() if k.isupper() and isinstance(v, str)]
    assert len(sentences) >= 15
    assert all("\n" not in s and s.endswith((".", ")")) for s in sentences)


def test_the_terms_a_text_uses_are_explained_once_each():
    assert words.explain("Dense(10, softmax), SGD") == f"{words.SOFTMAX} {words.SGD}"
    assert words.explain("RMSprop, then Adam") == words.OPTIMIZERS
    assert words.explain("two hidden layers of 128 ReLU units with dropout") == f"{words.RELU} {words.DROPOUT}"
    assert words.explain("a plain note") == ""


def test_every_presets_terms_have_their_sentence():
    for note in PRESET_NOTES.values():
        for term in ("softmax", "SGD", "ReLU", "dropout", "RMSprop", "Adam"):
            if term.lower() in note.lower():
                assert words.TERMS[term.lower()] in words.explain(note)
