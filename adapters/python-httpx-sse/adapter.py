"""Test service for httpx-sse (PyPI `httpx-sse`) over httpx's AsyncClient.

httpx-sse is a parser over an httpx response: it has no reconnection, no retry and no notion of
readyState. The adapter connects once, as the library's README does, and reports what a user
iterating `aiter_sse()` sees:

- `open` once `aconnect_sse` has a response (httpx does not check the status: a 500 or a 204 is a
  response like any other, and redirects are not followed by default) and the library's only
  check, the Content-Type check that `aiter_sse()` runs before reading (`EventSource.
  _check_content_type`: the media type must contain `text/event-stream`, else SSEError), passed.
  We run that same check ourselves just before iterating, so `open` comes before the first event.
- `event` for every ServerSentEvent yielded (the library yields one for any block that set
  `id` or `retry`, even without `data`); `id` and `lastEventId` are both `sse.id`, which is the
  last event ID in force (the decoder keeps it across events).
- `error` with readyState 2 when the stream ends or anything raises (SSEError, httpx errors,
  including httpx's default 5 s read timeout): the library gives up, and so does its user.
"""

import asyncio
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-common"))

import httpx  # noqa: E402
from httpx_sse import aconnect_sse  # noqa: E402

import service  # noqa: E402
from service import Adapter, BadRequest, Stream, log  # noqa: E402

CLOSED = 2

_loop = asyncio.new_event_loop()
threading.Thread(target=_loop.run_forever, name="asyncio", daemon=True).start()


class HttpxSseStream(Stream):
    def __init__(self, opts, callbacks):
        self.opts = opts
        self.callbacks = callbacks
        self.closed = threading.Event()
        method = (opts["method"] or "GET").upper()
        if method not in ("GET", "POST", "REPORT"):
            raise BadRequest("unsupported method %s" % method)
        self.method = method
        self.future = asyncio.run_coroutine_threadsafe(self._run(), _loop)

    def _request_kwargs(self):
        headers = dict(self.opts["headers"] or {})
        if self.opts["lastEventId"] is not None:
            headers["Last-Event-ID"] = self.opts["lastEventId"]
        kwargs = {"headers": headers}
        if self.opts["body"] is not None:
            kwargs["content"] = self.opts["body"].encode("utf-8")
        if self.opts["readTimeoutMs"] is not None:
            # httpx's default is 5 s for each of connect/read/write/pool; only read changes.
            kwargs["timeout"] = httpx.Timeout(5.0, read=self.opts["readTimeoutMs"] / 1000.0)
        return kwargs

    async def _run(self):
        emit = self.callbacks.emit
        try:
            async with httpx.AsyncClient() as client:
                async with aconnect_sse(client, self.method, self.opts["streamUrl"],
                                        **self._request_kwargs()) as event_source:
                    log("response %d %s", event_source.response.status_code,
                        event_source.response.headers.get("content-type"))
                    # The library's own acceptance check, run by aiter_sse() before it reads.
                    event_source._check_content_type()
                    emit("open")
                    async for sse in event_source.aiter_sse():
                        emit("event", event={"type": sse.event, "data": sse.data, "id": sse.id},
                             lastEventId=sse.id)
            emit("error", comment="stream ended", readyState=CLOSED)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            emit("error", comment="%s: %s" % (type(e).__name__, e), readyState=CLOSED)

    def close(self):
        # Cancelling the task leaves the `async with` blocks, which close the response and the
        # client. The adapter never connects again, so there is nothing else to stop.
        self.closed.set()
        self.future.cancel()
        try:
            self.future.result(timeout=5)
        except BaseException:
            pass


class HttpxSseAdapter(Adapter):
    name = "python-httpx-sse"
    distribution = "httpx-sse"
    capabilities = [
        "headers",
        "last-event-id",
        "post",
        "report",
        "read-timeout",
        "ssec:open",
        "ssec:ready-state",
        "ssec:time",
        "ssec:last-event-id-attribute",
        # A parser over one response, by design: it never reconnects (profile stream-parser).
        "ssec:stream-parser",
    ]

    def create(self, opts, callbacks):
        return HttpxSseStream(opts, callbacks)


if __name__ == "__main__":
    service.main(HttpxSseAdapter())
