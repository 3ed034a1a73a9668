/**
 * In-process cost of what the app adds to each HTTP/1.1 request on the TCP path, piece by
 * piece: the whole app on a lazy bodiless request, Hono alone with the same route, each of our
 * middleware, the tracker and metrics calls, and the answer head encoding.
 * Run: `deno bench --allow-all bench/micro/tcp_app_bench.ts`.
 */

import { Hono } from "hono";
import { createApp } from "../../lib/app.ts";
import { BodilessRequest } from "../../lib/h3/bodiless_request.ts";
import type { ConnectionEnv } from "../../lib/connection_env.ts";
import { LightResponse } from "../../lib/light_response.ts";
import { Metrics } from "../../lib/metrics/metrics.ts";
import { connectionHeaders } from "../../lib/middleware/connection_headers.ts";
import { securityHeaders } from "../../lib/middleware/security_headers.ts";
import { answerBytes, responseHead } from "../../lib/server/h1_answer.ts";
import { AnswerEncoder } from "../../lib/server/h1_answer_encoder.ts";
import { ConnectionTracker } from "../../lib/tracker/tracker.ts";
import { health } from "../../routes/health.ts";

const tracker = new ConnectionTracker();
const metrics = new Metrics(tracker);
const record = tracker.open("http/1.1", "127.0.0.1:50000", "127.0.0.1:9443", "localhost");
const env: ConnectionEnv = { connection: record, remoteAddr: () => "127.0.0.1:50000" };
const app = await createApp({ tracker, metrics });
const url = "https://127.0.0.1:9443/healthz";
const fields: [string, string][] = [["host", "127.0.0.1:9443"], [
  "user-agent",
  "h2load nghttp2/1.52.0",
]];
const request = () => new BodilessRequest("GET", url, fields) as unknown as Request;
const routeOnly = new Hono<{ Bindings: ConnectionEnv }>().route("/", health);
const withConnection = new Hono<{ Bindings: ConnectionEnv }>();
withConnection.use(connectionHeaders({ tracker, metrics }));
withConnection.route("/", health);
const withBoth = new Hono<{ Bindings: ConnectionEnv }>();
withBoth.use(connectionHeaders({ tracker, metrics }));
withBoth.use(securityHeaders());
withBoth.route("/", health);
const framing = { altSvc: 'h3=":9443"; ma=86400', close: false, chunked: false };
const answer = (await app.fetch(request(), env)) as unknown as LightResponse;

Deno.bench("whole app, GET /healthz", { group: "app", baseline: true }, async () => {
  await app.fetch(request(), env);
});
Deno.bench("Hono + health route only", { group: "app" }, async () => {
  await routeOnly.fetch(request(), env);
});
Deno.bench("Hono + connection headers + route", { group: "app" }, async () => {
  await withConnection.fetch(request(), env);
});
Deno.bench("Hono + both middleware + route", { group: "app" }, async () => {
  await withBoth.fetch(request(), env);
});
Deno.bench("LightResponse.json", { group: "parts" }, () => {
  LightResponse.json({ status: "ok" });
});
Deno.bench("tracker.request", { group: "parts" }, () => {
  tracker.request(record, "127.0.0.1:50000");
});
Deno.bench("metrics.countRequest", { group: "parts" }, () => {
  metrics.countRequest("http/1.1", 200);
});
Deno.bench("answer head + bytes", { group: "parts" }, () => {
  answerBytes(responseHead(answer.status, answer.fields!.slice(2), framing), answer.bodyBytes);
});

const encoderForBench = new AnswerEncoder(framing.altSvc);
let count = 0;
Deno.bench("AnswerEncoder, repeated answer", { group: "parts" }, () => {
  const fields = answer.fields!.slice();
  fields[fields.indexOf("x-request-count") + 1] = String(++count);
  encoderForBench.encode(200, fields, 2, false, answer.bodyText, answer.bodyLength);
});
