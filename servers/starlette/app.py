"""Two Python SSE servers under test, the same endpoints written two ways.

plain_app: in the style of the seed article (germano.dev 2022, "Server-Sent Events: the
  alternative to WebSockets you should be using"): Starlette's own StreamingResponse with
  media_type="text/event-stream" and hand-written "id:/data:" lines, no SSE library. It is
  deliberately left as plain as the article: no Cache-Control, no keep-alive comments, so
  the suite measures what such a server does by default.
sse_starlette_app: the same endpoints with the sse-starlette library's EventSourceResponse
  and all its defaults (its headers, its ping comments, its CRLF line endings).

Endpoints (both apps):
  GET /sse1, /sse2  one event per interval, "id: n" and "data: <pseudo-random number>";
                    the number depends only on (stream, n), so a stream resumed with
                    Last-Event-ID: k continues at id k+1 with the numbers it would have sent.
  GET /live         only published events, silent otherwise (for measuring delivery).
  POST /live        JSON body that is a string: publishes it as one event's data to every
                    open /live stream; 204.
The interval (seconds, default 1.0 as in the article) comes from SSE_INTERVAL, set by ./run.
"""

import asyncio
import itertools
import json
import os
import random
import re

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

INTERVAL = float(os.environ.get("SSE_INTERVAL", "1.0"))


def number(stream: int, n: int) -> int:
    # Seeded from (stream, id) rather than drawn from one generator, so a resumed stream
    # carries on with the same numbers the unbroken one would have sent.
    return random.Random(f"{stream}-{n}").randint(0, 1_000_000)


def first_id(request: Request) -> int:
    # A fresh connection starts at id 1; a reconnect starts after the id it last saw.
    try:
        return max(int(request.headers.get("last-event-id", "0")), 0) + 1
    except ValueError:
        return 1


async def numbers(stream: int, start: int):
    """(id, number) pairs, one per INTERVAL, forever (the first at once)."""
    for n in itertools.count(start):
        yield n, number(stream, n)
        await asyncio.sleep(INTERVAL)


class Broker:
    """Fan-out for /live: one asyncio.Queue per open stream."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue] = set()
        self.ids = itertools.count(1)

    async def events(self):
        """(id, data) pairs published while this stream is open. The queue is removed in
        `finally`, which runs when the response cancels the generator on disconnect."""
        queue: asyncio.Queue = asyncio.Queue()
        self.queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.queues.discard(queue)

    async def publish(self, request: Request) -> Response:
        try:
            data = json.loads(await request.body())
        except ValueError:
            data = None
        if not isinstance(data, str):
            return PlainTextResponse("body must be a JSON string\n", status_code=400)
        event = (next(self.ids), data)
        for queue in self.queues:
            queue.put_nowait(event)
        return Response(status_code=204)


# ---- plain: Starlette's StreamingResponse, hand-written event text ----

def event_text(n: int, data: str) -> str:
    # A data line may not hold a line break: one "data:" line per line (CR, LF or CRLF).
    lines = "".join(f"data: {line}\n" for line in re.split(r"\r\n|\r|\n", data))
    return f"id: {n}\n{lines}\n"


def plain_stream(stream: int):
    async def endpoint(request: Request) -> Response:
        async def body():
            async for n, value in numbers(stream, first_id(request)):
                yield event_text(n, str(value))

        return StreamingResponse(body(), media_type="text/event-stream")

    return endpoint


plain_broker = Broker()


async def plain_live(request: Request) -> Response:
    async def body():
        async for n, data in plain_broker.events():
            yield event_text(n, data)

    return StreamingResponse(body(), media_type="text/event-stream")


plain_app = Starlette(routes=[
    Route("/sse1", plain_stream(1)),
    Route("/sse2", plain_stream(2)),
    Route("/live", plain_live, methods=["GET"]),
    Route("/live", plain_broker.publish, methods=["POST"]),
])


# ---- sse-starlette: EventSourceResponse with its defaults ----

def library_stream(stream: int):
    async def endpoint(request: Request) -> Response:
        async def body():
            async for n, value in numbers(stream, first_id(request)):
                yield {"id": str(n), "data": value}  # sse-starlette wants id as str

        return EventSourceResponse(body())

    return endpoint


library_broker = Broker()


async def library_live(request: Request) -> Response:
    async def body():
        async for n, data in library_broker.events():
            yield {"id": str(n), "data": data}

    return EventSourceResponse(body())


sse_starlette_app = Starlette(routes=[
    Route("/sse1", library_stream(1)),
    Route("/sse2", library_stream(2)),
    Route("/live", library_live, methods=["GET"]),
    Route("/live", library_broker.publish, methods=["POST"]),
])
