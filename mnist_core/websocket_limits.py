"""What one client may hold of a server's websockets: connections per address, and how often a
connection's messages of one kind (a page's reruns) go through. An ASGI middleware.

    app = Starlette(..., middleware=[Middleware(WebSocketLimits, kind=rerun_kind)])
    # rerun_kind(frame: bytes) -> "rerun", "fragment <id>"... or None: a newer message of a kind
    # supersedes an older one of that kind; None passes at once

One visitor's script froze everyone: 3,104 canvas frames sent without waiting restarted the
page's script 3,104 times (Streamlit's fast reruns stop a run for each newer one), and a
thousand sessions from one machine each ran the page. Here:

- an address holds at most `per_address` websockets at once (Streamlit's sessions; a class
  behind one school address fits; the deployment's `[http] sessions_per_address`); one more is refused at the
  handshake (HTTP 403), and the browser's page retries. Loopback addresses are not counted: a proxy in front, or this
  machine (tests, benchmarks), where every visitor would share one address;
- a connection's messages of a superseding kind pass at `rate` a second (a burst of `burst`):
  one that must wait is held, and a newer one of that kind replaces it unsent, since a rerun
  carries the whole state of the page's widgets (a button's click in a replaced one is lost:
  only past 5 reruns a second, which no hand reaches); other messages pass at once;
- a connection is read at 1 MB a second (a burst of 4 MB): a client that sends more waits in
  TCP's flow control, and costs the server's event loop no more than that.

The core of neither Streamlit nor this app: `kind` says what a message is.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PER_ADDRESS = 60  # websockets one address may hold: a class of 30 with two tabs each
PER_ADDRESS_VARIABLE = "MNIST_SESSIONS_PER_ADDRESS"  # the deployer's own number (deployment.py reads it)
RATE, BURST = 5.0, 10  # superseding messages a second a connection, and a burst: a stroke a second is 1
# bytes a second read from a connection, and a burst: a stroke's frame is 10-50 KB, the most a
# message may be 2 MB (server.maxWidgetStateSize)
BYTE_RATE, BYTE_BURST = 2**20, 4 * 2**20
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class WebSocketLimits:
    """ASGI middleware: websockets per client address, and superseding messages per connection."""

    def __init__(self, app: ASGIApp, kind: Callable[[bytes], str | None], per_address: int = PER_ADDRESS,
                 rate: float = RATE, burst: int = BURST) -> None:
        self.app, self.kind, self.rate, self.burst = app, kind, rate, burst
        self.per_address = per_address
        self.open: Counter[str] = Counter()  # address -> websockets open (one event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("",))[0]
        counted = bool(address) and address not in LOOPBACK
        if counted and self.open[address] >= self.per_address:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1013})  # before accept: HTTP 403
            return
        self.open[address] += counted
        paced = Paced(receive, self.kind, self.rate, self.burst)
        try:
            await self.app(scope, paced.receive, send)
        finally:
            paced.close()
            self.open[address] -= counted
            if self.open[address] <= 0:
                del self.open[address]


class Bucket:
    """A token bucket: `rate` tokens a second, at most `burst` saved; spending may go into debt."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.last = float(burst), clock()

    def level(self) -> float:
        now = self.clock()
        self.tokens, self.last = min(self.burst, self.tokens + (now - self.last) * self.rate), now
        return self.tokens

    def take(self, n: float = 1.0) -> bool:
        if self.level() < n:
            return False
        self.tokens -= n
        return True

    def spend(self, n: float) -> None:
        self.level()
        self.tokens -= n

    def wait(self, n: float = 1.0) -> float:
        """Seconds until `n` tokens are saved."""
        return max(0.0, (n - self.level()) / self.rate)


class Paced:
    """A connection's incoming messages: read at most `byte_rate` bytes a second (a burst of
    `byte_burst`: beyond, the client waits in TCP's flow control), and those of a superseding
    kind passed at most `rate` a second (a burst of `burst`), the newest of each kind held
    while it waits and any older one of that kind dropped."""

    def __init__(self, receive: Receive, kind: Callable[[bytes], str | None], rate: float = RATE,
                 burst: int = BURST, byte_rate: float = BYTE_RATE, byte_burst: float = BYTE_BURST) -> None:
        self._receive, self.kind = receive, kind
        self.turns, self.bytes = Bucket(rate, burst), Bucket(byte_rate, byte_burst)
        self.held: dict[str, Message] = {}  # kind -> the newest message of it waiting, oldest kind first
        self.dropped = 0  # superseded messages never passed on
        self._next: asyncio.Future[Message] | None = None  # the one read from the client under way

    async def receive(self) -> Message:
        while True:
            if self.held and self.turns.take():
                return self.held.pop(next(iter(self.held)))
            if self._next is None and self.bytes.level() >= 0:
                self._next = asyncio.ensure_future(self._receive())
            waits = [self.turns.wait()] if self.held else []
            if self._next is None:  # in debt for bytes read: the client waits
                await asyncio.sleep(min([*waits, self.bytes.wait(0)]))
                continue
            done, _ = await asyncio.wait({self._next}, timeout=min(waits, default=None))
            if not done:
                continue  # the held message's turn
            message, self._next = self._next.result(), None
            data = (message.get("bytes") or b"") if message["type"] == "websocket.receive" else b""
            self.bytes.spend(len(data))
            kind = self.kind(data) if data else None
            if kind is None:
                return message  # anything else, a disconnect included, at once
            if not self.held and self.turns.take():
                return message
            self.dropped += self.held.pop(kind, None) is not None
            self.held[kind] = message  # supersedes the one of its kind held before

    def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
