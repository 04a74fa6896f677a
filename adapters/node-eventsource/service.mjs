// Test service for the npm `eventsource` package (a WHATWG EventSource for Node.js).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { installedVersion, runService, watchEventSource } from '../node-common/service.mjs';

const here = dirname(fileURLToPath(import.meta.url));

runService({
  name: 'node-eventsource',
  version: installedVersion(here, 'eventsource'),
  // No `last-event-id`: the library keeps its last event ID private and only sends it on
  // reconnection, so a header added through `fetch` could not be "treated as if received as an
  // id:". No comments, read timeout, restart, or initial reconnection time in its API.
  capabilities: ['headers', 'event-type-listeners', 'ssec:open', 'ssec:ready-state', 'ssec:time', 'ssec:close-in-handler'],
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
    const listen = watchEventSource(es, sink, params.closeOnMessage);
    return { listen, close: () => es.close() };
  },
});
