import { strict as assert } from "node:assert";
import { Hono } from "hono";
import { connectionHeaders } from "./connection_headers.ts";
import type { AppEnv, ConnectionEnv } from "../connection_env.ts";
import { ConnectionTracker } from "../tracker/tracker.ts";
import { Metrics } from "../metrics/metrics.ts";

function rig() {
  const tracker = new ConnectionTracker();
  const metrics = new Metrics(tracker);
  const conn = tracker.open("h3", "198.18.0.2:4000", "198.18.0.1:9443", "localhost");
  let addr = "198.18.0.2:4000";
  const env: ConnectionEnv = { connection: conn, remoteAddr: () => addr };
  const app = new Hono<AppEnv>()
    .use(connectionHeaders({ tracker, metrics }))
    .get("/ok", (c) => c.json({ ok: true }))
    .get("/fetched", () => Response.redirect("https://example.invalid/", 302))
    .get("/missing", (c) => c.json({ error: "not_found" }, 404));
  const get = (path: string) => app.request(path, {}, env);
  return { tracker, metrics, conn, get, moveTo: (next: string) => (addr = next) };
}

Deno.test("connection headers: every response names its connection, address and counts", async () => {
  const { conn, get } = rig();
  const first = await get("/ok");
  assert.equal(first.headers.get("x-connection-id"), conn.id);
  assert.equal(first.headers.get("x-remote-addr"), "198.18.0.2:4000");
  assert.equal(first.headers.get("x-protocol"), "h3");
  assert.equal(first.headers.get("x-request-count"), "1");
  assert.equal(first.headers.get("x-migration-count"), "0");
  assert.deepEqual(await first.json(), { ok: true }, "the body is untouched");
  const second = await get("/missing");
  assert.equal(second.status, 404);
  assert.equal(second.headers.get("x-request-count"), "2", "error answers are counted too");
});

Deno.test("connection headers: a request from a new address is a migration, shown at once", async () => {
  const { conn, get, moveTo, tracker } = rig();
  await get("/ok");
  moveTo("198.18.0.2:4001");
  const moved = await get("/ok");
  assert.equal(moved.headers.get("x-remote-addr"), "198.18.0.2:4001");
  assert.equal(moved.headers.get("x-migration-count"), "1");
  assert.equal(conn.events.at(-1)?.kind, "port_change");
  assert.equal(conn.events.at(-1)?.detected_by, "request");
  assert.equal(tracker.summary().total_migrations, 1);
});

Deno.test("connection headers: immutable response headers fall back to a copy", async () => {
  const { conn, get } = rig();
  const redirect = await get("/fetched");
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get("x-connection-id"), conn.id);
});

Deno.test("connection headers: answered requests are counted by protocol and status", async () => {
  const { metrics, get } = rig();
  await get("/ok");
  await get("/missing");
  const text = metrics.render();
  assert.match(text, /http_requests_total\{protocol="h3",status="200"\} 1/);
  assert.match(text, /http_requests_total\{protocol="h3",status="404"\} 1/);
});
