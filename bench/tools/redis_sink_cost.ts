/**
 * The CPU one process spends per tracker event, with or without a node's Redis writing wired
 * exactly as `--redis` wires it (`ClusterState`: the sink, the directory and the live reader on
 * their own connections). Sans-IO tracker: fake addresses, no sockets besides Redis.
 *
 * A run makes `--warmup` connection cycles (uncounted), waits until nothing is queued for
 * Redis, then `--cycles` cycles in batches of `--batch` (each cycle: open, one request, close,
 * so two events), one batch every `--pace-ms` as clients arrive at a node (the sink writes
 * every 20 ms, so batches are written apart, not in one script call), and waits again until
 * every event reached Redis. The process's CPU time (`getrusage`, all threads) is read around
 * the counted part only, and, with `--redis-pid`, redis-server's (`/proc`, 10 ms ticks). Prints
 * one line `result <JSON>`.
 *
 * ```sh
 * deno run -A bench/tools/redis_sink_cost.ts --cycles 5000 --redis redis://127.0.0.1:6379 \
 *   --redis-pid 1234
 * ```
 * @module
 */

import process from "node:process";
import { ConnectionTracker, type TrackedConnection } from "../../lib/tracker/tracker.ts";
import { ClusterState } from "../../lib/cluster/cluster_state.ts";
import { flag, intFlag, sleep } from "./args.ts";
import { parseProcStat } from "../support/proc_stat.ts";

/** How long the events of a run may take to reach Redis after its last batch. */
const SETTLE_MS = 20_000;
/** Kernel clock ticks per second (utime and stime in /proc are in these). */
const TICKS_PER_S = 100;

const args = Deno.args;
const redisUrl = args.includes("--redis") ? flag(args, "redis") : undefined;
const redisPid = args.includes("--redis-pid") ? intFlag(args, "redis-pid") : undefined;
const cycles = intFlag(args, "cycles", 5000);
const warmup = intFlag(args, "warmup", 1000);
const batch = Math.max(1, intFlag(args, "batch", 50));
const paceMs = intFlag(args, "pace-ms", 20);

const tracker = new ConnectionTracker();
let events = 0;
tracker.subscribe(() => events++);
const cluster = redisUrl === undefined ? undefined : new ClusterState(tracker, {
  redisUrl,
  warn: (line) => console.error(line),
});

/** Fake client address number `i`, distinct hosts and ports, as a listener would see them. */
function addr(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${40_000 + (i % 20_000)}`;
}

/** `n` connection cycles, `batch` at a time, one batch every `paceMs`. */
async function runCycles(n: number, first: number): Promise<void> {
  for (let done = 0; done < n; done += batch) {
    const conns: TrackedConnection[] = [];
    for (let i = done; i < Math.min(n, done + batch); i++) {
      const conn = tracker.open("h3", addr(first + i), "127.0.0.1:9443", "localhost");
      tracker.request(conn, conn.remoteAddr);
      conns.push(conn);
    }
    for (const conn of conns) tracker.close(conn, "closed by the client", "normal");
    await sleep(paceMs);
  }
}

/** Resolves once nothing is queued for Redis (at once without Redis); throws after SETTLE_MS. */
async function settled(): Promise<void> {
  if (cluster === undefined) return;
  const deadline = performance.now() + SETTLE_MS;
  for (let attempt = 0; attempt < SETTLE_MS; attempt++) {
    if (cluster.sink.stats.queued === 0) return;
    if (performance.now() > deadline) break;
    await sleep(1);
  }
  throw new Error(`${cluster.sink.stats.queued} event(s) still queued after ${SETTLE_MS} ms`);
}

/** redis-server's CPU seconds so far, or NaN without `--redis-pid`. */
async function redisCpuSeconds(): Promise<number> {
  if (redisPid === undefined) return NaN;
  const stat = parseProcStat(await Deno.readTextFile(`/proc/${redisPid}/stat`));
  return stat === undefined ? NaN : stat.cpuTicks / TICKS_PER_S;
}

try {
  if (cluster !== undefined) {
    const state = await cluster.start("bench-node");
    if (state !== "ok") throw new Error(`Redis at ${redisUrl} is not reachable (${state})`);
  }
  await runCycles(warmup, 0);
  await settled();
  const before = { events, stats: cluster?.sink.stats, redis: await redisCpuSeconds() };
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await runCycles(cycles, warmup);
  await settled();
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - start;
  const after = { stats: cluster?.sink.stats, redis: await redisCpuSeconds() };
  const result = {
    cpuS: (cpu.user + cpu.system) / 1e6,
    ms,
    events: events - before.events,
    written: (after.stats?.written ?? 0) - (before.stats?.written ?? 0),
    dropped: (after.stats?.dropped ?? 0) - (before.stats?.dropped ?? 0),
    redisServerCpuS: after.redis - before.redis,
  };
  console.log(`result ${JSON.stringify(result)}`);
} finally {
  await cluster?.close();
}
