"""The network as a diagram, lit by a drawing: its units, pushes and pictures are the network's
own numbers; its HTML survives Streamlit's sanitizer; the Draw page shows it with each stroke."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote

import numpy as np
import pytest
import streamlit as st
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from app_pages.diagram import diagram_html
from mnist_core import words
from mnist_core.reading.classifier import SEED_MODEL, load_classifier
from mnist_core.reading.diagram import LINES, SHOWN, DiagramError, diagram, strip
from mnist_core.reading.forward import DenseNet
from mnist_core.reading.numpy_layers import Dense, Reshape
from mnist_core.training.watching.frame import unit_pictures
from tests.helpers import APP, drawn_one, png_bytes
from tests.helpers import APP_TIMEOUT as TIMEOUT


@pytest.fixture(scope="module")
def default():
    return load_classifier()


@pytest.fixture(scope="module")
def book():
    return load_classifier(SEED_MODEL)


def a_seven() -> np.ndarray:
    x = np.zeros((28, 28), np.float32)
    x[6:8, 7:21] = 1
    for row in range(8, 23):
        x[row, 20 - (row - 8) // 2 : 22 - (row - 8) // 2] = 1
    return x


def test_the_books_network_is_its_ten_templates_pushed_by_the_ink(book):
    x = a_seven()
    p = book.predict_proba(x)
    d = diagram(book.net, x, p)
    (outputs,) = d.layers
    assert outputs.outputs and [u.index for u in outputs.shown] == list(range(10)) and d.reading == int(p.argmax())
    kernel = book.net.first_layer_weights()
    np.testing.assert_allclose(np.stack([u.picture for u in outputs.shown]), unit_pictures(kernel), atol=1e-6)
    for digit in range(10):  # the strongest pixels into each output: ink times weight
        pushes = [q for q in d.pushes if q.target == digit]
        strengths = x.reshape(-1) * kernel[:, digit]
        assert len(pushes) == LINES
        assert sorted(abs(q.strength) for q in pushes) == pytest.approx(sorted(np.sort(np.abs(strengths))[-LINES:]))
        assert all(q.strength == pytest.approx(strengths[q.source]) for q in pushes)


def test_hidden_layers_show_their_most_active_units_and_what_each_looks_for(default):
    x = a_seven()
    d = diagram(default.net, x)
    h1, h2 = default.net.activations(x.reshape(1, 784))
    assert [layer.size for layer in d.layers] == [1024, 1024, 10]
    for layer, h in zip(d.layers, (h1[0], h2[0]), strict=False):
        assert [u.index for u in layer.shown] == list(np.argsort(-h, kind="stable")[:SHOWN])
        np.testing.assert_allclose(layer.values, h, rtol=1e-6)
    np.testing.assert_allclose(d.layers[-1].values, default.net.predict_proba(x.reshape(1, 784))[0], rtol=1e-5)
    # a second-layer unit's picture is its sum's gradient: more ink where it is red raises the sum
    steps = default.net.members()[0]
    dense = [s for s in steps if hasattr(s, "kernel")]
    unit = d.layers[1].shown[0]

    def sum_of(v: np.ndarray) -> float:
        h = np.maximum(v.reshape(1, 784) @ dense[0].kernel + dense[0].bias, 0)
        return float((h @ dense[1].kernel + dense[1].bias)[0, unit.index])

    pixels = np.argsort(-np.abs(unit.picture.reshape(-1)))[:5]
    for pixel in pixels:
        nudged = x.reshape(-1).copy()
        nudged[pixel] += 1e-2
        change = sum_of(nudged) - sum_of(x)
        assert np.sign(change) == np.sign(unit.picture.reshape(-1)[pixel])
    # the pushes into the second layer come from the first layer's units drawn
    drawn = {u.index for u in d.layers[0].shown}
    assert all(q.source in drawn for q in d.pushes if q.layer == 1)


def test_a_network_it_cannot_draw_is_one_line():
    rng = np.random.default_rng(0)
    first, last = Dense(rng.normal(size=(784, 8)).astype(np.float32), None, "relu", 0), \
        Dense(rng.normal(size=(8, 10)).astype(np.float32), None, "softmax", 0)
    folded = DenseNet((first, Reshape((2, 4)), Reshape((8,)), last), (784,), "folded.keras")
    with pytest.raises(DiagramError, match="a layer between its dense layers"):
        diagram(folded, a_seven())
    rows = DenseNet((Dense(rng.normal(size=(28, 10)).astype(np.float32), None, "softmax", 0), Reshape((280,)),
                     Dense(rng.normal(size=(280, 10)).astype(np.float32), None, "softmax", 0)), (28, 28), "rows.keras")
    with pytest.raises(DiagramError, match="does not take the 784 pixels"):
        diagram(rows, a_seven())


def test_a_wide_layer_fits_in_a_strip():
    values = np.arange(1024, dtype=np.float32) - 100
    grid = strip(values)
    assert grid.shape == (16, 64) and grid.min() == 0 and grid.max() == 1
    assert strip(np.ones(10)).shape == (1, 10)


def test_the_html_has_a_panel_for_every_unit_and_its_lines_for_every_push(default):
    d = diagram(default.net, a_seven())
    page = diagram_html(d)
    units = [(n, u.index) for n, layer in enumerate(d.layers) for u in layer.shown]
    assert page.count('tabindex="0"') == len(units) == 30
    for n, index in units:  # each unit's panel and trace, and the rules that show them when it is pointed at or focused
        assert f'class="p nd-{n}-{index}p"' in page and f".nd .nd-{n}-{index}:focus~.nd-{n}-{index}p" in page
        assert f'class="hl nd-{n}-{index}l"' in page and f".nd .nd-{n}-{index}:hover~.nd-{n}-{index}l" in page
    # a unit's trace: its pushes in and out, one segment each
    n, index = units[12]  # a second-layer unit
    trace = unquote(re.search(rf'class="hl nd-{n}-{index}l" alt="" src="data:image/svg\+xml,([^"]+)"', page)[1])
    own = [q for q in d.pushes if (q.layer, q.target) == (n, index) or (q.layer, q.source) == (n + 1, index)]
    assert trace.count("M") == len(own) >= 3
    svg = unquote(re.search(r'class="lines" alt="" src="data:image/svg\+xml,([^"]+)"', page)[1])
    assert svg.count("<line ") == len(d.pushes)
    assert "<script" not in page and "<svg" not in page  # st.html keeps HTML and CSS only


@pytest.fixture
def fresh_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def canvas(image: Image.Image) -> dict:
    url = "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


def diagrams(at: AppTest) -> list[str]:
    return [h.value for h in at.html if 'class="nd"' in h.value]


def test_the_draw_page_redraws_the_diagram_with_each_stroke(fresh_caches):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    one = drawn_one()
    at.session_state["draw_canvas_0"] = canvas(one)
    at.run()
    (first,) = diagrams(at)
    ImageDraw.Draw(one).line([(60, 60), (220, 60)], fill="white", width=20)  # a second stroke: a 7
    at.session_state["draw_canvas_0"] = canvas(one)
    at.run()
    (second,) = diagrams(at)
    assert first != second and not at.exception
    assert any(words.DIAGRAM in c.value for c in at.caption)
    at.toggle(key="draw_inside").set_value(False).run()
    assert not diagrams(at)


def test_not_a_digit_says_why_ten_outputs_still_name_one(fresh_caches):
    star = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(star).line([(140, 20), (180, 260), (30, 100), (250, 100), (100, 260), (140, 20)], fill="white",
                              width=14)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas(star)
    at.run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "Not a digit"
    assert sum(words.NONE_OF_THESE in c.value for c in at.caption) == 1  # beside the chart, once
    at.session_state["draw_canvas_0"] = canvas(drawn_one())
    at.run()
    assert not any(words.NONE_OF_THESE in c.value for c in at.caption)


def test_why_this_reading_says_what_a_units_number_is(fresh_caches):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas(drawn_one())
    at.run()
    at.toggle(key="draw_explain").set_value(True).run()
    assert any(c.value == words.UNIT_NUMBER for c in at.caption)
