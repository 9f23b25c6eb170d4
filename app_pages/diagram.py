"""The Draw page's network diagram, lit by the drawing (mnist_core.reading.diagram), as one block
of HTML: redrawn with each stroke, the same on a phone as on a desktop, scaled to its width.

    show_diagram(classifier.net, x28, probabilities)

Its lines are one SVG picture under the units; the units are HTML squares on it, each with the
panel that shows what it looks for. Pointing at a unit (or tapping it: it takes focus) shows its
panel over the top of the diagram, by CSS alone: Streamlit's st.html keeps HTML and CSS, never
scripts or inline SVG.
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from mnist_core import words
from mnist_core.pictures import RED_BLUE, data_uri, grey, red_blue
from mnist_core.reading.diagram import Diagram, DiagramError, Layer, Push, Unit, diagram, strip
from mnist_core.reading.forward import DenseNet

WIDTH = 400  # the diagram's own units across; it is drawn scaled to its column
PITCH = 38  # between two units' centres
SIDE = 26  # a unit's square
INPUT = 84  # the drawing's side
ROW = 92  # from one layer's units to the next's
URI_ESCAPES = str.maketrans({c: f"%{ord(c):02X}" for c in '%#<>{}"'})  # an SVG as a data URI's text
TOP = 30  # the drawing's top edge (the input's title above it)

STYLE = """<style>
.nd{position:relative;width:100%;max-width:560px;margin:4px 0 6px;font-size:11px;line-height:1.2;
  font-variant-numeric:tabular-nums;user-select:none}
.nd>img.lines{position:absolute;inset:0;width:100%;height:100%}
.nd>img.hl{display:none;position:absolute;inset:0;width:100%;height:100%;pointer-events:none}
.nd:has(.u:hover,.u:focus)>img.lines{opacity:.3}
.nd .t{position:absolute;left:0;white-space:nowrap;color:rgba(250,250,250,.8);background:rgba(14,17,23,.85);
  padding:0 4px 0 0;border-radius:3px;display:flex;align-items:center;gap:6px;z-index:1}
.nd .t img{height:16px;image-rendering:pixelated;border:1px solid #555}
.nd .in{position:absolute;image-rendering:pixelated;border:1px solid #555}
.nd .u{position:absolute;z-index:1;border-radius:4px;outline:1px solid rgba(255,255,255,.25);cursor:pointer;
  display:flex;align-items:center;justify-content:center;font-weight:600}
.nd .u.r{outline:2px solid #fff}
.nd .u:hover,.nd .u:focus{outline:2px solid #4f8bf9;z-index:2}
.nd .v{position:absolute;transform:translateX(-50%);opacity:.8;pointer-events:none}
.nd .p{display:none;position:absolute;left:0;right:0;top:0;z-index:3;background:#262730;border:1px solid #4f8bf9;
  border-radius:6px;padding:8px;gap:10px;align-items:flex-start;pointer-events:none}
.nd .p .pic{position:relative;flex:0 0 auto;width:84px;height:84px}
.nd .p .pic div{position:absolute;inset:0;image-rendering:pixelated;background-repeat:no-repeat;
  background-size:100% 100%}
.nd .p .pic .ink{mix-blend-mode:screen;opacity:.55}
.nd .p b{display:block;margin-bottom:3px;font-size:12px}
</style>"""


def show_diagram(net: DenseNet, x28: np.ndarray, probabilities: np.ndarray) -> None:
    """The diagram of `net` for the drawing `x28`, its outputs as the reading shows them."""
    try:
        d = diagram(net, x28, probabilities)
    except DiagramError as e:
        st.caption(f"No diagram: {e}.")
        return
    st.html(STYLE + diagram_html(d))
    hidden = [layer for layer in d.layers if not layer.outputs]
    notes = [words.DIAGRAM]
    if any(layer.size > len(layer.shown) for layer in hidden):
        notes.append(words.shown_units(max(layer.size for layer in hidden), len(hidden[0].shown)))
    if hidden:
        notes.append(words.UNIT_NUMBER)
    if d.members > 1:
        notes.append(f"This model averages {d.members} networks; the first is drawn.")
    st.caption(" ".join(notes))


def diagram_html(d: Diagram) -> str:
    """The diagram as HTML: lines (an SVG picture), the drawing, titles, units and their panels."""
    height = TOP + INPUT + ROW * len(d.layers) - 10
    place = {}  # (layer, unit) -> (x, y) of its square's centre
    for n, layer in enumerate(d.layers):
        y = TOP + INPUT + ROW * n + ROW - 28
        left = (WIDTH - PITCH * (len(layer.shown) - 1)) / 2
        for k, unit in enumerate(layer.shown):
            place[n, unit.index] = (left + PITCH * k, y)
    ink = data_uri(grey(d.image))
    shown = [unit for layer in d.layers for unit in layer.shown]
    # every unit's picture in one PNG, a column of tiles each panel shows one of: one encoding, not thirty
    sprite = data_uri(red_blue(np.concatenate([unit.picture for unit in shown]), peak=1.0), RED_BLUE)
    parts = [_box("in", (WIDTH - INPUT) / 2, TOP, INPUT, INPUT, height, "img", attrs=f'alt="the drawing" src="{ink}"'),
             f'<img class="lines" alt="" src="{_lines_svg(d, place, height)}">',  # over the drawing: from its ink
             _text(4, "Input: your drawing as 28x28 = 784 pixels")]
    nodes, panels, traced = [], [], []  # traced: each unit's own lines, a picture shown when it is pointed at
    into, out_of = {}, {}  # (layer, unit) -> its pushes in, and out
    for q in d.pushes:
        into.setdefault((q.layer, q.target), []).append(q)
        out_of.setdefault((q.layer, q.source), []).append(q)
    for n, layer in enumerate(d.layers):
        y = TOP + INPUT + ROW * n + ROW - 28
        parts.append(_text(y - SIDE / 2 - 20, _title(n, layer), height, layer))
        top = max(layer.values.max(), 1e-6) if not layer.outputs else 1.0
        for unit in layer.shown:
            x, _ = place[n, unit.index]
            key = f"nd-{n}-{unit.index}"
            brightness = min(max(unit.value / top, 0.0), 1.0)
            label = str(unit.index) if layer.outputs else ""
            reading = " r" if layer.outputs and unit.index == d.reading else ""
            nodes.append(_box(f"u {key}{reading}", x - SIDE / 2, y - SIDE / 2, SIDE, SIDE, height,
                              style=f"background:{_lit(brightness)};color:{'#111' if brightness > 0.45 else '#ddd'}",
                              attrs='tabindex="0"', inner=label))
            nodes.append(f'<div class="v" style="left:{_pc(x, WIDTH)};top:{_pc(y + SIDE / 2 + 3, height)}">'
                         f"{_value(unit.value, layer)}</div>")
            panels.append(_panel(key, n, unit, layer, len(traced), len(shown)))
            own = [*into.get((n, unit.index), ()), *out_of.get((n + 1, unit.index), ())]
            traced.append(f'<img class="hl {key}l" alt="" src="{_traced_svg(own, place, height)}">')
    # the panels and traces after the units: a unit's :hover or :focus shows those that follow it (~)
    rules = "".join(f".nd .{k}:hover~.{k}p,.nd .{k}:focus~.{k}p{{display:flex}}"
                    f".nd .{k}:hover~.{k}l,.nd .{k}:focus~.{k}l{{display:block}}"
                    for k in (f"nd-{n}-{u.index}" for n, layer in enumerate(d.layers) for u in layer.shown))
    rules += (f".nd .p .pic .w{{background-image:url({sprite});background-size:100% {100 * len(shown)}%}}"
              f".nd .p .ink{{background-image:url({ink})}}"
              f'.nd .p .s::after{{content:"{_css(words.RESPONDS_TO)}"}}')
    return (f"<style>{rules}</style>"
            f'<div class="nd" style="aspect-ratio:{WIDTH}/{height}">{"".join(parts + nodes + panels + traced)}</div>')


def _title(n: int, layer: Layer) -> str:
    if layer.outputs:
        return "Output: ten probabilities, one per digit (white border: the reading)"
    drawn = f", the {len(layer.shown)} most switched on" if layer.size > len(layer.shown) else ""
    return f"Hidden layer {n + 1}: {layer.size:,} units{drawn}"


def _text(y: float, text: str, height: float | None = None, layer: Layer | None = None) -> str:
    top = f"{y}px" if height is None else _pc(y, height)
    band = ""
    if layer is not None and not layer.outputs and layer.size > len(layer.shown):
        band = f'<img alt="every unit" src="{data_uri(grey(np.sqrt(strip(layer.values))))}">'  # sqrt: the dim ones show
    return f'<div class="t" style="top:{top}">{html.escape(text)}{band}</div>'


def _box(kind: str, x: float, y: float, w: float, h: float, height: float, tag: str = "div", style: str = "",
         attrs: str = "", inner: str = "") -> str:
    """An element placed on the diagram, in the diagram's own units."""
    place = f"left:{_pc(x, WIDTH)};top:{_pc(y, height)};width:{_pc(w, WIDTH)};height:{_pc(h, height)}"
    element = f'<{tag} class="{kind}" style="{place};{style}" {attrs}>'
    return element if tag == "img" else f"{element}{inner}</{tag}>"


def _panel(key: str, n: int, unit: Unit, layer: Layer, tile: int, tiles: int) -> str:
    """A unit's panel: its picture (tile `tile` of the diagram's column of `tiles`), the drawing's
    ink over it, its name and number, and what they mean."""
    if layer.outputs:
        title = f"Output {unit.index}: {unit.value:.1%}"
        line = words.SOFTMAX
    else:
        title = f"Hidden layer {n + 1}, unit {unit.index}: {unit.value:.2f}"
        line = words.UNIT_NUMBER
    at = 100 * tile / max(tiles - 1, 1)
    return (f'<div class="p {key}p"><div class="pic" role="img" aria-label="what it looks for">'
            f'<div class="w" style="background-position:0 {at:.4f}%"></div><div class="ink"></div></div>'
            f'<div><b>{html.escape(title)}</b><span class="s"></span> {html.escape(line)}</div></div>')


def _ends(push: Push, place: dict) -> tuple[float, float, float, float]:
    """Where a push's line starts (a pixel of the drawing, or under a unit's number) and ends (a unit's top)."""
    x2, y2 = place[push.layer, push.target]
    if push.layer == 0:
        row, column = divmod(push.source, 28)
        return (WIDTH - INPUT) / 2 + (column + 0.5) * INPUT / 28, TOP + (row + 0.5) * INPUT / 28, x2, y2 - SIDE / 2
    x1, y1 = place[push.layer - 1, push.source]
    return x1, y1 + SIDE / 2 + 14, x2, y2 - SIDE / 2


def _lines_svg(d: Diagram, place: dict, height: float) -> str:
    """The pushes as lines (red up, blue down, stronger darker), as an SVG picture's data URI."""
    lines = []
    by_layer: dict[int, float] = {}
    for push in d.pushes:
        by_layer[push.layer] = max(by_layer.get(push.layer, 0.0), abs(push.strength))
    for push in sorted(d.pushes, key=lambda p: abs(p.strength)):
        x1, y1, x2, y2 = _ends(push, place)
        share = abs(push.strength) / (by_layer[push.layer] or 1.0)
        kind = "u" if push.strength > 0 else "d"  # up, down
        lines.append(f"<line class='{kind}' x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
                     f"stroke-opacity='{0.15 + 0.85 * share:.2f}' stroke-width='{0.6 + 1.6 * share:.2f}'/>")
    return _svg("<style>.u{stroke:rgb(255,75,75)}.d{stroke:rgb(79,139,249)}</style>" + "".join(lines), height)


def _traced_svg(pushes: list[Push], place: dict, height: float) -> str:
    """One unit's pushes, in and out, bright: what pointing at it traces (two paths, up and down)."""
    paths = {True: "", False: ""}
    for push in pushes:
        x1, y1, x2, y2 = _ends(push, place)
        paths[push.strength > 0] += f"M{x1:.0f} {y1:.0f}L{x2:.0f} {y2:.0f}"
    return _svg("".join(f"<path d='{path}' stroke='rgb({colour})' stroke-width='2.4' fill='none'/>"
                        for up, colour in ((True, "255,75,75"), (False, "79,139,249")) if (path := paths[up])),
                height)


def _svg(body: str, height: float) -> str:
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {height}' preserveAspectRatio='none'>"
           f"{body}</svg>")
    # as text, a quarter smaller than base64: the few signs a data URI must not hold raw, escaped
    return "data:image/svg+xml," + svg.translate(URI_ESCAPES)


def _css(text: str) -> str:
    """Text as a CSS string's content."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _lit(brightness: float) -> str:
    """A unit's colour: dark when the drawing leaves it off, bright amber when it switches it on most."""
    return f"hsl(42,{35 + 60 * brightness:.0f}%,{8 + 55 * brightness:.0f}%)"


def _value(value: float, layer: Layer) -> str:
    if layer.outputs:
        return f"{value:.0%}"
    return f"{value:.1f}"


def _pc(value: float, whole: float) -> str:
    return f"{100 * value / whole:.2f}%"
