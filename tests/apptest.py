"""What the AppTest page tests share."""

from __future__ import annotations

import base64

import pyarrow as pa
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.helpers import png_bytes


def canvas_value(image: Image.Image) -> dict:
    """What the canvas component sends back after a stroke (see STREAMLIT_NOTES.md)."""
    url = "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


def page_bytes(at: AppTest) -> bytes:
    """Every element the page sent, as the browser would receive it (protobuf bytes): tables'
    cells, captions, widget labels and options, all of it."""
    found = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            found.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(found)


def shown(table: object) -> dict[str, list[str]]:
    """A styled dataframe's cells as the browser shows them (the Styler's display values)."""
    display = table.proto.arrow_data.styler.display_values  # type: ignore[attr-defined]
    return pa.ipc.open_stream(display).read_all().to_pydict()
