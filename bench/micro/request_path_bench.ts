/**
 * In-process cost of what the server adds to each HTTP/3 request, piece by piece: QPACK decode
 * and pseudo-header validation, the Web `Request`, the Hono app with and without our
 * middleware, and encoding the response's HEADERS + DATA. `deno task bench` runs these first
 * and its results file keeps their output.
 */

import { createApp } from "../../lib/app.ts";
import { encodeHeadersFrame } from "../../lib/h3/body.ts";
import { parseRequestHead, responseFields } from "../../lib/h3/message.ts";
import { decodeFieldSection, encodeFieldSection } from "../../lib/h3/qpack/mod.ts";
import type { ConnectionEnv } from "../../lib/connection_env.ts";
import { ConnectionTracker } from "../../lib/tracker/tracker.ts";
import { Metrics } from "../../lib/metrics/metrics.ts";
import { Hono } from "hono";

const block = encodeFieldSection([
  ":method",
  "GET",
  ":scheme",
  "https",
  ":authority",
  "localhost:9443",
  ":path",
  "/api/test",
  "user-agent",
  "ngtcp2/0.12",
  "accept",
  "*/*",
]);
const tracker = new ConnectionTracker();
const record = tracker.open("h3", "127.0.0.1:50000", "127.0.0.1:9443", "localhost");
const env: ConnectionEnv = { connection: record, remoteAddr: () => "127.0.0.1:50000" };
const app = await createApp({ tracker, metrics: new Metrics(tracker) });
const bare = new Hono().get("/api/test", (c) => c.json({ ok: true }));
const head = parseRequestHead(decodeFieldSection(block, 16384));
const request = new Request(head.url, { method: head.method, headers: head.headers });
const body = new TextEncoder().encode('{"protocol":"h3","connection_id":"0123456789abcdef"}');

Deno.bench("decode request head (QPACK + validation)", { group: "parts" }, () => {
  parseRequestHead(decodeFieldSection(block, 16384));
});
Deno.bench("new Request from head", { group: "parts" }, () => {
  new Request(head.url, { method: head.method, headers: head.headers });
});
Deno.bench("Hono fetch, bare JSON route", { group: "app" }, async () => {
  await bare.fetch(request);
});
Deno.bench("Hono fetch, our app /api/test (middleware + route)", { group: "app" }, async () => {
  await app.fetch(request, env);
});
Deno.bench("encode response HEADERS + DATA", { group: "parts" }, () => {
  const response = new Response(body, {
    headers: { "content-type": "application/json", "x-connection-id": "0123456789abcdef" },
  });
  encodeHeadersFrame(responseFields(response.status, response.headers), body);
});
Deno.bench("whole request path without I/O", { group: "total", baseline: true }, async () => {
  const h = parseRequestHead(decodeFieldSection(block, 16384));
  const req = new Request(h.url, { method: h.method, headers: h.headers });
  const res = await app.fetch(req, env);
  const data = new Uint8Array(await res.arrayBuffer());
  encodeHeadersFrame(responseFields(res.status, res.headers), data);
});
