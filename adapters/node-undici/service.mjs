// Test service for the `EventSource` class of the npm `undici` package.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, EventSource } from 'undici';
import { installedVersion, runService, watchEventSource } from '../node-common/service.mjs';

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
  capabilities: ['headers', 'event-type-listeners', 'ssec:open', 'ssec:ready-state', 'ssec:time', 'ssec:close-in-handler'],
  createClient(params, sink) {
    const extra = params.headers ?? {};
    const agent = Object.keys(extra).length > 0 ? new Agent() : undefined;
    const dispatcher = agent && withHeaders(agent, extra);
    const node = {};
    // undici lets its user set the initial reconnection time (`node.reconnectionTime`).
    if (params.initialDelayMs !== undefined) node.reconnectionTime = Math.round(params.initialDelayMs);
    if (dispatcher) node.dispatcher = dispatcher;
    const es = new EventSource(params.streamUrl, { node });
    const listen = watchEventSource(es, sink, params.closeOnMessage);
    return {
      listen,
      close() {
        es.close();
        agent?.destroy().catch(() => {});
      },
    };
  },
});
