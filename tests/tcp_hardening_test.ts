/**
 * Attacks on the HTTPS-over-TCP listener, each reproduced against a real server with a raw TLS
 * peer, and the bound that now holds: a request head trickled a byte at a time (slowloris) meets
 * an absolute deadline; idle connections and stalled TLS handshakes are closed; connections
 * beyond `--max-tcp-connections` are refused and counted; a body that stops arriving gets 408;
 * malformed or oversized heads get 400/431; a `Host` that is not `host[:port]` gets 400. While
 * each attack runs, `/healthz` keeps answering. Bounds are generous: these tests are about
 * starvation, not speed, on a busy machine. (Shutdown and memory: `tcp_hardening_*_test.ts`.)
 */

import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./support/server.ts";
import { RawHttps, since } from "./support/raw_https.ts";
import { withTimeout } from "../lib/timeout.ts";

/** Slack on top of a deadline before a test calls it missed (a busy 2-core machine). */
const SLACK_MS = 2500;
/** The longest `/healthz` may take while an attack runs. */
const HEALTHZ_MS = 2000;

/** `GET /healthz` on a fresh TCP connection: its status and how long it took. */
async function healthzOverTcp(server: TestServer): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    await conn.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const { status } = await conn.response(HEALTHZ_MS + SLACK_MS);
    return { status, ms: since(started) };
  } finally {
    conn.close();
  }
}

/** A metric's value, read over HTTP/3 (so the TCP listener under test is not involved). */
async function metric(server: TestServer, name: string): Promise<number> {
  const client = await server.client();
  try {
    const text = await (await client.fetch("/metrics")).text();
    const line = text.split("\n").find((l) => l.startsWith(name + " "));
    assert.ok(line, `${name} in /metrics`);
    return Number(line.split(" ")[1]);
  } finally {
    client.close();
  }
}

Deno.test("tcp: a head trickled a byte at a time gets 408 at --header-timeout; bytes do not reset it", async () => {
  const timeout = 800;
  const server = await startTestServer([], { limits: { headerTimeoutMs: timeout } });
  const slow = await RawHttps.connect(server.port, server.caPem);
  let trickling = true;
  try {
    const started = performance.now();
    await slow.send("GET /api/test HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    // One byte every 100 ms, for up to 8 s: an idle timer would never fire.
    const trickle = (async () => {
      for (let i = 0; i < 80 && trickling; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await slow.send("a").catch(() => trickling = false);
      }
    })();
    const health = await healthzOverTcp(server);
    assert.equal(health.status, 200);
    assert.ok(health.ms < HEALTHZ_MS, `/healthz took ${health.ms} ms during the trickle`);

    const answer = await slow.untilClosed(timeout + SLACK_MS);
    const waited = since(started);
    trickling = false;
    await trickle;
    assert.equal(answer.status, 408, `408, got ${JSON.stringify(answer.text.slice(0, 80))}`);
    assert.equal(answer.json?.error, "request_timeout");
    assert.ok(answer.ended, "then the connection is closed");
    assert.ok(waited >= timeout - 50, `answered after ${waited} ms, not before the deadline`);
    assert.ok(waited < timeout + SLACK_MS, `answered after ${waited} ms`);
  } finally {
    trickling = false;
    slow.close();
    await server.stop();
  }
});

Deno.test("tcp: idle connections are closed silently at --header-timeout, fresh or after a response", async () => {
  const timeout = 500;
  const server = await startTestServer([], { limits: { headerTimeoutMs: timeout } });
  const fresh = await RawHttps.connect(server.port, server.caPem);
  const used = await RawHttps.connect(server.port, server.caPem);
  try {
    const started = performance.now();
    await used.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal((await used.response(SLACK_MS)).status, 200);
    const answered = performance.now();
    const [a, b] = await Promise.all([
      fresh.untilClosed(timeout + SLACK_MS),
      used.untilClosed(timeout + SLACK_MS),
    ]);
    for (const [name, closed, from] of [["fresh", a, started], ["used", b, answered]] as const) {
      assert.ok(closed.ended, `${name}: closed`);
      assert.equal(closed.text, "", `${name}: no unsolicited answer`);
      assert.ok(since(from) >= timeout - 50, `${name}: not before the deadline`);
    }
  } finally {
    fresh.close();
    used.close();
    await server.stop();
  }
});

Deno.test("tcp: a TLS handshake that never completes is cut at --header-timeout", async () => {
  const timeout = 500;
  const server = await startTestServer([], { limits: { headerTimeoutMs: timeout } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const started = performance.now();
    await conn.write(new Uint8Array([0x16, 0x03, 0x01])); // the first bytes of a TLS record
    const read = await withTimeout(
      conn.read(new Uint8Array(1024)).catch(() => null),
      timeout + SLACK_MS,
      "the server closing a stalled handshake",
    );
    assert.equal(read, null, "closed without an answer");
    assert.ok(since(started) >= timeout - 50, `cut after ${since(started)} ms`);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
    await server.stop();
  }
});

Deno.test("tcp: connections beyond --max-tcp-connections are closed at once and counted", async () => {
  const server = await startTestServer([], { limits: { maxTcpConnections: 4 } });
  const held: RawHttps[] = [];
  try {
    for (let i = 0; i < 4; i++) held.push(await RawHttps.connect(server.port, server.caPem));
    const started = performance.now();
    await assert.rejects(
      RawHttps.connect(server.port, server.caPem),
      "a fifth connection is closed before its handshake",
    );
    assert.ok(since(started) < HEALTHZ_MS, `refused in ${since(started)} ms`);
    assert.equal(await metric(server, 'quic_connections_refused_total{transport="tcp"}'), 1);
    // HTTP/3 is not affected by a full TCP listener.
    const client = await server.client();
    const started3 = performance.now();
    assert.equal((await client.fetch("/healthz")).status, 200);
    assert.ok(since(started3) < HEALTHZ_MS);
    client.close();

    // A freed slot is reused.
    const closed = new Promise<void>((resolve) => {
      const stop = server.tracker.subscribe((event) => {
        if (event.type === "connection_closed" && event.connection.protocol === "http/1.1") {
          stop();
          resolve();
        }
      });
    });
    held.shift()!.close();
    await withTimeout(closed, SLACK_MS, "the server seeing the close");
    const health = await healthzOverTcp(server);
    assert.equal(health.status, 200);
  } finally {
    for (const conn of held) conn.close();
    await server.stop();
  }
});

Deno.test("tcp: a request body that stops arriving gets 408 after --body-timeout; a slow one is not cut", async () => {
  const timeout = 500;
  const server = await startTestServer([], { limits: { bodyTimeoutMs: timeout } });
  const conns: RawHttps[] = [];
  const open = async () => {
    const conn = await RawHttps.connect(server.port, server.caPem);
    conns.push(conn);
    return conn;
  };
  // The declared length stays under --max-json-body, so the JSON route waits for the body.
  const stalled = (path: string) =>
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n` +
    `content-length: 60000\r\n\r\n{"`;
  try {
    const simulate = await open();
    const echo = await open();
    const started = performance.now();
    await simulate.send(stalled("/api/simulate-migration"));
    await echo.send(stalled("/api/echo"));
    const health = await healthzOverTcp(server);
    assert.equal(health.status, 200);
    assert.ok(health.ms < HEALTHZ_MS, `/healthz took ${health.ms} ms`);

    const [a, b] = await Promise.all([
      simulate.untilClosed(timeout + SLACK_MS),
      echo.untilClosed(timeout + SLACK_MS),
    ]);
    assert.equal(a.status, 408, `simulate-migration: ${JSON.stringify(a.text.slice(0, 80))}`);
    assert.equal(a.json?.error, "request_timeout");
    assert.ok(a.ended, "simulate-migration: closed after the 408");
    // The echo had begun its answer (the two bytes came back), so it is cut, not answered.
    assert.ok(b.ended, "echo: the exchange is cut");
    assert.ok(since(started) >= timeout - 50, `not before the deadline (${since(started)} ms)`);

    // Idle, not total: a body a byte every 100 ms, longer in all than the timeout, is served.
    const steady = await open();
    await steady.send("POST /api/echo HTTP/1.1\r\nHost: localhost\r\ncontent-length: 12\r\n\r\n");
    for (const byte of "hello world!") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await steady.send(byte);
    }
    const whole = await steady.read(SLACK_MS, (text) => text.endsWith("0\r\n\r\n"));
    assert.equal(whole.status, 200);
    assert.equal(whole.body, "hello world!");
  } finally {
    for (const conn of conns) conn.close();
    await server.stop();
  }
});

Deno.test("tcp: malformed and oversized request heads get 400 and 431 JSON, then the connection closes", async () => {
  const server = await startTestServer([], { limits: { maxFieldSectionSize: 2048 } });
  const cases: Array<[string, number, string]> = [
    [
      `GET /api/test HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(3000)}\r\n\r\n`,
      431,
      "header_section_too_large",
    ],
    ["GET /api/test HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n", 400, "bad_request"],
    ["NOT HTTP AT ALL\r\n\r\n", 400, "bad_request"],
  ];
  try {
    for (const [request, status, error] of cases) {
      const conn = await RawHttps.connect(server.port, server.caPem);
      try {
        await conn.send(request);
        const answer = await conn.untilClosed(SLACK_MS);
        assert.equal(answer.status, status, JSON.stringify(request.slice(0, 40)));
        assert.equal(answer.json?.error, error);
        assert.ok(answer.ended, "closed after the answer");
      } finally {
        conn.close();
      }
    }
    const fits = await RawHttps.connect(server.port, server.caPem);
    await fits.send(
      `GET /api/test HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(1500)}\r\n\r\n`,
    );
    assert.equal((await fits.response(SLACK_MS)).status, 200, "a head within the limit is served");
    fits.close();
  } finally {
    await server.stop();
  }
});

Deno.test("tcp: a Host that is not host[:port] gets 400 and is never routed", async () => {
  const server = await startTestServer();
  try {
    const cases: Array<[string, number]> = [
      ["evil.com/x?", 400],
      ["evil.com/healthz#", 400],
      ["user@evil.com", 400],
      ["localhost:99999", 400],
      ["[::1", 400],
      ["localhost:9443", 200],
      ["127.0.0.1", 200],
      ["[::1]:8443", 200],
    ];
    for (const [host, status] of cases) {
      const conn = await RawHttps.connect(server.port, server.caPem);
      try {
        await conn.send(`GET /api/test HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        const answer = await conn.response(SLACK_MS);
        assert.equal(answer.status, status, `Host: ${host}`);
        if (status === 400) {
          assert.equal(answer.json?.error, "bad_request", `Host: ${host}`);
          assert.match(answer.json?.detail ?? "", /invalid authority/);
          assert.match(answer.text, /\r\nconnection: close\r\n/i);
        }
      } finally {
        conn.close();
      }
    }
  } finally {
    await server.stop();
  }
});
