// Test service for the npm `eventsource` package (a WHATWG EventSource for Node.js).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { installedVersion, runService } from '../node-common/service.mjs';

const here = dirname(fileURLToPath(import.meta.url));

runService({
  name: 'node-eventsource',
  version: installedVersion(here, 'eventsource'),
  // No `last-event-id`: the library keeps its last event ID private and only sends it on
  // reconnection, so a header added through `fetch` could not be "treated as if received as an
  // id:". No comments, read timeout, restart, or initial reconnection time in its API.
  capabilities: ['headers', 'event-type-listeners', 'ssec:open', 'ssec:ready-state', 'ssec:time'],
  createClient(params, sink) {
    const extra = params.headers ?? {};
    const options = {};
    if (Object.keys(extra).length > 0) {
      // The library's documented way to add request headers: wrap `fetch`.
      options.fetch = (input, init) => {
        const headers = new Headers(init?.headers);
        for (const [name, value] of Object.entries(extra)) headers.set(name, value);
        return fetch(input, { ...init, headers });
      };
    }
    const es = new EventSource(params.streamUrl, options);
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
      if (!('data' in e)) sink.error(e.message || 'error', es.readyState);
    });
    listen('message');
    return { listen, close: () => es.close() };
  },
});
