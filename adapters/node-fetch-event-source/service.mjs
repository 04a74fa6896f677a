// Test service for npm `@microsoft/fetch-event-source`, a browser library run here in Node.js.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedVersion, runService } from '../node-common/service.mjs';

// The library reaches for `window.fetch`, `window.setTimeout`/`clearTimeout` and
// `document.addEventListener`/`removeEventListener` (the latter even with `openWhenHidden`).
// Node has none of them: give it the minimum, backed by Node's own.
globalThis.window ??= {
  fetch: (...args) => globalThis.fetch(...args),
  setTimeout: (...args) => globalThis.setTimeout(...args),
  clearTimeout: (...args) => globalThis.clearTimeout(...args),
};
globalThis.document ??= { hidden: false, addEventListener() {}, removeEventListener() {} };

const { fetchEventSource, EventStreamContentType } = await import('@microsoft/fetch-event-source');

const here = dirname(fileURLToPath(import.meta.url));

runService({
  name: 'node-fetch-event-source',
  version: installedVersion(here, '@microsoft/fetch-event-source'),
  // `last-event-id`: an initial `last-event-id` header lives in the same header map the library
  // updates from `id:` fields, so it is sent on the first request and on reconnections until an
  // `id:` replaces (or an empty `id:` removes) it. No comments, read timeout or restart; every
  // message reaches `onmessage`, so no type listeners either.
  capabilities: ['headers', 'post', 'report', 'last-event-id', 'ssec:open', 'ssec:ready-state', 'ssec:time'],
  createClient(params, sink) {
    const controller = new AbortController();
    const headers = {};
    for (const [name, value] of Object.entries(params.headers ?? {})) headers[name.toLowerCase()] = value;
    // The library's own key for it, lowercase, so that its updates replace this one.
    if (params.lastEventId) headers['last-event-id'] = params.lastEventId;
    const init = {
      signal: controller.signal,
      headers,
      openWhenHidden: true,
      // The library's default `onopen` check, unchanged, then the `open` report.
      async onopen(response) {
        const contentType = response.headers.get('content-type');
        if (!contentType?.startsWith(EventStreamContentType)) {
          throw new Error(`Expected content-type to be ${EventStreamContentType}, Actual: ${contentType}`);
        }
        sink.open();
      },
      onmessage(msg) {
        sink.event({ type: msg.event, data: msg.data, id: msg.id });
      },
      // The library's default on the end of the body: the promise resolves, no reconnection.
      onclose() {
        if (!controller.signal.aborted) {
          sink.error('stream ended (onclose): the library does not reconnect', 2);
        }
      },
      // Returning nothing keeps the library's default: retry after the current retry interval.
      onerror(err) {
        sink.error(err?.message ?? String(err), 0);
      },
    };
    if (params.method) init.method = params.method;
    if (params.body !== undefined) init.body = params.body;
    fetchEventSource(params.streamUrl, init).catch((err) => {
      // Only a throwing `onerror` rejects; this adapter's never does.
      sink.error(err?.message ?? String(err), 2);
    });
    return { close: () => controller.abort() };
  },
});
