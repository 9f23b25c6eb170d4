"""A Draw-page session without a browser: Streamlit's own websocket protocol, for load tests.

    session = await DrawSession.open("http://127.0.0.1:8501")   # the server gives it a private link
    seconds = await session.draw(digit_png(random.Random(0)))   # time to the Prediction metric
    await session.start_training()                              # the Train page's Start button
    await session.upload_model("mine.keras", data)              # the sidebar's "Upload a model…"
    errors = await session.type_into("admin_password", "guess") # a text field's value, and its callback

It sends what Chromium's frontend sends (checked by capturing its frames while drawing on the
real canvas): a `rerun_script` BackMsg, then one per stroke with the canvas's widget state, a
JSON value holding a PNG data URL of the drawing; and it reads the server's ForwardMsgs as the
page would render them. Twenty of these cost the test machine almost nothing, so a load test
measures the app, not twenty rendering browsers on the server's two cores.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import time

import requests
import websockets
from PIL import Image, ImageDraw
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

CANVAS_KEY = "draw_canvas_"  # the Draw page's canvas widget key, then a clear counter
UPLOAD_CHOICE = "Upload a model…"  # the Draw page's model list: its last choice
STROKES = {  # canvas pixels: a "1" and a "7"
    "1": [(140, 40), (142, 140), (144, 240)],
    "7": [(50, 60), (220, 60), (160, 150), (110, 250)],
}


class AppError(Exception):
    """The app answered with an exception, no prediction, or not at all."""


def digit_png(rng: random.Random, size: int = 280) -> bytes:
    """A "1" or a "7" in a white pen on black, somewhere on the canvas, as the canvas exports it."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    scale, dx, dy = rng.uniform(0.5, 1.0), rng.uniform(-40, 40), rng.uniform(-30, 30)
    points = [(140 + (x - 140) * scale + dx, 140 + (y - 140) * scale + dy) for x, y in STROKES[rng.choice("17")]]
    ImageDraw.Draw(image).line(points, fill=(255, 255, 255, 255), width=rng.randint(12, 28), joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class DrawSession:
    def __init__(self, ws: websockets.ClientConnection, url: str, link: str) -> None:
        self.ws, self.url = ws, url
        self.query = f"me={link}" if link else ""  # the visitor's private link
        self.page_hash = ""
        self.page_name = ""  # the page a first visit asks for by its url path ("": the default)
        self.pages: dict[str, str] = {}  # url path -> page hash
        self.canvas_id = ""
        self.start_id = ""
        self.model_choice_id = ""  # the sidebar's model list
        self.model_file_id = ""  # its file uploader, once "Upload a model…" is chosen
        self.toggles: dict[str, str] = {}  # a toggle's key -> its widget id
        self.session_id = ""
        self.kept: dict[str, WidgetState] = {}  # widgets whose state every rerun sends, as a browser does
        self.text_inputs: dict[str, str] = {}  # a text field's key -> its widget id
        self.warnings: list[str] = []
        self.errors: list[str] = []  # the error alerts of the last run
        self.texts: list[str] = []  # the markdown and captions of the last run
        self.runs_started = 0  # runs_until_quiet's count

    @classmethod
    async def open(cls, url: str, timeout: float = 60, link: str = "", address: str = "",
                   page: str = "") -> DrawSession:
        """Connect and run the Draw page once (or `page`, e.g. "runs"), as a browser's first visit
        does. `address`: the client address the server is told (X-Forwarded-For, which uvicorn
        trusts from localhost)."""
        headers = {"X-Forwarded-For": address} if address else None
        ws = await websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", max_size=None,
                                      additional_headers=headers, open_timeout=timeout)
        session = cls(ws, url, link)
        session.page_name = page
        await session._rerun([], timeout)
        if page:
            session.page_hash = session.pages[page]
        elif not session.canvas_id:
            raise AppError("the Draw page showed no canvas")
        return session

    async def start_training(self, timeout: float = 60) -> None:
        """Go to the Train page and press Start (the form's defaults: the seed's fit), then back."""
        draw_page = self.page_hash
        self.page_hash = self.pages["train"]
        await self._rerun([], timeout)
        if not self.start_id:
            raise AppError("the Train page showed no Start button")
        state = BackMsg().rerun_script.widget_states.widgets.add()
        state.id, state.trigger_value = self.start_id, True
        self.warnings.clear()
        await self._rerun([state], timeout)
        if self.warnings:
            raise AppError(f"the Train page warned: {self.warnings[0][:100]}")
        self.page_hash = draw_page
        await self._rerun([], timeout)

    async def visit(self, page: str, timeout: float = 60) -> float:
        """Show another page ("train", "runs", "drawings"; "" for Draw): seconds to its end."""
        self.page_hash = self.pages[page]
        return await self._rerun([], timeout)

    async def draw(self, png: bytes, timeout: float = 60) -> float:
        """Put a drawing on the canvas; seconds until the page shows its prediction."""
        return await self.send_canvas("data:image/png;base64," + base64.b64encode(png).decode(), timeout)

    async def send_canvas(self, data_url: str, timeout: float = 60, want: str = "Prediction") -> float:
        """Send the canvas widget's value with any image data URL, as a client may."""
        value = {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data_url},
                 "backgroundFit": None}
        state = BackMsg().rerun_script.widget_states.widgets.add()
        state.id, state.json_value = self.canvas_id, json.dumps(value)
        return await self._rerun([state], timeout, want=want)

    def set_toggle(self, key: str, on: bool) -> None:
        """Keep the toggle `key` on or off in every rerun from now on (its id seen in a rerun before)."""
        self.kept[self.toggles[key]] = WidgetState(id=self.toggles[key], bool_value=on)

    async def upload_model(self, name: str, data: bytes, timeout: float = 60) -> None:
        """Choose "Upload a model…" and upload `data` as the file `name`, as the browser does: the
        uploader asks for an upload URL over the websocket, the bytes go there by HTTP PUT (with
        Streamlit's XSRF cookie), then the widget's state names the file. Every later rerun (a
        stroke) sends both widgets' states again. AppError if the page then shows an error."""
        self.kept[self.model_choice_id] = WidgetState(id=self.model_choice_id, string_value=UPLOAD_CHOICE)
        await self._rerun([], timeout)
        if not self.model_file_id:
            raise AppError("the Draw page showed no model uploader")
        msg = BackMsg()
        msg.file_urls_request.request_id = f"upload-{name}"
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self.ws.send(msg.SerializeToString())
        urls = await self._file_urls(msg.file_urls_request.request_id, timeout)
        await asyncio.to_thread(self._put, urls.upload_url, name, data)
        state = WidgetState(id=self.model_file_id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.file_id, info.name, info.size = urls.file_id, name, len(data)
        info.file_urls.CopyFrom(urls)
        self.kept[state.id] = state
        await self._rerun([], timeout)

    async def _file_urls(self, request_id: str, timeout: float) -> FileURLs:
        deadline = time.perf_counter() + timeout
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                raise AppError(f"no upload URL in {timeout:.0f} s") from None
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            if fwd.WhichOneof("type") == "file_urls_response" and fwd.file_urls_response.response_id == request_id:
                if fwd.file_urls_response.error_msg:
                    raise AppError(f"no upload URL: {fwd.file_urls_response.error_msg[:100]}")
                return fwd.file_urls_response.file_urls[0]

    def _put(self, upload_url: str, name: str, data: bytes) -> None:
        with requests.Session() as http:
            http.get(f"{self.url}/_stcore/health", timeout=10)  # it sets the XSRF cookie
            token = http.cookies.get("_streamlit_xsrf")
            answer = http.put(upload_url if upload_url.startswith("http") else self.url + upload_url,
                              files={"file": (name, data)}, headers={"X-Xsrftoken": token} if token else {},
                              timeout=60)
        if answer.status_code >= 400:
            raise AppError(f"the upload was refused ({answer.status_code})")
    async def type_into(self, key: str, text: str, timeout: float = 60) -> list[str]:
        """Type `text` into the text field whose key is `key` (its on_change runs); the error
        alerts the page then shows."""
        state = BackMsg().rerun_script.widget_states.widgets.add()
        state.id, state.string_value = self.text_inputs[key], text
        await self._rerun([state], timeout, strict=False)
        return self.errors

    async def flood(self, data_urls: list[str]) -> None:
        """Send the canvas's value with each of `data_urls`, each a rerun, without waiting for
        the page: what a script that floods the server does."""
        for data_url in data_urls:
            value = {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data_url},
                     "backgroundFit": None}
            state = BackMsg().rerun_script.widget_states.widgets.add()
            state.id, state.json_value = self.canvas_id, json.dumps(value)
            await self.ws.send(self._rerun_message([state]).SerializeToString())

    async def runs_until_quiet(self, quiet: float = 2.0, timeout: float = 120) -> int:
        """Read what the server sends until it is silent for `quiet` s: how many runs of the
        page it started meanwhile (a run opens with a new_session message), also counted in
        `runs_started` as they come (should the reading be cut short)."""
        self.runs_started, deadline = 0, time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), quiet)
            except TimeoutError:
                return self.runs_started
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            self.runs_started += fwd.WhichOneof("type") == "new_session"
        raise AppError(f"the server was still sending after {timeout:.0f} s")

    @property
    def link(self) -> str:
        """The private link the server gave this session (its ?me=)."""
        return self.query.removeprefix("me=")

    async def close(self) -> None:
        await self.ws.close()

    def _rerun_message(self, widgets: list) -> BackMsg:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.widget_states.widgets.extend([*self.kept.values(), *widgets])
        rerun.page_script_hash = self.page_hash
        rerun.page_name = "" if self.page_hash else self.page_name
        rerun.query_string = self.query
        rerun.context_info.timezone = "UTC"
        rerun.context_info.url = self.url + "/" + (f"?{self.query}" if self.query else "")
        return msg

    async def _rerun(self, widgets: list, timeout: float, want: str = "", strict: bool = True) -> float:
        start = time.perf_counter()
        await self.ws.send(self._rerun_message(widgets).SerializeToString())
        seen, problem = None, ""
        self.errors, self.texts = [], []
        deadline = start + timeout
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                raise AppError(f"no answer in {timeout:.0f} s") from None
            except websockets.ConnectionClosed as e:
                raise AppError(f"the server closed the connection ({e.code})") from None
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = self.page_hash or fwd.new_session.page_script_hash
                self.session_id = fwd.new_session.initialize.session_id
            elif kind == "page_info_changed":  # the app put the visitor's private link in the URL
                self.query = fwd.page_info_changed.query_string
            elif kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    problem = problem or f"the page shows an exception: {element.exception.message[:100]}"
                if which == "alert" and element.alert.format == element.alert.ERROR:
                    self.errors.append(element.alert.body)
                    problem = problem or (f"the page shows an error: {element.alert.body[:100]}" if strict else "")
                if which == "alert" and element.alert.format == element.alert.WARNING:
                    self.warnings.append(element.alert.body)
                if which == "markdown":
                    self.texts.append(element.markdown.body)
                if which == "text_input":
                    self.text_inputs[element.text_input.id.rsplit("-", 1)[-1]] = element.text_input.id
                if which == "button" and "train_start" in element.button.id:
                    self.start_id = element.button.id
                if which == "bidi_component" and CANVAS_KEY in element.bidi_component.id:
                    self.canvas_id = element.bidi_component.id
                if which == "selectbox" and "model_choice" in element.selectbox.id:
                    self.model_choice_id = element.selectbox.id
                if which == "checkbox":
                    self.toggles[element.checkbox.id.rsplit("-", 1)[-1]] = element.checkbox.id
                if which == "file_uploader" and "draw_model_file" in element.file_uploader.id:
                    self.model_file_id = element.file_uploader.id
                if which == "metric" and want and element.metric.label == want and seen is None:
                    seen = time.perf_counter() - start
            elif kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                if problem:  # raised once the run is over: the next one starts with a clean stream
                    raise AppError(problem)
                if want and seen is None:
                    raise AppError(f"the page showed no {want}")
                return seen if seen is not None else time.perf_counter() - start
