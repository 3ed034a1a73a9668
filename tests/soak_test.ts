/**
 * Soak (bounded, loopback only): `main.ts` in its own process, with the V8 options of
 * `deno task start`, serves 10,000 HTTP/3 connections opened and closed (one `GET /api/test`
 * each) and 1,000 lab migrations under continuous requests; afterwards its memory is back close
 * to where it was after a warm-up, and what it retains of closed connections is bounded by
 * `--max-closed`. Memory is read once idle, after a full garbage collection requested through
 * V8's inspector (the server runs with `--inspect` on a loopback port), so readings compare live
 * memory and not garbage awaiting collection. Prints the figures (cold, baseline, peak, after;
 * wall times) to stderr.
 */

import { strict as assert } from "node:assert";
import type { H3Client } from "../lib/h3/client.ts";
import {
  procMemory,
  type ServerProcess,
  spawnServer,
  sumOf,
  within,
} from "./support/soak_server.ts";

/** Connections before the first reading ("cold": the server has barely run). */
const COLD = 200;
/**
 * Connections before the baseline. The server's RSS grows over its first few thousand
 * connections (V8 grows its heap's committed pages, the native allocator its pools) and then
 * stays flat; a leak shows as growth after that, so the baseline is taken there.
 */
const WARM_UP = 5_000;
const CONNECTIONS = 10_000;
/** Connections in flight at once: enough to keep both cores busy, far below --max-connections. */
const CONCURRENCY = 50;
const LAB_CONNECTIONS = 10;
const MOVES_EACH = 100;
const MAX_CLOSED = 100;
const MiB = 1024 * 1024;

/**
 * How far above the baseline the heap may be after the 10,000 connections: a leak of 0.5 KiB per
 * connection (5 MiB) goes over it, while a healthy server stays well inside.
 */
const HEAP_TOLERANCE_CONNECTIONS = 4 * MiB;
/**
 * The same after the migrations too. The migrations leave some memory behind, all bounded: the 10
 * lab connections, with 100 migration events each and their lab records, stay reachable among the
 * `--max-closed` closed connections and from the tracker's log of the newest events (pushed out
 * by later connections). A leak of 1 KiB per connection (10 MiB) on top goes over.
 */
const HEAP_TOLERANCE = 12 * MiB;
/**
 * RSS moves with the allocator's and V8's page reuse, not only with live data, and more so when
 * the machine is busy (the test task runs this after everything else), and the allocator's pools
 * may still be growing at the baseline; so it gets a coarse bound that still catches a native leak
 * of 16 KiB per connection (160 MiB); the heap bounds are the precise check.
 */
const RSS_TOLERANCE = 160 * MiB;

interface Memory {
  heap: number;
  rss: number;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const log = (line: string) => console.error(`soak: ${line}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readMemory(server: ServerProcess): Promise<Memory> {
  const heap = (await server.metrics()).get("deno_heap_used_bytes");
  assert.ok(heap !== undefined, "deno_heap_used_bytes in /metrics");
  return { heap, rss: (await procMemory(server.pid)).rss };
}

/**
 * Opens `count` connections, `CONCURRENCY` at a time, each doing one GET and closing. Each
 * worker uses one local UDP endpoint for all its connections (a client endpoint per connection
 * costs this test process about 200 KiB each that it does not give back).
 */
async function openAndClose(
  server: ServerProcess,
  count: number,
  onProgress: (done: number) => void,
): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  let done = 0;
  const one = async (i: number, endpoint: Deno.QuicEndpoint) => {
    const client = await server.client({ endpoint });
    try {
      const res = await client.fetch("/api/test");
      const body = await res.json();
      if (res.status !== 200 || body.protocol !== "h3" || typeof body.connection_id !== "string") {
        failures.push(`#${i}: ${res.status} ${JSON.stringify(body)}`);
      }
    } finally {
      client.close();
    }
  };
  const worker = async () => {
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1" });
    try {
      while (next < count) {
        const i = next++;
        try {
          await within(one(i, endpoint), 20_000, `connection #${i}`);
        } catch (error) {
          failures.push(`#${i}: ${error instanceof Error ? error.message : error}`);
        }
        if (++done % 1000 === 0) onProgress(done);
      }
    } finally {
      endpoint.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  return failures;
}

/** Polls (bounded) until the server counts no open HTTP/3 connection. */
async function untilNoneOpen(server: ServerProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const open = sumOf(await server.metrics(), "quic_connections_open", 'protocol="h3"');
    if (open === 0) return;
    assert.ok(Date.now() < deadline, `${open} HTTP/3 connections still open after 30 s`);
    await pause(100);
  }
}

/**
 * Memory once idle: waits (bounded) until no HTTP/3 connection is open, has V8 collect all
 * garbage (through the inspector), then reads the heap from `/metrics` and RSS from `/proc`.
 * Without the forced collection the reading of an idle server includes garbage for as long as
 * V8's memory reducer waits (seconds, or not at all before the first full collection), so a
 * baseline and a later reading would not compare.
 */
async function idleMemory(server: ServerProcess): Promise<Memory> {
  await untilNoneOpen(server);
  await server.collectGarbage();
  await server.collectGarbage();
  return await readMemory(server);
}

async function simulate(control: H3Client, id: string, token: string): Promise<Response> {
  return await control.fetch("/api/simulate-migration", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      connection_id: id,
      kind: "mixed",
      count: MOVES_EACH,
      interval_ms: 0,
    }),
  });
}

/**
 * `LAB_CONNECTIONS` connections through the lab, each moved `MOVES_EACH` times (on an admin
 * request over its own control connection, so no rate limit is hit) while it keeps requesting.
 */
async function migrateUnderLoad(server: ServerProcess, peak: (heap: number) => void) {
  const range = Array.from({ length: LAB_CONNECTIONS }, (_, i) => i);
  // A keep-alive every 10 ms brings a moved path over even when no request is in flight.
  const labs = await Promise.all(
    range.map(() => server.client({ lab: true, keepAliveInterval: 10 })),
  );
  const controls = await Promise.all(range.map(() => server.client()));
  try {
    const ids: string[] = await within(
      Promise.all(
        labs.map(async (lab) => (await (await lab.fetch("/api/test")).json()).connection_id),
      ),
      10_000,
      "the lab connections' first requests",
    );
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const traffic = labs.map(async (lab, i) => {
      while (!stop) {
        try {
          const res = await within(lab.fetch("/api/test"), 10_000, `request on lab #${i}`);
          const body = await res.json();
          if (res.status === 200 && body.connection_id === ids[i]) ok++;
          else failures.push(`lab #${i}: ${res.status} ${JSON.stringify(body)}`);
        } catch (error) {
          failures.push(`lab #${i}: ${error instanceof Error ? error.message : error}`);
        }
      }
    });
    const reports = await within(
      Promise.all(range.map(async (i) => {
        const res = await simulate(controls[i], ids[i], server.adminToken);
        peak((await server.metrics()).get("deno_heap_used_bytes")!);
        return { status: res.status, body: await res.json() };
      })),
      120_000,
      "the migrations",
    ).finally(() => stop = true);
    await Promise.all(traffic);
    // One more request on each: the last move is validated by a request on its new path.
    for (const [i, lab] of labs.entries()) {
      const res = await within(lab.fetch("/api/test"), 10_000, `last request on lab #${i}`);
      if (res.status !== 200) failures.push(`lab #${i}: last request ${res.status}`);
      await res.body?.cancel();
    }
    return { ids, reports, ok, failures };
  } finally {
    for (const client of [...labs, ...controls]) client.close();
  }
}

/** Polls (bounded) until every migration has its outcome; returns the outcome counts. */
async function settledOutcomes(server: ServerProcess, expected: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const metrics = await server.metrics();
    const settled = sumOf(metrics, "quic_migration_outcomes_total");
    const pending = metrics.get("quic_migrations_pending")!;
    if (settled >= expected && pending === 0) {
      const outcome = (name: string) =>
        sumOf(metrics, "quic_migration_outcomes_total", `outcome="${name}"`);
      // Every outcome, so that a failure names what the others became.
      return {
        detected: sumOf(metrics, "quic_migrations_total"),
        validated: outcome("validated"),
        reverted: outcome("reverted"),
        closed_before_validation: outcome("closed_before_validation"),
        connection_lost: outcome("connection_lost"),
        settled,
      };
    }
    assert.ok(Date.now() < deadline, `${settled} of ${expected} outcomes, ${pending} pending`);
    await pause(100);
  }
}

const signed = (bytes: number) => `${bytes >= 0 ? "+" : ""}${mib(bytes)}`;
const figures = (m: Memory) => `heap ${mib(m.heap)}, RSS ${mib(m.rss)}`;

Deno.test("soak: 10,000 connections and 1,000 migrations, memory back near baseline", async () => {
  const server = await spawnServer(["--max-closed", String(MAX_CLOSED), "--log-format", "json"], {
    inspect: true,
  });
  let stopped = false;
  try {
    const started = performance.now();
    assert.deepEqual(await openAndClose(server, COLD, () => {}), []);
    const cold = await idleMemory(server);
    log(
      `after ${COLD} connections (cold): heap ${mib(cold.heap)}, RSS ${mib(cold.rss)}`,
    );
    assert.deepEqual(await openAndClose(server, WARM_UP, () => {}), []);
    const baseline = await idleMemory(server);
    log(`baseline, after ${COLD + WARM_UP} connections: ${figures(baseline)}`);

    let peakHeap = baseline.heap;
    const samples: Promise<void>[] = [];
    const soakStart = performance.now();
    const failures = await openAndClose(server, CONNECTIONS, (done) => {
      const seconds = (performance.now() - soakStart) / 1000;
      samples.push(
        readMemory(server).then((m) => {
          peakHeap = Math.max(peakHeap, m.heap);
          log(
            `${done} connections, ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)}/s); ` +
              `server heap ${mib(m.heap)}, RSS ${mib(m.rss)}`,
          );
        }),
      );
    });
    const soakSeconds = (performance.now() - soakStart) / 1000;
    await Promise.all(samples);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} connections failed`);
    const mid = await idleMemory(server);
    log(`after the ${CONNECTIONS} connections: ${figures(mid)}`);
    assert.ok(
      mid.heap <= baseline.heap + HEAP_TOLERANCE_CONNECTIONS,
      `heap ${mib(mid.heap)} after ${CONNECTIONS} connections is more than ` +
        `${mib(HEAP_TOLERANCE_CONNECTIONS)} above ${mib(baseline.heap)}`,
    );
    assert.ok(
      mid.rss <= baseline.rss + RSS_TOLERANCE,
      `RSS ${mib(mid.rss)} after ${CONNECTIONS} connections is more than ` +
        `${mib(RSS_TOLERANCE)} above ${mib(baseline.rss)}`,
    );

    const migrateStart = performance.now();
    const moved = await migrateUnderLoad(server, (heap) => peakHeap = Math.max(peakHeap, heap));
    const migrateSeconds = (performance.now() - migrateStart) / 1000;
    for (const [i, report] of moved.reports.entries()) {
      assert.equal(report.status, 200, `lab #${i}: ${JSON.stringify(report.body)}`);
      assert.equal(report.body.migrations.length, MOVES_EACH);
      const undetected = report.body.migrations.filter((m: { detected: boolean }) => !m.detected);
      assert.deepEqual(undetected, [], `lab #${i}: moves not detected`);
      assert.equal(report.body.conformance.survived, MOVES_EACH, `lab #${i} survived every move`);
    }
    assert.deepEqual(moved.failures.slice(0, 10), [], `${moved.failures.length} requests failed`);
    assert.ok(moved.ok > 0, "requests kept flowing during the moves");
    const moves = LAB_CONNECTIONS * MOVES_EACH;
    const outcomes = await settledOutcomes(server, moves);
    assert.deepEqual(outcomes, {
      detected: moves,
      validated: moves,
      reverted: 0,
      closed_before_validation: 0,
      connection_lost: 0,
      settled: moves,
    });
    log(
      `${moves} migrations in ${migrateSeconds.toFixed(1)} s, all detected and validated; ` +
        `${moved.ok} requests on the moving connections, none failed`,
    );

    const after = await idleMemory(server);
    const peakRss = (await procMemory(server.pid)).peakRss;
    const total = COLD + WARM_UP + CONNECTIONS + 2 * LAB_CONNECTIONS;
    const opened = sumOf(await server.metrics(), "quic_connections_total", 'protocol="h3"');
    assert.equal(opened, total, "every connection was counted");
    const closed = await server.getJson("/api/connections?state=closed&limit=1000") as {
      connections: Record<string, unknown>;
      summary: { closed: number };
    };
    assert.ok(closed.summary.closed <= MAX_CLOSED, `${closed.summary.closed} closed retained`);
    assert.ok(Object.keys(closed.connections).length <= MAX_CLOSED);

    const rate = (CONNECTIONS / soakSeconds).toFixed(0);
    const whole = ((performance.now() - started) / 1000).toFixed(1);
    log(
      `${CONNECTIONS} connections in ${soakSeconds.toFixed(1)} s (${rate}/s, ` +
        `${CONCURRENCY} at a time); ${total} in all; whole soak ${whole} s`,
    );
    log(`after: ${figures(after)}; closed connections retained ${closed.summary.closed}`);
    log(
      `heap: cold ${mib(cold.heap)}, baseline ${mib(baseline.heap)}, peak (sampled) ` +
        `${mib(peakHeap)}, after the connections ${mib(mid.heap)} ` +
        `(${signed(mid.heap - baseline.heap)}), after the migrations ${mib(after.heap)} ` +
        `(${signed(after.heap - baseline.heap)})`,
    );
    log(
      `RSS: cold ${mib(cold.rss)}, baseline ${mib(baseline.rss)}, peak (VmHWM) ` +
        `${mib(peakRss)}, after the connections ${mib(mid.rss)} ` +
        `(${signed(mid.rss - baseline.rss)}), after the migrations ${mib(after.rss)} ` +
        `(${signed(after.rss - baseline.rss)})`,
    );
    assert.ok(
      after.heap <= baseline.heap + HEAP_TOLERANCE,
      `heap ${mib(after.heap)} is more than ${mib(HEAP_TOLERANCE)} above ${mib(baseline.heap)}`,
    );
    assert.ok(
      after.rss <= baseline.rss + RSS_TOLERANCE,
      `RSS ${mib(after.rss)} is more than ${mib(RSS_TOLERANCE)} above ${mib(baseline.rss)}`,
    );
    stopped = true;
    assert.equal(await server.stop(), 0, "the server exits 0 on SIGTERM");
  } catch (error) {
    console.error(`soak: server output, last lines:\n${server.tail()}`);
    throw error;
  } finally {
    if (!stopped) await server.stop().catch(() => {});
  }
});
