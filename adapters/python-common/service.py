"""Shared test-service skeleton for the Python adapters.

The protocol is LaunchDarkly's sse-contract-tests service protocol plus our optional `ssec:*`
capabilities (docs/test-service.md). This module owns everything that is not about the library
under test:

- the HTTP service on 127.0.0.1 (GET / status, POST / create stream, POST /streams/N commands,
  DELETE /streams/N close, DELETE / quit); a bad request gets 4xx, never a crash;
- the callbacks: one sender thread and queue per stream, so `callbackUrl/<n>` is posted strictly
  in order with n counting from 1; every callback carries `timeMs`, stamped when the adapter
  reports the observation (ssec:time).

An adapter module defines a subclass of `Adapter` and calls `main(AdapterSubclass())`.
"""

import http.client
import http.server
import importlib.metadata
import json
import os
import queue
import sys
import threading
import time
import urllib.parse

DEBUG = bool(os.environ.get("SSEC_ADAPTER_DEBUG"))


def log(msg, *args):
    """Diagnostics to stderr, only with SSEC_ADAPTER_DEBUG set."""
    if DEBUG:
        sys.stderr.write("[adapter %.3f] %s\n" % (time.time(), msg % args if args else msg))
        sys.stderr.flush()


class BadRequest(Exception):
    """Raised by adapters for options or commands they cannot accept (answered with 400)."""


class Callbacks:
    """The callbacks of one stream: numbered from 1, posted in order by one sender thread.

    `emit` may be called from any thread; it stamps `timeMs` at the call, so adapters call it
    the moment the library hands them the observation. After `close`, further observations are
    dropped (the stream is over for the harness); those already queued are still sent.
    """

    def __init__(self, callback_url):
        parsed = urllib.parse.urlsplit(callback_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise BadRequest("callbackUrl must be an http URL")
        self._host = parsed.hostname
        self._port = parsed.port or 80
        self._path = parsed.path.rstrip("/")
        self._lock = threading.Lock()
        self._counter = 0
        self._closed = False
        self._queue = queue.SimpleQueue()
        self._conn = None
        self._thread = threading.Thread(target=self._run, name="callbacks", daemon=True)
        self._thread.start()

    def emit(self, kind, **fields):
        time_ms = time.time() * 1000.0
        with self._lock:
            if self._closed:
                log("dropped after close: %s %r", kind, fields)
                return
            self._counter += 1
            body = {"kind": kind}
            body.update(fields)
            body["timeMs"] = time_ms
            self._queue.put((self._counter, body))

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                break
            n, body = item
            self._post("%s/%d" % (self._path, n), json.dumps(body).encode("utf-8"))
        if self._conn is not None:
            self._conn.close()

    def _post(self, path, payload):
        # Keep-alive connection; one retry on a fresh connection if the old one went stale.
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=10)
                self._conn.request("POST", path, body=payload,
                                   headers={"Content-Type": "application/json"})
                resp = self._conn.getresponse()
                resp.read()
                if resp.will_close:
                    self._conn.close()
                    self._conn = None
                log("callback %s -> %d", path, resp.status)
                return
            except (OSError, http.client.HTTPException) as e:
                log("callback %s failed (attempt %d): %s", path, attempt, e)
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None


class Stream:
    """What an adapter returns for one `POST /`: a running client for one stream."""

    def command(self, body):
        """Handle a `POST /streams/N` command. Return True if done, False if unsupported."""
        return False

    def close(self):
        """Stop the client for good: no further connections. Called once."""
        raise NotImplementedError


class Adapter:
    """One library under test."""

    name = "unknown"          # library name in the status response
    distribution = None       # PyPI distribution whose installed version is reported
    capabilities = []

    def version(self):
        try:
            return importlib.metadata.version(self.distribution)
        except Exception:
            return "unknown"

    def create(self, options, callbacks):
        """Start a client for `options` (the POST / body), reporting through `callbacks`.

        Raise BadRequest for options it cannot accept. Returns a `Stream`.
        """
        raise NotImplementedError


def _str_option(options, key, required=False):
    value = options.get(key)
    if value is None:
        if required:
            raise BadRequest("missing %s" % key)
        return None
    if not isinstance(value, str):
        raise BadRequest("%s must be a string" % key)
    return value


def parse_options(options):
    """Validated common options of a POST / body (raises BadRequest)."""
    if not isinstance(options, dict):
        raise BadRequest("body must be a JSON object")
    out = {
        "streamUrl": _str_option(options, "streamUrl", required=True),
        "callbackUrl": _str_option(options, "callbackUrl", required=True),
        "tag": _str_option(options, "tag") or "",
        "lastEventId": _str_option(options, "lastEventId"),
        "method": _str_option(options, "method"),
        "body": _str_option(options, "body"),
    }
    for key in ("initialDelayMs", "readTimeoutMs"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < 0):
            raise BadRequest("%s must be a non-negative number" % key)
        out[key] = value
    headers = options.get("headers")
    if headers is not None:
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise BadRequest("headers must be an object of strings")
    out["headers"] = headers
    return out


class _Service:
    def __init__(self, adapter):
        self.adapter = adapter
        self.lock = threading.Lock()
        self.streams = {}
        self.counter = 0
        self.server = None

    def status(self):
        return {
            "name": self.adapter.name,
            "version": self.adapter.version(),
            "capabilities": list(self.adapter.capabilities),
        }

    def create(self, body):
        opts = parse_options(body)
        callbacks = Callbacks(opts["callbackUrl"])
        try:
            stream = self.adapter.create(opts, callbacks)
        except BaseException:
            callbacks.close()
            raise
        with self.lock:
            self.counter += 1
            sid = str(self.counter)
            self.streams[sid] = (stream, callbacks)
        log("stream %s created for %s (%s)", sid, opts["tag"], opts["streamUrl"])
        return "/streams/" + sid

    def command(self, sid, body):
        with self.lock:
            entry = self.streams.get(sid)
        if entry is None:
            return 404
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            raise BadRequest("command must be a string")
        log("stream %s command %r", sid, body)
        return 204 if entry[0].command(body) else 400

    def delete(self, sid):
        with self.lock:
            entry = self.streams.pop(sid, None)
        if entry is None:
            return 404
        stream, callbacks = entry
        callbacks.close()
        stream.close()
        log("stream %s closed", sid)
        return 204

    def quit(self):
        with self.lock:
            entries = list(self.streams.values())
            self.streams.clear()
        for stream, callbacks in entries:
            callbacks.close()
            try:
                stream.close()
            except Exception as e:
                log("close failed: %s", e)
        threading.Thread(target=self.server.shutdown, daemon=True).start()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service = None  # set by main

    def log_message(self, fmt, *args):
        log("http: " + fmt, *args)

    def _send(self, status, body=None, headers=None):
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _read_json(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise BadRequest("chunked request bodies are not supported")
        try:
            n = int(length or 0)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if n < 0 or n > 1 << 20:
            raise BadRequest("bad Content-Length")
        raw = self.rfile.read(n)
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("body is not JSON")

    def _route(self, method):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path == "/":
                if method == "GET":
                    return self._send(200, self.service.status())
                if method == "POST":
                    location = self.service.create(self._read_json())
                    return self._send(201, None, {"Location": location})
                if method == "DELETE":
                    self.close_connection = True
                    self._send(204)
                    self.wfile.flush()
                    return self.service.quit()
                return self._send(405)
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "streams":
                if method == "POST":
                    return self._send(self.service.command(parts[1], self._read_json()))
                if method == "DELETE":
                    return self._send(self.service.delete(parts[1]))
                return self._send(405)
            return self._send(404)
        except BadRequest as e:
            log("400: %s", e)
            self.close_connection = True
            return self._send(400, {"error": str(e)})
        except Exception as e:  # never take the service down
            log("500: %r", e)
            self.close_connection = True
            try:
                return self._send(500, {"error": repr(e)})
            except OSError:
                pass

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_DELETE(self):
        self._route("DELETE")

    def do_PUT(self):
        self._route("PUT")


def main(adapter, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].isdigit() or not 0 < int(argv[0]) < 65536:
        sys.stderr.write("usage: run PORT\n")
        sys.exit(2)
    service = _Service(adapter)
    handler = type("Handler", (_Handler,), {"service": service})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(argv[0])), handler)
    server.daemon_threads = True
    service.server = server
    log("%s %s listening on 127.0.0.1:%s", adapter.name, adapter.version(), argv[0])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    # Library threads still blocked in I/O must not keep the process alive.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
