/**
 * Soak, attack phase (bounded, loopback only): `main.ts` in its own process under three attacks
 * at once, each of which once starved or bloated it:
 * - TCP echo hoarders: `POST /api/echo` declaring 60 MB, sending as fast as the server takes it,
 *   never reading the answer (backpressure must stop them, not memory);
 * - slowloris: hundreds of TLS connections trickling a request head (the absolute head deadline
 *   must close them);
 * - idle event streams: more `/api/events` streams than `--max-event-streams`, none read (the
 *   cap answers 503, the per-stream buffer drops the non-readers).
 * While they run, `/healthz` over HTTP/3 keeps answering (p99 under a generous bound: this is about
 * starvation, not speed); afterwards the connections are all gone and memory is back near where
 * it was before the attack (read after a full garbage collection through the inspector).
 */

import { strict as assert } from "node:assert";
import type { H3Client } from "../lib/h3/client.ts";
import { procMemory, type ServerProcess, spawnServer, sumOf } from "./support/soak_server.ts";

const HOARDERS = 8;
const HOARD_DECLARED = 60_000_000;
const SLOWLORIS = 300;
const EVENT_CLIENTS = 3;
const STREAMS_PER_CLIENT = 100;
const MAX_EVENT_STREAMS = 256;
/** How long the attack lasts: past the head deadline, so the slowloris closes are part of it. */
const ATTACK_MS = 14_000;
const HEADER_TIMEOUT_MS = 10_000;
const HEALTH_P99_BOUND_MS = 1_000;
/** A hoarder's answer waits this long unread before its connection is closed. */
const SEND_TIMEOUT_MS = 5_000;
const MiB = 1024 * 1024;
/**
 * RSS may stay above the baseline after the attack: the allocator keeps pages it once used. The
 * bound is far below what an unbounded echo alone would keep (hundreds of MiB for 8 hoarders).
 */
const RSS_TOLERANCE = 160 * MiB;
/** The heap must come back close: everything the attack held is released. */
const HEAP_TOLERANCE = 16 * MiB;

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const log = (line: string) => console.error(`soak attack: ${line}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function memory(server: ServerProcess): Promise<{ heap: number; rss: number }> {
  await server.collectGarbage();
  await server.collectGarbage();
  const heap = (await server.metrics()).get("deno_heap_used_bytes")!;
  return { heap, rss: (await procMemory(server.pid)).rss };
}

/** TLS to the server's TCP port, trusting its CA. */
function tls(server: ServerProcess): Promise<Deno.TlsConn> {
  return Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.port,
    caCerts: [server.caPem],
    alpnProtocols: ["http/1.1"],
  });
}

/** Sends an echo upload as fast as the server takes it, until `stop`; never reads. */
async function hoard(server: ServerProcess, stop: AbortSignal): Promise<number> {
  const conn = await tls(server);
  let sent = 0;
  try {
    const head = `POST /api/echo HTTP/1.1\r\nHost: localhost\r\ncontent-type: ` +
      `application/octet-stream\r\ncontent-length: ${HOARD_DECLARED}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    const chunk = new Uint8Array(64 * 1024);
    while (!stop.aborted && sent < HOARD_DECLARED) {
      const written = await Promise.race([
        conn.write(chunk),
        new Promise<number>((resolve) => stop.addEventListener("abort", () => resolve(-1))),
      ]);
      if (written < 0) break;
      sent += written;
    }
  } catch {
    // the server closed it: fine, the point is what it held meanwhile
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return sent;
}

/** A request head trickled one byte a second; resolves with when the server closed it. */
async function slowloris(server: ServerProcess, stop: AbortSignal): Promise<number | undefined> {
  let conn: Deno.TlsConn;
  try {
    conn = await tls(server);
    await conn.handshake();
  } catch {
    return undefined; // refused at the cap or by load: not what this test measures
  }
  const opened = performance.now();
  const head = new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
  const closed = (async () => {
    const buffer = new Uint8Array(1024);
    try {
      while ((await conn.read(buffer)) !== null) { /* an answer (408) may come first */ }
    } catch {
      // reset
    }
    return performance.now() - opened;
  })();
  for (let i = 0; i < head.length && !stop.aborted; i++) {
    const done = await Promise.race([closed.then(() => true), pause(1000).then(() => false)]);
    if (done) break;
    await conn.write(head.subarray(i, i + 1)).catch(() => {});
  }
  const lifetime = await Promise.race([closed, pause(1000).then(() => undefined)]);
  try {
    conn.close();
  } catch {
    // already closed
  }
  return lifetime;
}

/** Opens event streams on `client` and never reads them; returns their statuses. */
async function idleStreams(client: H3Client, count: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, () => client.fetch("/api/events").catch(() => undefined)),
  );
  return answers.map((res) => res?.status ?? 0);
}

Deno.test("soak attack: echo hoarders, slowloris and idle event streams at once; /healthz answers, memory comes back", async () => {
  const server = await spawnServer([
    "--log-format",
    "json",
    "--header-timeout",
    String(HEADER_TIMEOUT_MS),
    "--max-event-streams",
    String(MAX_EVENT_STREAMS),
    "--send-timeout",
    String(SEND_TIMEOUT_MS),
  ], { inspect: true });
  const eventClients: H3Client[] = [];
  let probe: H3Client | undefined;
  try {
    // Warm-up, so the baseline is a server that has served, not a cold one.
    probe = await server.client();
    for (let i = 0; i < 200; i++) await (await probe.fetch("/healthz")).body?.cancel();
    const baseline = await memory(server);
    log(`baseline: heap ${mib(baseline.heap)}, RSS ${mib(baseline.rss)}`);

    const stop = new AbortController();
    const attackTimer = setTimeout(() => stop.abort(), ATTACK_MS);
    const hoarders = Array.from({ length: HOARDERS }, () => hoard(server, stop.signal));
    const loris = Array.from({ length: SLOWLORIS }, () => slowloris(server, stop.signal));
    for (let i = 0; i < EVENT_CLIENTS; i++) eventClients.push(await server.client());
    const streams = (await Promise.all(
      eventClients.map((client) => idleStreams(client, STREAMS_PER_CLIENT)),
    )).flat();

    const latencies: number[] = [];
    const healthFailures: string[] = [];
    for (let i = 0; i < 10_000 && !stop.signal.aborted; i++) {
      const started = performance.now();
      try {
        const res = await probe.fetch("/healthz");
        await res.body?.cancel();
        if (res.status !== 200) healthFailures.push(`status ${res.status}`);
      } catch (error) {
        healthFailures.push(String(error));
      }
      latencies.push(performance.now() - started);
      await pause(100);
    }
    clearTimeout(attackTimer);
    stop.abort();
    const sent = await Promise.all(hoarders);
    const lorisLifetimes = await Promise.all(loris);
    const peak = (await procMemory(server.pid)).rss;

    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))];
    const accepted = streams.filter((status) => status === 200).length;
    const refused = streams.filter((status) => status === 503).length;
    const closedByServer = lorisLifetimes.filter((ms) => ms !== undefined);
    log(
      `${latencies.length} /healthz during the attack: p99 ${p99.toFixed(0)} ms, max ` +
        `${latencies.at(-1)!.toFixed(0)} ms; hoarders sent ${
          mib(sent.reduce((a, b) => a + b, 0))
        }; ${closedByServer.length} of ${SLOWLORIS} slowloris closed by the server; event streams ` +
        `${accepted} accepted, ${refused} refused; RSS peak ${mib(peak)}`,
    );
    assert.deepEqual(healthFailures.slice(0, 5), [], `${healthFailures.length} /healthz failed`);
    assert.ok(latencies.length >= 50, `only ${latencies.length} /healthz probes ran`);
    assert.ok(p99 < HEALTH_P99_BOUND_MS, `/healthz p99 ${p99.toFixed(0)} ms under attack`);
    assert.equal(accepted, MAX_EVENT_STREAMS, "event streams up to the cap");
    assert.equal(refused, EVENT_CLIENTS * STREAMS_PER_CLIENT - MAX_EVENT_STREAMS, "the rest 503");
    assert.ok(
      sent.every((bytes) => bytes < HOARD_DECLARED),
      "no hoarder could push its whole upload: backpressure held it",
    );
    assert.ok(closedByServer.length > SLOWLORIS / 2, "the head deadline closed the slowloris");
    assert.ok(
      closedByServer.every((ms) => ms! < HEADER_TIMEOUT_MS + 3_000),
      `a trickled head outlived the deadline: ${Math.max(...closedByServer.map((ms) => ms!))} ms`,
    );

    for (const client of eventClients) client.close();
    eventClients.length = 0;
    // Hoarders' sockets are paused (backpressure), so their closes are seen through
    // --send-timeout; everything else goes at once.
    const deadline = Date.now() + SEND_TIMEOUT_MS + 15_000;
    for (;;) {
      const metrics = await server.metrics();
      const open = sumOf(metrics, "quic_connections_open", 'protocol="h3"') +
        sumOf(metrics, "quic_connections_open", 'protocol="http/1.1"');
      // The probe's connection and the metrics request's own stay open.
      if (open <= 2) break;
      if (Date.now() >= deadline) {
        const list = await server.getJson("/api/connections?state=open&limit=20") as {
          connections: Record<string, { protocol: string; request_count: number }>;
        };
        assert.fail(
          `${open} connections still open ${SEND_TIMEOUT_MS / 1000 + 15} s after the attack: ` +
            JSON.stringify(
              Object.values(list.connections).map((c) => [c.protocol, c.request_count]),
            ),
        );
      }
      await pause(200);
    }
    const after = await memory(server);
    log(`after the attack: heap ${mib(after.heap)}, RSS ${mib(after.rss)}`);
    assert.ok(
      after.heap <= baseline.heap + HEAP_TOLERANCE,
      `heap ${mib(after.heap)} is more than ${mib(HEAP_TOLERANCE)} above ${mib(baseline.heap)}`,
    );
    assert.ok(
      after.rss <= baseline.rss + RSS_TOLERANCE,
      `RSS ${mib(after.rss)} is more than ${mib(RSS_TOLERANCE)} above ${mib(baseline.rss)}`,
    );
  } finally {
    for (const client of eventClients) client.close();
    probe?.close();
    await server.stop();
  }
});
