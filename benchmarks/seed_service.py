"""The seed's prediction service, as it worked per request, for benchmarks/http_speed.py.

    python benchmarks/seed_service.py --port 5001 [--model models/default.keras]

The seed ran Flask's threaded server with this handler (a thread per request):

    file = request.files["file"]
    img = Image.open(file).convert("L").resize((28, 28))
    pred = model.predict(np.array(img).reshape(1, 784) / 255.0)
    return jsonify({"digit": int(np.argmax(pred))})

Flask is not a dependency here: the same work runs in a thread per request behind Starlette
(the server our own service uses too, so the comparison is the per-request work, not the
HTTP server). Nothing is checked: a bad upload is a 500, as it was.
"""

from __future__ import annotations

import argparse
import io

import keras
import numpy as np
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mnist_core.reading.classifier import DEFAULT_MODEL


def seed_app(model: keras.Model) -> Starlette:
    def digit(data: bytes) -> int:
        img = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
        pred = model.predict(np.array(img).reshape(1, 784) / 255.0)
        return int(np.argmax(pred))

    async def predict(request: Request) -> JSONResponse:
        form = await request.form()
        return JSONResponse({"digit": await run_in_threadpool(digit, await form["file"].read())})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    args = parser.parse_args()
    model = keras.models.load_model(args.model, compile=False)
    uvicorn.run(seed_app(model), host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
