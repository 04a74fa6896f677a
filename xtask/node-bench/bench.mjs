// Runs the npm eventsource-parser package over a stream file, fed in 64 KiB chunks, and prints
// one JSON object with the median time. Usage: node bench.mjs FILE ITERATIONS
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createParser } from "eventsource-parser";

const [file, iterationsArg] = process.argv.slice(2);
const iterations = Number(iterationsArg ?? 10);
const CHUNK = 64 * 1024;
const bytes = readFileSync(file);
const chunks = [];
for (let i = 0; i < bytes.length; i += CHUNK) chunks.push(bytes.subarray(i, i + CHUNK));

// Bytes in, as a client gets them from the network: decoding is part of the work.
function fromBytes() {
  let events = 0;
  let dataLength = 0;
  const parser = createParser({ onEvent: (e) => { events++; dataLength += e.data.length; } });
  const decoder = new TextDecoder("utf-8");
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  parser.feed(decoder.decode());
  return { events, dataLength };
}

// Strings in: the parser alone, for reference.
const strings = (() => {
  const decoder = new TextDecoder("utf-8");
  return chunks.map((c) => decoder.decode(c, { stream: true }));
})();
function fromStrings() {
  let events = 0;
  const parser = createParser({ onEvent: () => { events++; } });
  for (const s of strings) parser.feed(s);
  return { events };
}

function median(fn) {
  for (let i = 0; i < 2; i++) fn();
  const times = [];
  let result;
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    result = fn();
    times.push(Number(process.hrtime.bigint() - t0));
  }
  times.sort((a, b) => a - b);
  return { ns: times[Math.floor(times.length / 2)], events: result.events };
}

const require = createRequire(import.meta.url);
const version = require("eventsource-parser/package.json").version;
const withDecode = median(fromBytes);
const parseOnly = median(fromStrings);
console.log(JSON.stringify({
  file, bytes: bytes.length, version, node: process.version,
  events: withDecode.events, median_ns: withDecode.ns, strings_median_ns: parseOnly.ns,
}));
