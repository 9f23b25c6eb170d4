"""The drawing canvas: streamlit-drawable-canvas's `st_canvas`, with its toolbar kept off the drawing.

    from app_pages.canvas import st_canvas   # the same arguments and result as the package's

The component (0.13) floats its toolbar (send, undo, redo, edit, bin) over the canvas's top-right
corner: a 141 x 46 px box at `top: -1rem`, invisible (`opacity: 0`) until the mouse is over the
canvas, then raised to `top: -2.65rem`. Invisible, it still takes every press: on the 280-px
canvas it covers x 139-280, y 0-30 (y 0-4 once raised), so a stroke that starts there (a 5's
flag, a 7's bar, a star's top point) never reaches the canvas; a finger drawing never hovers, so
on a phone the whole band is always lost. The rules live in the component's shadow root, which
the page's CSS cannot reach (checked: a page stylesheet leaves `.dc-toolbar` untouched), and
`st_canvas` has no option for them (`display_toolbar` is gone since 0.10). Streamlit uses the
last definition registered under a component's name (documented in `st.components.v2.component`):
this module registers the package's component again, with its own files, and its CSS followed by
TOOLBAR_OFF_THE_CANVAS, before each canvas is drawn. The server logs once that the definition is
overwritten: that is this module. tests/e2e/test_strokes.py fails if a release changes what the
rules select.

Given inline, the CSS also comes with each new canvas (page load, Clear) instead of as a file the
new canvas's shadow root loads afterwards: until that file arrived, the drawing surface sat 288 px
below the frame (no `position: absolute` yet), and a stroke drawn right away was lost.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit_drawable_canvas
from streamlit_drawable_canvas import CanvasResult

NAME = "streamlit-drawable-canvas.streamlit_drawable_canvas"  # the package's own name for it
HTML, JS = '<div class="canvas-root"></div>', "index-*.js"  # as the package registers them
PACKAGE_CSS = next((Path(streamlit_drawable_canvas.__file__).parent / "frontend" / "build").glob("index-*.css"))
# The toolbar sits wholly above the canvas, shown or not, and takes no press while hidden.
TOOLBAR_OFF_THE_CANVAS = """
.dc-toolbar, .dc-root:hover > .dc-toolbar, .dc-toolbar:hover, .dc-toolbar:focus-within,
.dc-toolbar[data-pinned=true] {
  top: auto; bottom: 100%;
}
.dc-toolbar { pointer-events: none; }
.dc-root:hover > .dc-toolbar, .dc-toolbar:focus-within, .dc-toolbar[data-pinned=true] { pointer-events: auto; }
"""
CSS = PACKAGE_CSS.read_text() + TOOLBAR_OFF_THE_CANVAS


def st_canvas(**options: object) -> CanvasResult:
    """The package's `st_canvas(**options)`, its toolbar kept off the canvas. Registering the
    same definition again is a no-op (no warning): only the first call replaces the package's."""
    st.components.v2.component(NAME, html=HTML, css=CSS, js=JS, isolate_styles=True)
    return streamlit_drawable_canvas.st_canvas(**options)
