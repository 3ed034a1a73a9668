/**
 * TCP attacks against `main.ts` in its own process, where its memory and its signals are its
 * own: clients that upload large echo bodies and never read the answer must not grow the server
 * by their bodies (the reads stop, so the clients' sends stall), and `/healthz` answers
 * meanwhile; SIGTERM during an HTTP/1.1 download lets it finish and the process exit cleanly.
 */

import { downloadSha256 } from "../lib/download.ts";
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { procMemory, type ServerProcess, spawnServer, within } from "./support/soak_server.ts";
import { RawHttps, since } from "./support/raw_https.ts";

const MB = 1_000_000;
const MiB = 1024 * 1024;
/** Connections in the echo attack. */
const ATTACKERS = 12;
/** What each attacker declares and would send. */
const BODY = 60 * MB;
/**
 * How much the server's RSS may grow during the attack. A server that reads a paused body on
 * holds each one whole (`ATTACKERS` × 60 MB); one with backpressure holds a few socket and TLS
 * buffers per connection, plus garbage not yet collected.
 */
const RSS_GROWTH_BOUND = ATTACKERS * 16 * MiB;
/** A write that has not completed in this long is stalled: the server stopped reading. */
const STALL_MS = 1500;
/** The longest `/healthz` may take during the attack (generous: about starvation, not speed). */
const HEALTHZ_MS = 2000;

/** Sends a `POST /api/echo` of `BODY` bytes until the server stops taking them; never reads. */
async function uploadUntilStalled(conn: RawHttps): Promise<number> {
  await conn.send(
    `POST /api/echo HTTP/1.1\r\nHost: localhost\r\ncontent-length: ${BODY}\r\n\r\n`,
  );
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  while (sent < BODY) {
    const write = conn.conn.write(chunk.subarray(0, Math.min(chunk.length, BODY - sent)));
    write.catch(() => {}); // a stalled write fails when the connection is closed at the end
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      write,
      new Promise<-1>((resolve) => timer = setTimeout(() => resolve(-1), STALL_MS)),
    ]);
    clearTimeout(timer);
    if (n === -1) break;
    sent += n;
  }
  return sent;
}

/** `GET /healthz` over a fresh TCP connection and over HTTP/3: the slower one's time. */
async function healthz(server: ServerProcess): Promise<number> {
  const started = performance.now();
  const tcp = await RawHttps.connect(server.port, server.caPem);
  try {
    await tcp.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal((await tcp.response(HEALTHZ_MS * 2)).status, 200, "/healthz over TCP");
  } finally {
    tcp.close();
  }
  const h3 = await server.client();
  try {
    const res = await within(h3.fetch("/healthz"), HEALTHZ_MS * 2, "/healthz over HTTP/3");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    h3.close();
  }
  return since(started);
}

Deno.test("tcp process: echo uploads that never read their answer stall at the client, not in the server's memory", async () => {
  const server = await spawnServer([]);
  const attackers: RawHttps[] = [];
  try {
    // Warm-up, so the baseline includes what any first requests allocate.
    for (let i = 0; i < 3; i++) await healthz(server);
    const before = await procMemory(server.pid);

    for (let i = 0; i < ATTACKERS; i++) {
      attackers.push(await RawHttps.connect(server.port, server.caPem));
    }
    const sent = await Promise.all(attackers.map(uploadUntilStalled));
    const during = await healthz(server);
    const after = await procMemory(server.pid);

    console.error(
      `echo attack: ${ATTACKERS} uploads, ${(sent.reduce((a, b) => a + b, 0) / MiB).toFixed(0)} ` +
        `MiB sent in all; RSS ${(before.rss / MiB).toFixed(0)} → peak ${
          (after.peakRss / MiB).toFixed(0)
        } MiB; /healthz ${during} ms`,
    );
    for (const bytes of sent) {
      assert.ok(bytes < BODY / 2, `the server took ${bytes} of ${BODY} bytes without a stall`);
    }
    assert.ok(during < HEALTHZ_MS, `/healthz took ${during} ms during the attack`);
    const growth = after.peakRss - before.rss;
    assert.ok(
      growth < RSS_GROWTH_BOUND,
      `RSS grew by ${(growth / MiB).toFixed(0)} MiB for ${ATTACKERS} stalled uploads ` +
        `(bound ${RSS_GROWTH_BOUND / MiB} MiB); ${
          (sent.reduce((a, b) => a + b, 0) / MiB).toFixed(0)
        } MiB sent in all`,
    );
  } finally {
    for (const conn of attackers) conn.close();
    assert.equal(await server.stop(), 0, server.tail());
  }
});

Deno.test("tcp process: SIGTERM during an HTTP/1.1 download lets it finish, closes idle connections, exits 0", async () => {
  const server = await spawnServer([]);
  const client = Deno.createHttpClient({ caCerts: [server.caPem] });
  const idle = await RawHttps.connect(server.port, server.caPem);
  try {
    await idle.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal((await idle.response(5000)).status, 200);
    const size = 30 * MiB;
    const res = await fetch(`https://localhost:${server.port}/api/download?bytes=${size}`, {
      client,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const hash = createHash("sha256");
    let bytes = 0;
    const first = await reader.read();
    assert.ok(!first.done && first.value.length < size, "the download has begun, not ended");
    hash.update(first.value);
    bytes += first.value.length;

    const signalled = performance.now();
    Deno.kill(server.pid, "SIGTERM");
    const closed = await idle.untilClosed(5000);
    assert.ok(closed.ended, "the idle keep-alive connection is closed");
    assert.ok(since(signalled) < 4000, `idle closed ${since(signalled)} ms after SIGTERM`);

    for (let i = 0; i < 1_000_000; i++) {
      const { value, done } = await within(reader.read(), 10_000, "the download, draining");
      if (done) break;
      hash.update(value);
      bytes += value.length;
    }
    assert.equal(bytes, size, "the whole download arrived");
    assert.equal(hash.digest("hex"), downloadSha256(size));
    // main.ts drains for at most 5 s, then exits.
    assert.equal(await within(server.exited, 5000 + 5000, "the exit after SIGTERM"), 0);
  } finally {
    idle.close();
    client.close();
    await server.stop();
  }
});
