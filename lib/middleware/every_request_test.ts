/**
 * `everyRequest` gives each answer what the connection-headers and security-headers middleware
 * gave it (the same fields in the same order for a light answer, the same headers otherwise),
 * for routes, errors, unknown paths and immutable responses, and tells the tracker before the
 * handler runs.
 */

import { strict as assert } from "node:assert";
import { Hono } from "hono";
import type { AppEnv, ConnectionEnv } from "../connection_env.ts";
import { API_CONTENT_SECURITY_POLICY, errorAnswer, jsonError } from "../http_error.ts";
import { jsonResponse } from "../json_response.ts";
import { LightResponse } from "../light_response.ts";
import { Metrics } from "../metrics/metrics.ts";
import { ConnectionTracker } from "../tracker/tracker.ts";
import { connectionHeaders } from "./connection_headers.ts";
import { everyRequest } from "./every_request.ts";
import { securityHeaders } from "./security_headers.ts";

/** The routes, with or without the two middleware in front. */
function routes(withMiddleware: boolean, tracker: ConnectionTracker, metrics: Metrics) {
  const app = new Hono<AppEnv>();
  if (withMiddleware) {
    app.use(connectionHeaders({ tracker, metrics }));
    app.use(securityHeaders());
  }
  return app
    .get("/light", () => jsonResponse({ ok: true }))
    .get("/count", (c) => jsonResponse({ seen: c.env.connection.requestCount }))
    .get("/page", (c) => c.html("<p>hi</p>", 200, { "content-security-policy": "sandbox" }))
    .get("/fetched", () => Response.redirect("https://example.invalid/", 302))
    .get("/throws", () => {
      throw new Error("boom");
    })
    .notFound(() => jsonError(404, "not_found", "no route"))
    .onError((error) => errorAnswer(error));
}

function rig(withMiddleware: boolean) {
  const tracker = new ConnectionTracker();
  const metrics = new Metrics(tracker);
  const conn = tracker.open("http/1.1", "198.18.0.2:4000", "198.18.0.1:9443", "localhost");
  const env: ConnectionEnv = { connection: conn, remoteAddr: () => "198.18.0.2:4000" };
  const app = routes(withMiddleware, tracker, metrics);
  const fetch = withMiddleware
    ? (request: Request) => app.fetch(request, env)
    : everyRequest((request, e) => app.fetch(request, e), { tracker, metrics });
  const get = (path: string) =>
    Promise.resolve(fetch(new Request(`https://localhost${path}`), env)) as Promise<
      Response | LightResponse
    >;
  return { conn, metrics, get };
}

const PATHS = ["/light", "/count", "/page", "/fetched", "/throws", "/missing"];

Deno.test("every request: the same answers as the two middleware gave", async () => {
  const before = rig(true);
  const after = rig(false);
  for (const path of PATHS) {
    const old = await before.get(path);
    const now = await after.get(path);
    assert.equal(now.status, old.status, path);
    // The two trackers name their connections differently: the ids are compared as "ID".
    const id = (text: string) => text === before.conn.id || text === after.conn.id ? "ID" : text;
    if (old instanceof LightResponse) {
      assert.ok(now instanceof LightResponse, `${path}: still light`);
      assert.deepEqual(now.fields?.map(id), old.fields?.map(id), `${path}: fields and order`);
    }
    assert.deepEqual([...now.headers].flat().map(id), [...old.headers].flat().map(id), path);
    assert.equal(await now.text(), await old.text(), path);
  }
  assert.equal(after.conn.requestCount, PATHS.length);
  const requests = (m: Metrics) => m.render().split("\n").filter((l) => l.startsWith("http_"));
  assert.equal(requests(after.metrics).length, 4, "200, 302, 404 and 500 counted");
  assert.deepEqual(requests(after.metrics), requests(before.metrics));
});

Deno.test("every request: the tracker counts the request before the handler runs", async () => {
  const { get } = rig(false);
  await get("/light");
  const res = await get("/count");
  assert.deepEqual(await res.json(), { seen: 2 });
  assert.equal(res.headers.get("x-request-count"), "2");
});

Deno.test("every request: errors, unknown paths and immutable answers get the headers", async () => {
  const { conn, get } = rig(false);
  for (const path of ["/throws", "/missing", "/fetched"]) {
    const res = await get(path);
    assert.equal(res.headers.get("x-connection-id"), conn.id, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(res.headers.get("content-security-policy"), API_CONTENT_SECURITY_POLICY, path);
    await res.body?.cancel();
  }
  const page = await get("/page");
  assert.equal(page.headers.get("content-security-policy"), "sandbox", "a page keeps its own");
  await page.body?.cancel();
});
