// Shared HTTP skeleton of the Node.js test services (LaunchDarkly's sse-contract-tests service
// protocol plus the optional `ssec:*` capabilities of docs/test-service.md).
//
// An adapter calls `runService({ name, version, capabilities, createClient })`, where
// `createClient(params, sink)` starts one client for a `POST /` and returns an object with
// `close()` and, when the matching capability is declared, `listen(type)` / `restart()`.
// `sink` is how the adapter reports what the library's user sees; each call is stamped with the
// time it is made and posted to `callbackUrl/<n>`, strictly one after the other.
//
// Only Node's built-in modules are used. The service binds 127.0.0.1 only.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const MAX_BODY = 1 << 20;
const CALLBACK_TIMEOUT_MS = 10_000;

/** Milliseconds since the Unix epoch, with sub-millisecond precision. */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

/** The `version` field of `<adapterDir>/node_modules/<pkg>/package.json`. */
export function installedVersion(adapterDir, pkg) {
  const file = join(adapterDir, 'node_modules', ...pkg.split('/'), 'package.json');
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

// A harness that stops reading our stderr must not turn every log line into another error.
process.stderr.on('error', () => {});

function log(...args) {
  try {
    console.error(`[${new Date().toISOString()}]`, ...args);
  } catch {
    // nowhere left to report it
  }
}

/** A request the service refuses with 400 and this message. */
class BadRequest extends Error {}

const callbackAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function postJson(url, body) {
  return new Promise((resolve) => {
    const payload = Buffer.from(JSON.stringify(body));
    let done = false;
    const finish = (problem) => {
      if (done) return;
      done = true;
      if (problem) log(`callback ${url}: ${problem}`);
      resolve();
    };
    let req;
    try {
      req = http.request(url, {
        method: 'POST',
        agent: callbackAgent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        timeout: CALLBACK_TIMEOUT_MS,
      });
    } catch (err) {
      finish(err.message);
      return;
    }
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode >= 300 ? `status ${res.statusCode}` : null));
      res.on('error', (err) => finish(err.message));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => finish(err.message));
    req.end(payload);
  });
}

/**
 * The callbacks of one stream: numbered from 1, each posted only after the previous one has
 * completed (answered, failed or timed out).
 */
class Callbacks {
  constructor(baseUrl, { readyState }) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.readyState = readyState;
    this.counter = 0;
    this.chain = Promise.resolve();
  }

  send(message) {
    message.timeMs = nowMs();
    const url = `${this.baseUrl}/${++this.counter}`;
    this.chain = this.chain.then(() => postJson(url, message));
  }

  /** What the adapter reports through. */
  sink() {
    return {
      open: () => this.send({ kind: 'open' }),
      event: ({ type, data, id }) => {
        const event = { data: String(data ?? '') };
        if (type) event.type = String(type);
        if (id) event.id = String(id);
        this.send({ kind: 'event', event });
      },
      comment: (text) => this.send({ kind: 'comment', comment: String(text) }),
      error: (comment, readyState) => {
        const message = { kind: 'error', comment: String(comment ?? 'error') };
        if (this.readyState && readyState !== undefined) message.readyState = readyState;
        this.send(message);
      },
    };
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new BadRequest('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJsonObject(req) {
  const text = await readBody(req);
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`body is not JSON: ${err.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequest('body must be a JSON object');
  }
  return value;
}

function string(value, field) {
  if (typeof value !== 'string') throw new BadRequest(`${field} must be a string`);
  return value;
}

function httpUrl(value, field) {
  if (typeof value !== 'string') throw new BadRequest(`${field} must be a string`);
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new BadRequest(`${field} is not a valid URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadRequest(`${field} must be an http(s) URL: ${value}`);
  }
  return value;
}

function optional(body, field, check) {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!check(value)) throw new BadRequest(`invalid ${field}: ${JSON.stringify(value)}`);
  return value;
}

const isString = (v) => typeof v === 'string';
const isDelay = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isHeaders = (v) =>
  typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(isString);

/** The `POST /` body, validated; fields the service did not declare are dropped. */
function streamParams(body, caps) {
  const params = {
    // Any string: what the library makes of the URL (a scheme it cannot fetch) is under test.
    streamUrl: string(body.streamUrl, 'streamUrl'),
    callbackUrl: httpUrl(body.callbackUrl, 'callbackUrl'),
    tag: optional(body, 'tag', isString),
    initialDelayMs: optional(body, 'initialDelayMs', isDelay),
  };
  if (caps.has('last-event-id')) params.lastEventId = optional(body, 'lastEventId', isString);
  if (caps.has('read-timeout')) params.readTimeoutMs = optional(body, 'readTimeoutMs', isDelay);
  if (caps.has('ssec:close-in-handler')) {
    params.closeOnMessage = optional(body, 'closeOnMessage', (n) => Number.isInteger(n) && n >= 1);
  }
  if (caps.has('headers')) params.headers = optional(body, 'headers', isHeaders);
  if (caps.has('post') || caps.has('report')) {
    params.method = optional(body, 'method', isString);
    params.body = optional(body, 'body', isString);
    if (params.method !== undefined) {
      const method = params.method.toUpperCase();
      const allowed = ['GET', ...['post', 'report'].filter((c) => caps.has(c)).map((c) => c.toUpperCase())];
      if (!allowed.includes(method)) throw new BadRequest(`unsupported method ${params.method}`);
      params.method = method;
    }
  }
  return params;
}

function send(res, status, body, headers = {}) {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const isJson = typeof body !== 'string';
  const payload = Buffer.from(isJson ? JSON.stringify(body) : `${body}\n`);
  res.writeHead(status, {
    ...headers,
    'content-type': isJson ? 'application/json' : 'text/plain; charset=utf-8',
    'content-length': payload.length,
  });
  res.end(payload);
}

/**
 * Starts the service on 127.0.0.1:<port>, the port being the first command-line argument.
 * It exits on `DELETE /` or SIGINT/SIGTERM.
 */
export function runService({ name, version, capabilities, createClient, port = process.argv[2] }) {
  const portNumber = Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    console.error(`usage: run PORT (got ${JSON.stringify(port)})`);
    process.exit(2);
  }
  const caps = new Set(capabilities);
  const status = { name, version, capabilities: [...capabilities] };
  const streams = new Map();
  let nextId = 1;

  // A library that throws from a timer or an event handler must not take the service down.
  process.on('uncaughtException', (err) => log('uncaught exception:', err));
  process.on('unhandledRejection', (err) => log('unhandled rejection:', err));

  function closeStream(id) {
    const stream = streams.get(id);
    if (!stream) return false;
    streams.delete(id);
    try {
      stream.client.close();
    } catch (err) {
      log(`stream ${id} (${stream.tag ?? ''}): close failed:`, err);
    }
    return true;
  }

  async function createStream(req, res) {
    const params = streamParams(await readJsonObject(req), caps);
    const callbacks = new Callbacks(params.callbackUrl, { readyState: caps.has('ssec:ready-state') });
    const id = nextId++;
    let client;
    try {
      client = createClient(params, callbacks.sink());
    } catch (err) {
      throw new BadRequest(`cannot create client: ${err.message}`);
    }
    streams.set(id, { client, tag: params.tag });
    send(res, 201, undefined, { location: `/streams/${id}` });
  }

  async function command(id, req, res) {
    const stream = streams.get(id);
    const body = await readJsonObject(req);
    if (!stream) return send(res, 404, `no stream ${id}`);
    switch (body.command) {
      case 'listen': {
        if (!caps.has('event-type-listeners')) break;
        const type = body.listen?.type;
        if (typeof type !== 'string' || type === '') throw new BadRequest('listen needs listen.type');
        stream.client.listen(type);
        return send(res, 204);
      }
      case 'restart':
        if (!caps.has('restart')) break;
        stream.client.restart();
        return send(res, 204);
      default:
        break;
    }
    throw new BadRequest(`unsupported command ${JSON.stringify(body.command)}`);
  }

  function quit(res) {
    send(res, 204);
    for (const id of [...streams.keys()]) closeStream(id);
    server.close();
    server.closeAllConnections?.();
    // Give pending callbacks a moment, then leave whatever is left.
    setTimeout(() => process.exit(0), 100).unref();
  }

  async function handle(req, res) {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/') {
      switch (req.method) {
        case 'GET':
        case 'HEAD':
          return send(res, 200, status);
        case 'POST':
          return createStream(req, res);
        case 'DELETE':
          return quit(res);
        default:
          return send(res, 405, `method ${req.method} not allowed on /`, { allow: 'GET, POST, DELETE' });
      }
    }
    const match = /^\/streams\/(\d+)$/.exec(path);
    if (!match) return send(res, 404, `no resource ${path}`);
    const id = Number(match[1]);
    switch (req.method) {
      case 'POST':
        return command(id, req, res);
      case 'DELETE':
        return closeStream(id) ? send(res, 204) : send(res, 404, `no stream ${id}`);
      default:
        return send(res, 405, `method ${req.method} not allowed on ${path}`, { allow: 'POST, DELETE' });
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof BadRequest) {
        send(res, 400, err.message);
      } else {
        log(`${req.method} ${req.url}:`, err);
        send(res, 500, `internal error: ${err.message}`);
      }
    });
  });
  server.keepAliveTimeout = 30_000;

  const stop = () => {
    for (const id of [...streams.keys()]) closeStream(id);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  server.on('error', (err) => {
    console.error(`cannot listen on 127.0.0.1:${portNumber}: ${err.message}`);
    process.exit(1);
  });
  server.listen(portNumber, '127.0.0.1', () => {
    log(`${name} ${version} test service on http://127.0.0.1:${server.address().port}`);
  });
  return server;
}

// Reports what a WHATWG-shaped EventSource (`open`, `message` and typed events, `error` with
// readyState) shows its user; returns `listen(type)` for the `listen` command. With
// `closeOnMessage` (ssec:close-in-handler), calls `close()` inside that message's handler.
export function watchEventSource(es, sink, closeOnMessage) {
  const listening = new Set();
  let messages = 0;
  // A listener for a type such as `error` also sees the library's own events of that name:
  // messages carry `data`, the library's events do not.
  const onMessage = (e) => {
    if (!('data' in e)) return;
    sink.event({ type: e.type, data: e.data, id: e.lastEventId });
    if (++messages === closeOnMessage) es.close();
  };
  const listen = (type) => {
    if (listening.has(type)) return;
    listening.add(type);
    es.addEventListener(type, onMessage);
  };
  es.addEventListener('open', () => sink.open());
  // readyState is read inside the handler: CONNECTING (0) when the library will reconnect,
  // CLOSED (2) when it has failed the connection.
  es.addEventListener('error', (e) => {
    if (!('data' in e)) sink.error(e.message || 'error', es.readyState);
  });
  listen('message');
  return listen;
}
