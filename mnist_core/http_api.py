"""Predictions over HTTP: the seed service's contract, with the Draw page's preprocessing.

    python -m mnist_core serve                         # alone, on port 5000 (see `serve`)
    app = st.App("navigation.py", routes=routes(resolve))    # beside the app, on its port

    requests.post("http://localhost:5000/predict", files={"file": open("digit.png", "rb")}).json()
    # {"digit": 3, "confidence": 0.97, "probabilities": [...ten...], "not_a_digit": false, "model": "default"}
    # a letter, a star, a face: {"digit": 8, "not_a_digit": true, "looks_like": "a letter or a sign", ...}

Every answer is the Draw page's reading: seven views averaged, the confidence calibrated (a
temperature fitted on the validation split), and "not a digit" judged (classifier.judge).

`POST /predict`, the body either
- multipart, images in the field `file` (PNG, JPEG, GIF, BMP, WebP, TIFF): each goes through
  `preprocess(read_image(data))` and is read as the Draw page reads it (seven views averaged).
  One file: the seed's flat object above, or `{"error": "..."}` with status 422 when it cannot
  be read as a digit. Several files (the
  field repeated, at most MAX_FILES): `{"predictions": [item, ...]}` in the files' order, each
  item the flat object or `{"error": "..."}` (status 200: the other files are still answered);
- JSON `{"images": [28x28 array, ...]}`, at most MAX_ARRAYS: digits already made the MNIST way
  (white on black, pixels in [0, 1], or 0-255 when any pixel of the image is above 1), read as
  they are; answered as `{"predictions": [item, ...]}` (an all-zero image: an error item);
- the same as a NumPy `.npy` file (`application/x-npy`), (n, 28, 28) uint8 or float: no JSON
  to parse, so big batches go as fast as the model (`np.save(buffer, x_test[:1000])`).
`?model=NAME` picks the model, through the `resolve` function given to `routes`: a shipped
model ("default", "seed") or a saved run's id or name; a name is never a path.
`GET /health` answers `{"status": "ok"}`.

Every error is a JSON `{"error": "one line"}`: 400 a malformed request (no file, bad JSON),
404 an unknown model or path, 405 another method, 408 a body that comes too slowly, 413 a body
over MAX_BODY_BYTES, too many images or pixels, 415 another content type, 422 an image that
cannot be read as a digit (empty, not an image, over MAX_PIXELS, a decompression bomb, blank, a
single dot); 503 (with `Retry-After`) when the server is busy or the database that holds the
runs cannot be reached. No answer says where things are (a host, a database, a file path): the
server's log keeps the detail.

What is in flight is bounded for all requests together (`Limits`: 20,000 images, 64 MB and 128
megapixels to decode by default; in the app server the deployment's `[http] images, bytes, pixels`, else
`$MNIST_HTTP_MAX_IMAGES`, `$MNIST_HTTP_MAX_BYTES`, `$MNIST_HTTP_MAX_PIXELS`), each counted when it
is known: a body's bytes as they arrive, its images and the pixels its pictures declare in their
headers once it is read, before anything is decoded. A request that would go over waits up to
`Limits.wait` seconds for others to finish, then gets 503. A body must keep coming
(`Limits.body_rate` after `Limits.body_grace`) or it is answered 408, so a client that sends a byte
a second holds nothing for long. Decoding, preprocessing and the model run in worker threads at a
lower priority (`_Background`: nice +10), off the event loop, so `/health` answers throughout
and, beside the app, a visitor's stroke goes before a batch
(benchmarks/classroom.py --attack). Requests that arrive while the model is busy share its
next calls (`_Batcher`), made CHUNK images at a time: with 16 clients posting canvas PNGs,
2.5-3x the requests a second of a model call each (figures: docs/figures.md#http).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
import os
import socket
import stat
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mnist_core.declared import npy_header
from mnist_core.preprocessing import preprocess_and_span
from mnist_core.reading.classifier import Classifier, ClassifierCache, ModelError
from mnist_core.reading.image_file import MAX_BYTES, MAX_PIXELS, declared_pixels, read_image
from mnist_core.reading.interpretation import answer, rounded
from mnist_core.reading.novelty import DIGIT, KINDS, is_blob
from mnist_core.store.database import URL_VARIABLE, Database, StoreError, database_url
from mnist_core.store.runs import RunError, RunStore, resolve_model

MAX_BODY_BYTES = MAX_BYTES  # 10 MB a request, whatever it holds: the app's upload limit
MAX_FILES = 64  # images in one multipart request
MAX_REQUEST_PIXELS = 4 * MAX_PIXELS  # pixels one request's pictures may declare: four phone photos
# a request whose pictures declare more is big: it decodes on a thread of its own, one at a time,
# and never takes the last eighth of the pixels in flight, kept for small ones (a canvas is 0.08)
SMALL_PIXELS = 4_000_000
MAX_ARRAYS = 5000  # 28x28 arrays in one JSON request (about 1.9 KB each as MNIST's 0-255 integers)
CHUNK = 512  # images a model call: (512 x 7 views, 1024) float32 activations are 15 MB
BLANK = "a blank image: no digit in it"
NPY = "application/x-npy"
NPY_DTYPES = ("|u1", "<f4", "<f8")  # uint8 0-255, or float32 / float64
BUSY = "the server is busy: try again in a moment"
NO_DATABASE = "the database that holds the runs is unavailable: try again later"
SMALL_ANSWER = 64  # items answered on the event loop (a few ms at most); more in a worker thread
BACKGROUND_NICE = 10  # CFS then gives a request's thread about a tenth of a core beside a stroke's
log = logging.getLogger(__name__)


LIMIT_VARIABLES = {name: f"MNIST_HTTP_MAX_{name.upper()}" for name in ("images", "bytes", "pixels")}  # Limits.read's


@dataclass(frozen=True)
class Limits:
    """What all requests together may have in flight, and how long one waits for room."""

    # a 5,000-image request holds about 50 MB while it is read, seven views each (tests/test_attacks.py)
    images: int = 20_000
    bytes: int = 64 * 2**20  # of bodies, counted as they arrive
    # pixels its pictures declare, to be decoded: about 70 a microsecond a core for PNGs (a
    # 16-megapixel one, 0.23 s), so 128 million are under 2 s of the server's two cores
    pixels: int = 128_000_000
    wait: float = 2.0  # seconds a request waits for room before it is answered 503
    body_grace: float = 10.0  # seconds a body may take whatever its size...
    body_rate: int = 32 * 1024  # ...then bytes a second on average, or 408: 10 MB in 5.5 min

    @classmethod
    def read(cls, table: Mapping = MappingProxyType({})) -> Limits:
        """The limits a deployment's `[http]` table sets (`images`, `bytes`, `pixels`), else
        $MNIST_HTTP_MAX_IMAGES, $MNIST_HTTP_MAX_BYTES, $MNIST_HTTP_MAX_PIXELS, else the defaults;
        ValueError for one that is not a positive whole number."""
        def one(name: str) -> int:
            return whole(name, table[name] if name in table else
                         os.environ.get(LIMIT_VARIABLES[name]) or getattr(cls, name))

        return cls(*(one(name) for name in LIMIT_VARIABLES))


def whole(name: str, value: object) -> int:
    """A setting that must be a whole number over 0 (an int, or its digits as text); ValueError
    "NAME must be ..." otherwise."""
    text = str(value).strip()
    if isinstance(value, bool | float) or not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise ValueError(f"{name} must be a whole number over 0, not {str(value)[:20]!r}")
    return int(text)

Resolver = Callable[[str | None], Classifier]  # model name (None: the default) -> loaded model


class ApiError(Exception):
    """A request that cannot be answered; `status` is its HTTP status, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "1"} if self.status == 503 else None
        return JSONResponse({"error": str(self)}, status_code=self.status, headers=headers)


@dataclass
class _Share:
    """What one request holds of the work in flight: images, bytes, pixels to decode."""

    images: int = 0
    bytes: int = 0
    pixels: int = 0


class _InFlight:
    """Images, bytes and pixels held by all requests together: each request takes its share as
    it learns what it holds (`add`: waits for room, else 503) and gives it all back at its end.

        async with in_flight.request() as share:
            await in_flight.add(share, nbytes=len(chunk))   # as the body arrives
            await in_flight.add(share, images=n, pixels=p)  # once it is read, before decoding
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.held = _Share()
        self._room = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def request(self) -> AsyncIterator[_Share]:
        share = _Share()
        try:
            yield share
        finally:
            async with self._room:
                self.held.images -= share.images
                self.held.bytes -= share.bytes
                self.held.pixels -= share.pixels
                self._room.notify_all()

    async def add(self, share: _Share, images: int = 0, nbytes: int = 0, pixels: int = 0) -> None:
        limits, held = self.limits, self.held
        if share.images + images > limits.images or share.bytes + nbytes > limits.bytes:
            raise ApiError(413, f"{share.images + images} images and {share.bytes + nbytes:,} bytes: "
                                "over what this server takes at once")
        most = min(limits.pixels - limits.pixels // 8, MAX_REQUEST_PIXELS)
        if share.pixels + pixels > most:
            raise ApiError(413, f"the pictures declare {(share.pixels + pixels) / 1e6:.0f} megapixels together; "
                                f"the limit is {most / 1e6:.0f} a request")
        # a big request leaves the last eighth of the room to small ones: a stroke's PNG never waits for it
        room = limits.pixels - (limits.pixels // 8 if share.pixels + pixels > SMALL_PIXELS else 0)

        def fits() -> bool:
            return (held.images + images <= limits.images and held.bytes + nbytes <= limits.bytes
                    and held.pixels + pixels <= room)

        async with self._room:
            try:
                await asyncio.wait_for(self._room.wait_for(fits), limits.wait)
            except TimeoutError:
                raise ApiError(503, BUSY) from None
            held.images, held.bytes, held.pixels = held.images + images, held.bytes + nbytes, held.pixels + pixels
            share.images, share.bytes, share.pixels = share.images + images, share.bytes + nbytes, share.pixels + pixels


class _Background:
    """Threads for the CPU work of requests (decoding, the model, the answers), one a core, each
    at nice +BACKGROUND_NICE (on Linux a nice value is a thread's own): beside the app, the
    pages' strokes are read first and batches take the CPU they leave; alone (`serve`), the
    event loop and `/health` go first."""

    def __init__(self, threads: int = max(2, os.cpu_count() or 2)) -> None:
        self._pool = ThreadPoolExecutor(threads, "http-work", initializer=_lower_priority)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # no os.nice (Windows): the process's priority
        os.nice(BACKGROUND_NICE)


def loaded_models(store: RunStore | None) -> Resolver:
    """The standalone server's resolver: the shipped models and the runs in `store` (None: the
    shipped ones only), each loaded once and kept while they fit in the cache's bytes."""
    cache = ClassifierCache()
    return lambda name: cache.get(resolve_model(name, store))


def routes(resolve: Resolver, limits: Limits | None = None) -> list[Route]:
    """`POST /predict` and `GET /health`, reading digits with the models `resolve` names."""
    work, big = _Background(), _Background(threads=1)  # big: requests over SMALL_PIXELS, never in small ones' way
    batcher, in_flight = _Batcher(work), _InFlight(limits or Limits.read())

    async def predict(request: Request) -> Response:
        if request.method != "POST":
            return _wrong_method("POST")
        name = request.query_params.get("model")
        try:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise _too_large()
            async with in_flight.request() as share:
                body = await _read_body(request, in_flight, share)
                content = await _content(request, body, work)
                # what it will decode is known before a pixel is: held, or it waits for room
                await in_flight.add(share, images=content.images, pixels=content.pixels)
                classifier = await run_in_threadpool(resolve, name)
                decoder = big if content.pixels > SMALL_PIXELS else work
                digits, good = await decoder.run(_stacked, content.read, content.data)
                p = await batcher.predict_proba(classifier, good) if len(good) else np.zeros((0, 11), np.float32)
                if len(digits) <= SMALL_ANSWER:
                    return _response(digits, p, name, content.single)
                # thousands of items: made and serialized off the event loop, which answers /health meanwhile
                return await work.run(_response, digits, p, name, content.single)
        except (ModelError, RunError) as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        except StoreError as e:
            log.warning("POST /predict: %s", e.detail)
            return ApiError(503, NO_DATABASE).response()
        except ApiError as e:
            return e.response()
        except ClientDisconnect:  # gone before its body came: nobody to answer, nothing to log but a line
            log.warning("POST /predict: the client went away before its body was read")
            return Response(status_code=400)
        except Exception:  # never a traceback to a client; the log has it
            log.exception("POST /predict failed")
            return JSONResponse({"error": "the server failed to answer this request"}, status_code=500)

    async def health(request: Request) -> JSONResponse:
        if request.method != "GET":
            return _wrong_method("GET")
        return JSONResponse({"status": "ok"})

    # every method reaches the handlers, which answer 405 as JSON (Starlette's own is plain text)
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [Route("/predict", predict, methods=methods), Route("/health", health, methods=methods)]


@dataclass(frozen=True)
class _Content:
    """A body taken apart, nothing decoded yet: `read(data)` gives its digits."""

    read: Callable[[Any], list[np.ndarray | str]]
    data: Any
    images: int
    pixels: int  # what its pictures declare, to be decoded (0 for arrays)
    single: bool  # one file: the answer is the seed's flat object


async def _content(request: Request, body: bytes, work: _Background) -> _Content:
    """What the body holds, by its content type, and how much of it there is."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        images = await work.run(_images_from_json, body)
        return _Content(_digits_from_json_images, images, len(images), 0, False)
    if content_type.startswith(NPY):
        x = _array_from_npy(body)
        return _Content(_digits_from_npy_array, x, len(x), 0, False)
    if content_type.startswith("multipart/form-data"):
        files = await _files_from_multipart(request, body)
        pixels = await work.run(lambda: sum(map(declared_pixels, files)))  # headers only
        return _Content(_digits_from_files, files, len(files), pixels, len(files) == 1)
    raise ApiError(415, 'send images as multipart/form-data in the field `file`, JSON {"images": [...]}, '
                        f"or {NPY}")


def _wrong_method(allowed: str) -> JSONResponse:
    return JSONResponse({"error": f"use {allowed} here"}, status_code=405, headers={"Allow": allowed})


def _too_large() -> ApiError:
    return ApiError(413, f"the request body is over the {MAX_BODY_BYTES // 2**20} MB limit")


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "no such path: POST /predict, GET /health"}, status_code=404)


def create_app(resolve: Resolver, limits: Limits | None = None) -> Starlette:
    """The routes alone, as an ASGI app (stateless: any number of replicas can serve it)."""
    return Starlette(routes=routes(resolve, limits), exception_handlers={404: _not_found})


def serve(database: str, host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> None:
    """Answer on host:port until stopped (uvicorn), with the runs in the database at
    `database`; `workers` processes share the port, each with its own models (a reading takes
    one core: on two cores, two processes answer twice as many)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ[URL_VARIABLE] = database  # each worker process builds its app from it (standalone_app)
    if workers == 1:
        uvicorn.run(standalone_app(), host=host, port=port, access_log=False)
        return
    config = uvicorn.Config("mnist_core.http_api:standalone_app", factory=True, host=host, port=port,
                            workers=workers, access_log=False)
    try:
        listener = config.bind_socket()  # shared by the workers; older uvicorn releases bound it with protocol 0
        no_delay_on_listeners()
        Multiprocess(config, sockets=[listener]).run()
    except KeyboardInterrupt:
        pass


def no_delay_on_listeners() -> int:
    """TCP_NODELAY on every listening TCP socket of this process, which the connections it
    accepts inherit (Linux, macOS); how many there were. For servers that bind their port with
    protocol 0, as Streamlit 1.67 and uvicorn's shared listener (`serve --workers N`) do: asyncio
    then leaves Nagle on, and on a kept-alive connection each answer after the first waits ~40 ms
    for a delayed ACK (uvicorn issue 3149; 90 of the 115 files of the app's first visit)."""
    try:
        fds = [int(name) for name in os.listdir("/dev/fd")]
    except (OSError, ValueError):  # no /dev/fd (Windows): nothing done
        return 0
    found = 0
    for fd in fds:
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))  # a second descriptor of the same socket
        except OSError:
            continue
        with sock, contextlib.suppress(OSError):  # closes the duplicate only
            if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
                    and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                found += 1
    return found


def standalone_app() -> Starlette:
    """The standalone server's app: the shipped models and the runs in the database that
    `$MNIST_DATABASE_URL` names; the default model loaded before the first request."""
    resolve = loaded_models(RunStore(Database.open(database_url())))
    resolve(None)
    return create_app(resolve)


async def _read_body(request: Request, in_flight: _InFlight, share: _Share) -> bytes:
    """The whole body, its bytes held in `share` as they arrive; 413 as soon as it is over
    MAX_BODY_BYTES, 408 when it falls behind Limits.body_rate after Limits.body_grace."""
    limits, loop = in_flight.limits, asyncio.get_running_loop()
    chunks, size, start = [], 0, loop.time()
    stream = request.stream()
    try:
        while True:
            due = start + limits.body_grace + size / limits.body_rate  # when the next bytes are late
            try:
                chunk = await asyncio.wait_for(anext(stream, b""), due - loop.time())
            except TimeoutError:
                raise ApiError(408, f"the body came too slowly ({size:,} bytes in {loop.time() - start:.0f} s)") \
                    from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large()
            await in_flight.add(share, nbytes=len(chunk))
            chunks.append(chunk)
    finally:
        await stream.aclose()


async def _files_from_multipart(request: Request, body: bytes) -> list[bytes]:
    """The contents of every file in the field `file`, in order; 400 when there is none."""

    async def stream() -> AsyncIterator[bytes]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=MAX_FILES, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as e:
        status = 413 if str(e).startswith("Too many files") else 400
        raise ApiError(status, f"bad multipart body: {e}") from None
    try:
        files = [await f.read() for f in form.getlist("file") if isinstance(f, UploadFile)]
    finally:
        await form.close()
    if not files:
        raise ApiError(400, "no image: send it as a file in the multipart field `file`")
    return files


def _digits_from_files(files: list[bytes]) -> list[np.ndarray | str]:
    """Each file -> its (28, 28) digit as the Draw page makes it, or why it cannot be read. A
    filled blob (preprocessing thins it into a bar) comes back with its ink negative, the mark
    that travels with it through the batches to _judged, which judges it as the Draw page does:
    "not a digit"."""
    digits: list[np.ndarray | str] = []
    for data in files:
        try:
            x28, span = preprocess_and_span(read_image(data))  # ImageError and NotADigit are ValueErrors
            digits.append(BLANK if x28 is None else -x28 if is_blob(span) else x28)
        except ValueError as e:
            digits.append(str(e))
    return digits


def _images_from_json(body: bytes) -> list:
    """`{"images": [...]}` -> the list, at most MAX_ARRAYS long; 400 for anything else."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
        raise ApiError(400, "the body is not valid JSON") from None
    images = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(images, list) or not images:
        raise ApiError(400, 'expected a JSON object {"images": [28x28 array, ...]}')
    if len(images) > MAX_ARRAYS:
        raise ApiError(413, f"{len(images)} images; the limit is {MAX_ARRAYS} a request")
    return images


def _digits_from_json_images(images: list) -> list[np.ndarray | str]:
    """A JSON list of 28x28 arrays of numbers -> each as (28, 28) float32 in [0, 1], or BLANK.
    Numbers only: numpy would read "7" and true as 7 and 1, and keep an integer of 4,000 digits
    as an object."""
    try:
        x = np.asarray(images)
    except ValueError:  # ragged
        raise ApiError(400, "each image must be a 28x28 array of numbers") from None
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ApiError(400, f"each image must be a 28x28 array of numbers, not {x.shape[1:]}")
    numbers = {int, float}
    if x.dtype.kind not in "iuf" or not all(numbers.issuperset(map(type, row)) for image in images for row in image):
        raise ApiError(400, "each image must be a 28x28 array of numbers from 0 to 255 (no strings, booleans, "
                            "nulls or huge integers)")
    return _digits_from_array(x.astype(np.float32))


def _array_from_npy(body: bytes) -> np.ndarray:
    """An .npy file of (n, 28, 28) images, its header checked before any pixel is read: the
    shape it declares must be that, and the body must hold exactly those bytes (not copied)."""
    stream = io.BytesIO(body)
    try:
        shape, dtype = npy_header(stream)
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    if len(shape) != 3 or shape[1:] != (28, 28) or dtype.str not in NPY_DTYPES:
        raise ApiError(400, f"expected (n, 28, 28) uint8 or float images in C order, not {shape} {dtype.str}")
    if shape[0] > MAX_ARRAYS:
        raise ApiError(413, f"{shape[0]} images; the limit is {MAX_ARRAYS} a request")
    if len(body) - stream.tell() != dtype.itemsize * 784 * shape[0]:
        raise ApiError(400, f"the file does not hold the {shape[0]} images its header declares")
    return np.frombuffer(body, dtype, offset=stream.tell()).reshape(shape)


def _digits_from_npy_array(x: np.ndarray) -> list[np.ndarray | str]:
    return _digits_from_array(x.astype(np.float32))


def _digits_from_array(x: np.ndarray) -> list[np.ndarray | str]:
    """(n, 28, 28) float32 -> each image in [0, 1] (0-255 when any pixel is above 1), or BLANK."""
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ApiError(400, f"each image must be a 28x28 array of numbers, not {x.shape[1:]}")
    if len(x) == 0:
        raise ApiError(400, "no images")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 255:
        raise ApiError(400, "pixels must be numbers from 0 to 1 (or 0 to 255)")
    peaks = x.max(axis=(1, 2))
    x /= np.where(peaks > 1, np.float32(255), np.float32(1))[:, None, None]
    return [image if peak > 0 else BLANK for image, peak in zip(x, peaks, strict=True)]


def _stacked(read: Callable[[Any], list[np.ndarray | str]], data: Any) -> tuple[list[np.ndarray | str], np.ndarray]:
    """`read(data)`'s digits, and the readable ones stacked, in one trip to a worker thread."""
    digits = read(data)
    return digits, _stack(digits)


def _stack(digits: list[np.ndarray | str]) -> np.ndarray:
    """The readable digits as one (n, 28, 28) array: the array they are rows of when they are all
    of one (a batch with no blank image: no copy), else a new one."""
    good = [d for d in digits if isinstance(d, np.ndarray)]
    base = good[0].base if good else None
    if base is not None and len(good) == len(base) and all(d.base is base for d in good):
        return base
    return np.stack(good) if good else np.zeros((0, 28, 28), np.float32)


def _response(digits: list[np.ndarray | str], probabilities: np.ndarray, model: str | None,
              single: bool) -> JSONResponse:
    items = _answers(digits, probabilities, model)
    if single:  # the seed's contract: one file, one flat object
        return JSONResponse(items[0], status_code=422 if "error" in items[0] else 200)
    return JSONResponse({"predictions": items})


def _answers(digits: list[np.ndarray | str], probabilities: np.ndarray, model: str | None) -> list[dict]:
    """One JSON item per digit, in order: the prediction, or the error for an unreadable one."""
    rows = iter(rounded(probabilities))
    items = []
    for digit in digits:
        if isinstance(digit, str):
            items.append({"error": digit})
            continue
        *p, kind = next(rows)
        looks_like = KINDS[int(kind)]
        items.append({**answer(p, None if looks_like == DIGIT else looks_like), "model": model or "default"})
    return items


def _in_chunks(classifier: Classifier, xs: list[np.ndarray]) -> np.ndarray:
    """Requests' (n_i, 28, 28) -> (sum n_i, 11): each image's ten calibrated probabilities and
    what it looks like (its place in novelty.KINDS, 0: a digit; classifier.judge), CHUNK images
    a model call: small requests share a call, a big one is cut, and no request's images are
    copied whole."""
    return np.concatenate([_judged(classifier, chunk) for chunk in _chunks(xs)])


def _judged(classifier: Classifier, x: np.ndarray) -> np.ndarray:
    blobs = x.reshape(len(x), -1).min(axis=1) < 0  # negative ink: marked by _digits_from_files
    judged = classifier.judge(np.abs(x), [0.0 if blob else None for blob in blobs])
    return np.column_stack([judged.probabilities, [KINDS.index(k or DIGIT) for k in judged.looks_like]])


def _chunks(xs: list[np.ndarray]) -> Iterator[np.ndarray]:
    pending, size = [], 0
    for x in xs:
        start = 0
        while start < len(x):
            take = min(CHUNK - size, len(x) - start)
            pending.append(x[start:start + take])
            size, start = size + take, start + take
            if size == CHUNK:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, size = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


class _Batcher:
    """Runs the model once for the images of every request that came in while it was busy.

    No timer: a request that finds the model idle is run at once, so one client waits for
    nothing; under load each call takes everything that queued during the previous one.
    """

    def __init__(self, work: _Background) -> None:
        self._work = work
        self._queue: list[tuple[Classifier, np.ndarray, asyncio.Future[np.ndarray]]] = []
        self._worker: asyncio.Task | None = None

    async def predict_proba(self, classifier: Classifier, x: np.ndarray) -> np.ndarray:
        """(n, 28, 28) -> (n, 11): ten calibrated probabilities and "not a digit", in a shared call."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((classifier, x, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            queue, self._queue = self._queue, []
            for classifier in {id(c): c for c, _, _ in queue}.values():
                xs = [x for c, x, _ in queue if c is classifier]
                futures = [future for c, _, future in queue if c is classifier]
                try:
                    p = await self._work.run(_in_chunks, classifier, xs)
                except Exception as e:  # the model failed: every request waiting on it fails
                    for future in futures:
                        if not future.done():
                            future.set_exception(e)
                    continue
                for future, part in zip(futures, np.split(p, np.cumsum([len(x) for x in xs])[:-1]), strict=True):
                    if not future.done():  # done: the client went away
                        future.set_result(part)
