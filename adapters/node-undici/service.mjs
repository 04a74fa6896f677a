// Test service for the `EventSource` class of the npm `undici` package.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, EventSource } from 'undici';
import { installedVersion, runService } from '../node-common/service.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** A dispatcher of `agent` that adds `extra` to every request (replacing same-named headers). */
function withHeaders(agent, extra) {
  const names = new Set(Object.keys(extra).map((n) => n.toLowerCase()));
  return agent.compose((dispatch) => (opts, handler) => {
    let headers = opts.headers ?? {};
    if (Array.isArray(headers)) {
      const flat = [];
      for (let i = 0; i < headers.length; i += 2) {
        if (!names.has(String(headers[i]).toLowerCase())) flat.push(headers[i], headers[i + 1]);
      }
      for (const [name, value] of Object.entries(extra)) flat.push(name, value);
      headers = flat;
    } else {
      const merged = {};
      for (const [name, value] of Object.entries(headers)) {
        if (!names.has(name.toLowerCase())) merged[name] = value;
      }
      headers = Object.assign(merged, extra);
    }
    return dispatch({ ...opts, headers }, handler);
  });
}

runService({
  name: 'node-undici',
  version: installedVersion(here, 'undici'),
  // Headers go through a composed dispatcher (the way undici's maintainers point to; the
  // EventSource itself takes no headers). No `last-event-id`: the last event ID is private and
  // only set on reconnection. No comments, read timeout or restart in its API.
  capabilities: ['headers', 'event-type-listeners', 'ssec:open', 'ssec:ready-state', 'ssec:time'],
  createClient(params, sink) {
    const extra = params.headers ?? {};
    const agent = Object.keys(extra).length > 0 ? new Agent() : undefined;
    const dispatcher = agent && withHeaders(agent, extra);
    const node = {};
    // undici lets its user set the initial reconnection time (`node.reconnectionTime`).
    if (params.initialDelayMs !== undefined) node.reconnectionTime = Math.round(params.initialDelayMs);
    if (dispatcher) node.dispatcher = dispatcher;
    const es = new EventSource(params.streamUrl, { node });
    const listening = new Set();
    // A listener for a type such as `error` also sees the library's own events of that name:
    // messages carry `data`, the library's events do not.
    const onMessage = (e) => {
      if ('data' in e) sink.event({ type: e.type, data: e.data, id: e.lastEventId });
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
      if (!('data' in e)) sink.error('error', es.readyState);
    });
    listen('message');
    return {
      listen,
      close() {
        es.close();
        agent?.destroy().catch(() => {});
      },
    };
  },
});
