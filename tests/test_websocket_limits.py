"""The websocket door: a connection's reruns paced, superseded ones dropped, other messages at
once; websockets per address capped, loopback not counted. The app's server under a flood is in
tests/test_attacks.py."""

from __future__ import annotations

import asyncio

from mnist_core.websocket_limits import Paced, WebSocketLimits
from tests.helpers import run_coroutine


def kind(frame: bytes) -> str | None:
    return frame.split()[0].decode() if frame.startswith((b"rerun", b"fragment")) else None


def frame(data: bytes) -> dict:
    return {"type": "websocket.receive", "bytes": data}


def test_a_flood_of_reruns_passes_a_burst_then_only_the_newest_and_other_messages_at_once():
    async def scenario() -> list[bytes | str]:
        arrived = asyncio.Queue()
        for i in range(100):  # a script's frames, all at once
            arrived.put_nowait(frame(b"rerun %d" % i))
        arrived.put_nowait(frame(b"heartbeat"))
        paced = Paced(arrived.get, kind, rate=20.0, burst=2)
        passed = [(await paced.receive())["bytes"] for _ in range(4)]
        arrived.put_nowait({"type": "websocket.disconnect"})
        passed.append((await paced.receive())["type"])
        paced.close()
        return passed

    passed = run_coroutine(scenario())
    assert passed == [b"rerun 0", b"rerun 1", b"heartbeat", b"rerun 99", "websocket.disconnect"]


def test_a_held_rerun_is_superseded_by_a_rerun_only_not_by_a_fragments_timer():
    async def scenario() -> list[bytes]:
        arrived = asyncio.Queue()
        for data in (b"rerun 0", b"rerun 1 click", b"fragment a", b"fragment a", b"rerun 2"):
            arrived.put_nowait(frame(data))
        paced = Paced(arrived.get, kind, rate=50.0, burst=1)
        passed = [(await paced.receive())["bytes"] for _ in range(3)]
        paced.close()
        return passed

    assert run_coroutine(scenario()) == [b"rerun 0", b"fragment a", b"rerun 2"]


def test_reruns_at_an_honest_pace_all_pass_in_order():
    async def scenario() -> list[bytes]:
        arrived = asyncio.Queue()
        paced = Paced(arrived.get, kind, rate=50.0, burst=2)
        passed = []
        for i in range(6):
            arrived.put_nowait(frame(b"rerun %d" % i))
            passed.append((await paced.receive())["bytes"])
            await asyncio.sleep(0.03)  # slower than 50 a second
        paced.close()
        return passed

    assert run_coroutine(scenario()) == [b"rerun %d" % i for i in range(6)]


def test_an_address_holds_at_most_its_websockets_and_loopback_is_not_counted():
    async def scenario() -> list[str]:
        release = asyncio.Event()

        async def app(scope, receive, send) -> None:  # a session: accepted, then open until released
            await receive()
            await send({"type": "websocket.accept"})
            await release.wait()

        limits = WebSocketLimits(app, kind, per_address=2)
        sessions = []

        async def connect(address: str) -> str:
            answers = []

            async def receive() -> dict:
                return {"type": "websocket.connect"}

            async def send(message: dict) -> None:
                answers.append(message["type"])

            scope = {"type": "websocket", "client": (address, 5000)}
            sessions.append(asyncio.create_task(limits(scope, receive, send)))
            await asyncio.sleep(0.01)
            return answers[0] if answers else "nothing"

        outcomes = [await connect(a) for a in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2",
                                               "127.0.0.1", "127.0.0.1", "127.0.0.1")]
        release.set()
        await asyncio.sleep(0.01)
        outcomes.append(await connect("10.0.0.1"))  # the address's sessions ended: room again
        release.set()
        await asyncio.gather(*sessions)
        return outcomes

    accepted, refused = "websocket.accept", "websocket.close"
    assert run_coroutine(scenario()) == [accepted, accepted, refused, accepted, accepted, accepted, accepted,
                                         accepted]
