/**
 * The API over real HTTP/3: connection listing and paging, one connection, the event stream
 * with resume, Prometheus metrics, and the connection headers on every response.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";
import { sseReader } from "./support/sse.ts";

Deno.test("API: every response carries the X-Connection-* headers, errors too", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    for (const path of ["/api/test", "/api/nope", "/healthz"]) {
      const res = await client.fetch(path);
      await res.body?.cancel();
      assert.match(res.headers.get("x-connection-id") ?? "", /^[0-9a-f]{16}$/, path);
      assert.equal(res.headers.get("x-protocol"), "h3");
      assert.match(res.headers.get("x-remote-addr") ?? "", /^127\.0\.0\.1:\d+$/);
      assert.match(res.headers.get("x-request-count") ?? "", /^\d+$/);
      assert.equal(res.headers.get("x-migration-count"), "0");
    }
    const missing = await client.fetch("/api/nope");
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(await missing.json()).sort(), ["detail", "error"]);
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("API: /api/connections lists, filters, and pages every connection exactly once", async () => {
  const server = await startTestServer();
  const clients = await Promise.all(Array.from({ length: 12 }, () => server.client()));
  try {
    for (const c of clients) await (await c.fetch("/api/test")).body?.cancel();
    const observer = clients[0];
    const all = await (await observer.fetch("/api/connections?state=open")).json();
    assert.equal(Object.keys(all.connections).length, 12);
    assert.equal(all.summary.open, 12);
    assert.match(all.note, /never derived from an address/);
    const one = Object.values(all.connections)[0] as Record<string, unknown>;
    for (
      const key of [
        "connection_id",
        "protocol",
        "state",
        "remote_addr",
        "local_addr",
        "start_time",
        "last_seen",
        "request_count",
        "bytes_in",
        "bytes_out",
        "migration_count",
        "migration_events",
        "close_reason",
      ]
    ) {
      assert.ok(key in one, `missing ${key}`);
    }
    const seen: string[] = [];
    let cursor = "";
    for (let pages = 0; pages < 10; pages++) {
      const page = await (await observer.fetch(`/api/connections?limit=5${cursor}`)).json();
      seen.push(...Object.keys(page.connections));
      if (page.next_cursor === null) break;
      cursor = `&cursor=${page.next_cursor}`;
    }
    assert.equal(seen.length, 12);
    assert.equal(new Set(seen).size, 12);
    const id = seen[3];
    const single = await (await observer.fetch(`/api/connections/${id}`)).json();
    assert.equal(single.connection_id, id);
    const notFound = await observer.fetch("/api/connections/0000000000000000");
    assert.equal(notFound.status, 404);
    assert.equal((await notFound.json()).error, "not_found");
    for (
      const bad of [
        "state=nope",
        "limit=0",
        "limit=1001",
        "protocol=h9",
        "migrated=maybe",
        "cursor=-1",
      ]
    ) {
      const res = await observer.fetch(`/api/connections?${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal((await res.json()).error, "bad_request");
    }
    const h3Only = await (await observer.fetch("/api/connections?protocol=h2")).json();
    assert.equal(Object.keys(h3Only.connections).length, 0);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
});

Deno.test("API: /api/events streams connection events in order and resumes from Last-Event-ID", async () => {
  const server = await startTestServer();
  const watcher = await server.client();
  try {
    const res = await watcher.fetch("/api/events");
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const next = sseReader(res.body!);
    const other = await server.client();
    const opened = await next();
    assert.equal(opened.event, "connection_opened");
    const openedData = JSON.parse(opened.data!);
    other.close();
    const closed = await next();
    assert.equal(closed.event, "connection_closed");
    const closedData = JSON.parse(closed.data!);
    assert.equal(closedData.connection.connection_id, openedData.connection.connection_id);
    assert.equal(Number(closed.id), Number(opened.id) + 1);

    const resumed = await watcher.fetch("/api/events", {
      headers: { "last-event-id": String(Number(opened.id) - 1) },
    });
    const replay = sseReader(resumed.body!);
    const first = await replay();
    assert.equal(first.id, opened.id);
    assert.equal((await replay()).id, closed.id);
    await res.body?.cancel().catch(() => {});
    await resumed.body?.cancel().catch(() => {});
  } finally {
    watcher.close();
    await server.stop();
  }
});

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)?\})? (-?[0-9.e+]+|\+Inf|NaN)$/;

Deno.test("API: /metrics is valid Prometheus text with the promised families", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    await (await client.fetch("/api/test")).body?.cancel();
    await (await client.fetch("/api/nope")).body?.cancel();
    const res = await client.fetch("/metrics");
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const types = new Map<string, string>();
    const samples = new Map<string, number>();
    for (const line of text.trimEnd().split("\n")) {
      if (line.startsWith("# HELP ")) continue;
      const type = line.match(/^# TYPE (\S+) (counter|gauge|histogram)$/);
      if (type) {
        assert.ok(!types.has(type[1]), `TYPE twice for ${type[1]}`);
        types.set(type[1], type[2]);
        continue;
      }
      const m = line.match(SAMPLE);
      assert.ok(m, `not a Prometheus sample: ${line}`);
      const family = m[1].replace(/_(bucket|sum|count)$/, "");
      assert.ok(types.has(m[1]) || types.has(family), `sample before its TYPE: ${line}`);
      samples.set(m[1] + (m[2] ?? ""), Number(m[5]));
    }
    for (
      const name of [
        "quic_connections_open",
        "quic_connections_total",
        "quic_migrations_total",
        "quic_migration_outcomes_total",
        "quic_migration_detection_window_ms",
        "http_requests_total",
      ]
    ) {
      assert.ok(types.has(name), `missing ${name}`);
    }
    assert.equal(samples.get('quic_connections_open{protocol="h3"}'), 1);
    assert.equal(samples.get('http_requests_total{protocol="h3",status="200"}'), 1);
    assert.equal(samples.get('http_requests_total{protocol="h3",status="404"}'), 1);
    assert.equal(samples.get('quic_migration_detection_window_ms_bucket{le="+Inf"}'), 0);
  } finally {
    client.close();
    await server.stop();
  }
});
