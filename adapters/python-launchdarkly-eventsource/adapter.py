"""Test service for LaunchDarkly's Python SSE client (PyPI `launchdarkly-eventsource`).

The synchronous `SSEClient` on its default urllib3 `ConnectStrategy.http`, read through
`SSEClient.all` on one thread per stream, as LaunchDarkly's own contract-test service does:

- `Start` (a response with status < 400, not 204, Content-Type starting `text/event-stream`)
  is reported as `open`; `Event` as `event`; `Comment` as `comment`.
- `Fault` (a failed connection attempt, a broken stream, or a clean end of stream) is reported
  as `error`. After a Fault the client goes on reading (= reconnects) if its ErrorStrategy said
  CONTINUE, and stops if it said FAIL: readyState 0 or 2 follows that decision, which the adapter
  records as the strategy answers. An exception out of the iterator is an `error` with
  readyState 2.
- ErrorStrategy: the library's default is `always_fail()` (a clean end of stream stops the
  iterator, any error is raised: no reconnection at all). LaunchDarkly's contract-test service
  uses CONTINUE until the test closes the stream, and so do we: `always_continue()`, answered
  FAIL once the stream is closed. Retry delay: the library's default RetryDelayStrategy
  (backoff x2, no jitter, no maximum) and reset threshold, from `initial_retry_delay` =
  initialDelayMs.
- `restart` is `SSEClient.interrupt()`. `DELETE` is `SSEClient.close()`, as a user would call it;
  the error strategy answers FAIL from then on, so a client that still reconnects after close()
  stops at its next error (the harness sees that reconnection: it is the library's behaviour).
"""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-common"))

import urllib3  # noqa: E402
from ld_eventsource import SSEClient  # noqa: E402
from ld_eventsource.actions import Comment, Event, Fault, Start  # noqa: E402
from ld_eventsource.config import (ConnectStrategy,  # noqa: E402
                                   ErrorStrategy)

import service  # noqa: E402
from service import Adapter, BadRequest, Stream, log  # noqa: E402

CONNECTING = 0
CLOSED = 2


class _RecordingErrorStrategy(ErrorStrategy):
    """always_continue() until the stream is closed; remembers its last answer."""

    def __init__(self, base, closed, record):
        self._base = base
        self._closed = closed
        self._record = record

    def apply(self, exception):
        if self._closed.is_set():
            decision, nxt = ErrorStrategy.FAIL, self
        else:
            decision, base_next = self._base.apply(exception)
            nxt = self if base_next is self._base else _RecordingErrorStrategy(
                base_next, self._closed, self._record)
        self._record(decision)
        return decision, nxt


class LdStream(Stream):
    def __init__(self, opts, callbacks):
        if opts["method"] not in (None, "GET") or opts["body"] is not None:
            raise BadRequest("this client only sends GET")
        self.opts = opts
        self.callbacks = callbacks
        self.closed = threading.Event()
        self.last_decision = None
        request_options = None
        if opts["readTimeoutMs"] is not None:
            request_options = {"timeout": urllib3.Timeout(read=opts["readTimeoutMs"] / 1000.0)}
        connect = ConnectStrategy.http(url=opts["streamUrl"], headers=opts["headers"],
                                       urllib3_request_options=request_options)
        kwargs = {}
        if opts["initialDelayMs"] is not None:
            kwargs["initial_retry_delay"] = opts["initialDelayMs"] / 1000.0
        self.client = SSEClient(
            connect,
            error_strategy=_RecordingErrorStrategy(
                ErrorStrategy.always_continue(), self.closed, self._record),
            last_event_id=opts["lastEventId"],
            **kwargs)
        self.thread = threading.Thread(target=self._run, name="ld-stream", daemon=True)
        self.thread.start()

    def _record(self, decision):
        self.last_decision = decision

    def _run(self):
        emit = self.callbacks.emit
        try:
            for item in self.client.all:
                if isinstance(item, Event):
                    emit("event", event={"type": item.event, "data": item.data,
                                         "id": item.last_event_id or "",
                                         "lastEventId": item.last_event_id or ""})
                elif isinstance(item, Comment):
                    emit("comment", comment=item.comment)
                elif isinstance(item, Start):
                    emit("open")
                elif isinstance(item, Fault):
                    gives_up = self.last_decision == ErrorStrategy.FAIL
                    comment = ("end of stream" if item.error is None
                               else "%s: %s" % (type(item.error).__name__, item.error))
                    emit("error", comment=comment, readyState=CLOSED if gives_up else CONNECTING)
                if self.closed.is_set():
                    break
        except Exception as e:
            emit("error", comment="%s: %s" % (type(e).__name__, e), readyState=CLOSED)
        log("stream thread done")

    def command(self, body):
        if body.get("command") == "restart":
            self.client.interrupt()
            return True
        return False

    def close(self):
        self.closed.set()
        self.client.close()


class LdAdapter(Adapter):
    name = "python-launchdarkly-eventsource"
    distribution = "launchdarkly-eventsource"
    capabilities = [
        "comments",
        "headers",
        "last-event-id",
        "read-timeout",
        "restart",
        "ssec:open",
        "ssec:ready-state",
        "ssec:time",
        "ssec:last-event-id-attribute",
    ]

    def create(self, opts, callbacks):
        return LdStream(opts, callbacks)


if __name__ == "__main__":
    service.main(LdAdapter())
