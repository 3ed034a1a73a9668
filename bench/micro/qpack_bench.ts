/**
 * QPACK hot-path benchmarks: encoding a typical response field section and decoding a typical
 * request one. Run with `deno bench bench/micro/qpack_bench.ts`.
 * @module
 */

import {
  decodeFieldSection,
  encodedFieldSectionLength,
  encodeFieldSection,
  encodeFieldSectionInto,
} from "../../lib/h3/qpack/mod.ts";

// deno-fmt-ignore
const RESPONSE = [
  ":status", "200",
  "content-type", "application/json",
  "content-length", "42",
  "x-connection-id", "0123456789abcdef",
  "x-remote-addr", "127.0.0.1:54321",
];

// deno-fmt-ignore
const REQUEST = [
  ":method", "GET",
  ":scheme", "https",
  ":authority", "localhost:9443",
  ":path", "/api/test",
  "user-agent", "curl/8",
  "accept", "*/*",
];

const REQUEST_BLOCK = encodeFieldSection(REQUEST);
const OUT = new Uint8Array(4096);
let sink = 0;

Deno.bench("qpack encode typical response (5 fields)", { group: "qpack" }, () => {
  sink ^= encodeFieldSection(RESPONSE).length;
});

// Without the per-call Uint8Array allocation (a visible share of the call), as when
// the caller writes the section straight into a HEADERS frame buffer it sized itself.
Deno.bench("qpack encodeFieldSectionInto typical response", { group: "qpack" }, () => {
  sink ^= encodeFieldSectionInto(RESPONSE, OUT, 0);
});

Deno.bench("qpack encodedFieldSectionLength typical response", { group: "qpack" }, () => {
  sink ^= encodedFieldSectionLength(RESPONSE);
});

Deno.bench("qpack decode typical request (6 fields)", { group: "qpack" }, () => {
  sink ^= decodeFieldSection(REQUEST_BLOCK, 16384).length;
});
