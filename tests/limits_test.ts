/**
 * Every configurable limit, enforced over real connections: concurrent connections, streams
 * per connection, header section size, body size (HTTP/3 and TCP), the per-connection rate of
 * mutating requests, the header timeout against a slowloris stream, and the migration watcher's
 * read budget. Each test also checks that a well-behaved connection is unaffected.
 */

import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./support/server.ts";
import { headersFrame, RawH3 } from "./support/raw_h3.ts";
import { encodeFrame, FRAME_DATA } from "../lib/h3/frame.ts";
import type { H3Client } from "../lib/h3/client.ts";
import { withTimeout } from "../lib/timeout.ts";
import type { TrackerEvent } from "../lib/tracker/types.ts";

/** Resolves with the next tracker event `match` accepts. */
function nextEvent(server: TestServer, match: (e: TrackerEvent) => boolean): Promise<TrackerEvent> {
  return new Promise((resolve) => {
    const stop = server.tracker.subscribe((event) => {
      if (!match(event)) return;
      stop();
      resolve(event);
    });
  });
}

async function metric(client: H3Client, name: string): Promise<number> {
  const text = await (await client.fetch("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

Deno.test("limits: connections beyond --max-connections are refused; freed slots are reused", async () => {
  const server = await startTestServer([], { limits: { maxConnections: 2 } });
  const clients: H3Client[] = [];
  try {
    clients.push(await server.client(), await server.client());
    for (const c of clients) assert.equal((await c.fetch("/api/test")).status, 200);
    await assert.rejects(server.client(), "a third connection must be refused");
    assert.equal(server.tracker.summary().open, 2, "the refused one was never tracked");
    assert.equal(await metric(clients[0], 'quic_connections_refused_total{transport="quic"}'), 1);

    const closed = nextEvent(server, (e) => e.type === "connection_closed");
    clients.shift()!.close();
    await closed;
    clients.push(await server.client());
    assert.equal((await clients[1].fetch("/api/test")).status, 200);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
});

Deno.test("limits: --max-streams caps the requests served at once; the rest wait and complete", async () => {
  const server = await startTestServer([], { limits: { maxStreamsPerConnection: 4 } });
  const client = await server.client();
  try {
    const probe = await client.fetch("/api/test");
    await probe.body?.cancel(); // a stream counts against the limit until it is finished
    const id = probe.headers.get("x-connection-id")!;
    const h3 = server.tracker.get(id)!.counters as unknown as { activeRequests: number };
    // Ten large downloads that nobody reads yet: each stays active on the server (backpressure).
    const responses = Array.from(
      { length: 10 },
      () => client.fetch("/api/download?bytes=4194304"),
    );
    await Promise.all(responses.slice(0, 4));
    assert.equal(h3.activeRequests, 4, "four served at once, the other six held back");
    // Each stream read to its end frees its slot for the next request.
    const sizes = await Promise.all(
      responses.map((p) => p.then((res) => res.arrayBuffer()).then((b) => b.byteLength)),
    );
    assert.deepEqual(sizes, Array(10).fill(4194304));
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("limits: --max-field-section and --max-body answer 431 and 413, over HTTP/3 and TCP", async () => {
  const server = await startTestServer([], {
    limits: { maxFieldSectionSize: 2048, maxBodyBytes: 1000 },
  });
  const client = await server.client();
  const tcp = Deno.createHttpClient({ caCerts: [server.caPem] });
  try {
    const big = await client.fetch("/api/test", { headers: { "x-big": "a".repeat(3000) } });
    assert.equal(big.status, 431);
    await big.body?.cancel();
    const fits = await client.fetch("/api/test", { headers: { "x-big": "a".repeat(1500) } });
    assert.equal(fits.status, 200);
    await fits.body?.cancel();

    const body = new Uint8Array(2000);
    const ok = await client.fetch("/api/echo", { method: "POST", body: body.subarray(0, 1000) });
    assert.equal(ok.status, 200);
    assert.equal((await ok.arrayBuffer()).byteLength, 1000);
    // A declared length over the limit is answered 413 before the body is read. (A raw peer:
    // Deno's own QUIC client drops a response once the server stops its sending, which RFC
    // 9114 §4.1.1 says clients must not do.)
    const raw = await RawH3.connect(server.port, server.caPem);
    try {
      await raw.openControl();
      const post = raw.requestFields("/api/echo", "POST");
      const declaredH3 = await raw.request([
        headersFrame([...post, "content-length", "2000"]),
        encodeFrame(FRAME_DATA, body),
      ]);
      assert.equal(declaredH3.kind === "response" && declaredH3.status, 413);
      // Undeclared: crossed before the echo's answer has begun, the limit is answered 413; after,
      // the stream is cut off (the header section is gone). Never a 200; the connection serves on.
      const streamedH3 = await raw.request([headersFrame(post), encodeFrame(FRAME_DATA, body)]);
      assert.ok(
        streamedH3.kind === "aborted" || streamedH3.status === 413,
        JSON.stringify(streamedH3),
      );
      const after = await raw.request([headersFrame(raw.requestFields())]);
      assert.equal(after.kind === "response" && after.status, 200);
    } finally {
      await raw.close();
    }

    const url = `https://127.0.0.1:${server.port}/api/echo`;
    const declared = await fetch(url, { method: "POST", body, client: tcp });
    assert.equal(declared.status, 413);
    assert.equal((await declared.json()).error, "body_too_large");
    // Streamed without a length: the echo's answer may have begun when the limit is crossed, so
    // the exchange is cut short (the request fails, or the echo ends early); never are more
    // than the limit's bytes accepted.
    const echoed = await fetch(url, {
      method: "POST",
      body: ReadableStream.from([body.subarray(0, 800), body.subarray(800)]),
      client: tcp,
    }).then((res) => res.arrayBuffer()).then((b) => b.byteLength, () => -1);
    assert.ok(echoed < 2000, `the echo was cut short (${echoed} bytes, -1 = failed)`);
  } finally {
    tcp.close();
    client.close();
    await server.stop();
  }
});

Deno.test("limits: --mutating-rps answers 429 with Retry-After, per connection", async () => {
  const server = await startTestServer([], { limits: { mutatingRequestsPerSecond: 2 } });
  const [a, b] = await Promise.all([server.client(), server.client()]);
  try {
    const post = (c: H3Client) =>
      c.fetch("/api/simulate-migration", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(a);
      statuses.push(res.status);
      if (res.status === 429) {
        assert.match(res.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
        assert.equal((await res.json()).error, "rate_limited");
      } else await res.body?.cancel();
    }
    assert.deepEqual(statuses, [400, 400, 429], "two bad requests are answered, the third limited");
    const other = await post(b);
    assert.equal(other.status, 400, "another connection has its own budget");
    await other.body?.cancel();
    const get = await a.fetch("/api/test");
    assert.equal(get.status, 200, "reads are never rate limited");
    await get.body?.cancel();
    assert.match(
      await (await a.fetch("/metrics")).text(),
      /http_requests_rate_limited_total\{route="\/api\/simulate-migration"\} 1/,
    );
  } finally {
    a.close();
    b.close();
    await server.stop();
  }
});

Deno.test("limits: a slowloris request stream gets 408 after --header-timeout; the connection serves on", async () => {
  const server = await startTestServer([], { limits: { headerTimeoutMs: 300 } });
  const raw = await RawH3.connect(server.port, server.caPem);
  try {
    await raw.openControl();
    // Half a HEADERS frame, then silence, with the stream left open.
    const whole = headersFrame(raw.requestFields());
    const started = performance.now();
    const slow = await raw.startRequest([whole.subarray(0, whole.length - 3)], false);
    // A complete request on the same connection meanwhile is served at once.
    const fine = await raw.request([headersFrame(raw.requestFields())]);
    assert.equal(fine.kind === "response" && fine.status, 200);

    const outcome = await slow.response;
    const waited = performance.now() - started;
    assert.equal(outcome.kind, "response");
    if (outcome.kind !== "response") return;
    assert.equal(outcome.status, 408);
    assert.equal(JSON.parse(new TextDecoder().decode(outcome.body)).error, "request_timeout");
    assert.ok(waited >= 300, `answered after ${waited.toFixed(0)} ms, not before the timeout`);
    assert.ok(waited < 300 + 2000, `answered within the sweep interval (${waited.toFixed(0)} ms)`);
    assert.ok(raw.isOpen, "a stream-level timeout leaves the connection open");
    const after = await raw.request([headersFrame(raw.requestFields())]);
    assert.equal(after.kind === "response" && after.status, 200);
  } finally {
    await raw.close();
    await server.stop();
  }
});

Deno.test("limits: over TCP, a request head not complete by --header-timeout gets 408 and the connection closed", async () => {
  const server = await startTestServer([], { limits: { headerTimeoutMs: 300 } });
  // The dev certificate covers 127.0.0.1, so the address is also the name checked.
  const tls = () =>
    Deno.connectTls({ hostname: "127.0.0.1", port: server.port, caCerts: [server.caPem] });
  const slow = await tls();
  const good = await tls();
  try {
    const started = performance.now();
    await slow.write(new TextEncoder().encode("GET /api/test HTTP/1.1\r\nHost: localhost\r\n"));
    // A well-behaved request on another connection meanwhile is answered.
    await good.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const buffer = new Uint8Array(4096);
    const n = await good.read(buffer);
    assert.match(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), /^HTTP\/1\.1 200/);
    // The slow one is answered 408 (as over HTTP/3), then closed by the server.
    const answer = await withTimeout(
      slow.read(buffer).then((m) => new TextDecoder().decode(buffer.subarray(0, m ?? 0))),
      5000,
      "the server answering the slow connection",
    );
    const waited = performance.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"error":"request_timeout"/);
    const read = await withTimeout(
      slow.read(buffer).then((m) => m, () => null),
      5000,
      "the server closing the slow connection",
    );
    assert.equal(read, null, "no more, the connection ended");
    assert.ok(waited >= 250, `closed after ${waited.toFixed(0)} ms, not before the timeout`);
  } finally {
    try {
      slow.close();
    } catch { /* already closed */ }
    good.close();
    await server.stop();
  }
});

Deno.test("limits: --watch-max-reads stretches the watcher's round instead of reading faster", async () => {
  // 12 connections at 100 reads/s: a check of all of them every 120 ms, past the 50 ms interval.
  const server = await startTestServer([], { limits: { watchMaxReadsPerSecond: 100 } });
  const clients: H3Client[] = [];
  try {
    for (let i = 0; i < 12; i++) clients.push(await server.client());
    assert.equal(await metric(clients[0], "quic_migration_watcher_round_seconds"), 0.12);
    const closed = nextEvent(server, (e) => e.type === "connection_closed");
    clients.pop()!.close();
    await closed;
    assert.equal(await metric(clients[0], "quic_migration_watcher_round_seconds"), 0.11);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
  const plain = await startTestServer();
  const client = await plain.client();
  try {
    assert.equal(
      await metric(client, "quic_migration_watcher_round_seconds"),
      0.05,
      "the interval",
    );
    assert.equal(
      await metric(client, "quic_migration_watcher_quiet_seconds"),
      0.5,
      "the quiet interval, --watch-quiet-interval's default",
    );
  } finally {
    client.close();
    await plain.stop();
  }
});
