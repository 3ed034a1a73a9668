/**
 * The second part of the `cluster` scenario: what writing each event to Redis costs a node in
 * CPU. Two nodes started the same way (`main.ts` on 127.0.0.1, the bench's certificate, their
 * own data dirs, the same node id) except that one has `--redis` (a redis-server started here
 * with the orchestrator's settings) and the other has not. Each run makes a fixed number of
 * connection cycles (a `gtlsclient` process opens a connection, GETs `/api/test` once and
 * closes it; each cycle makes at least an opened and a closed event), waits until the node has
 * no HTTP/3 connection open and, with Redis, nothing queued, and reads the node's CPU time
 * (`/proc/<pid>/stat`) before and after. Events are counted by the Redis node's own
 * `cluster_events_written_total`; the node without Redis makes the same events but writes none,
 * so both are divided by that count. Interleaved rounds, one uncounted warm-up.
 * @module
 */

import type { BenchEnv } from "./env.ts";
import { fmt, progress, table } from "./format.ts";
import { capture, cpuSeconds, type ServerProcess, sleep } from "./process.ts";
import type { BenchOptions } from "./options.ts";
import type { SummaryRow } from "./scenario_result.ts";
import { interleave, median, medianDetail, round, type Sample } from "./stats.ts";
import { metricValue, microsPer, roundDifferences, signed } from "./cluster_figures.ts";
import { MetricsReader, startNode, startRedisServer } from "./cluster_env.ts";
import { manyScript } from "../scenarios/many.ts";

/** Clients started at once per batch of cycles. */
const BATCH = 50;
/** How long a node may take, after the last client exited, to have nothing open or queued. */
const SETTLE_MS = 20_000;

/** The counters a run reads before and after. */
interface Counters {
  connections: number;
  written: number;
  dropped: number;
  open: number;
  queued: number;
}

function counters(text: string): Counters {
  const h3 = { protocol: "h3" };
  return {
    connections: metricValue(text, "quic_connections_total", h3),
    written: metricValue(text, "cluster_events_written_total"),
    dropped: metricValue(text, "cluster_events_dropped_total"),
    open: metricValue(text, "quic_connections_open", h3),
    queued: metricValue(text, "cluster_events_queued"),
  };
}

/** What the scenario adds to its report. */
export interface RedisEventCost {
  rows: SummaryRow[];
  markdown: string[];
  commands: Record<string, string>;
  data: unknown;
  errors: string[];
}

/** A node under test. */
interface CostNode {
  process: ServerProcess;
  port: number;
  command: string;
}

/**
 * Waits (bounded) until `node` has no HTTP/3 connection open and, with Redis, no event queued;
 * returns its counters then.
 */
async function settled(reader: MetricsReader, node: CostNode, redis: boolean): Promise<Counters> {
  const deadline = performance.now() + SETTLE_MS;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const now = counters(await reader.read(`https://127.0.0.1:${node.port}`));
    if (now.open === 0 && (!redis || now.queued === 0)) return now;
    if (performance.now() > deadline) {
      throw new Error(
        `${node.process.name}: ${now.open} open, ${now.queued} queued after ${SETTLE_MS} ms`,
      );
    }
    await sleep(100);
  }
  throw new Error(`${node.process.name}: not settled`);
}

/** Runs the Redis-cost comparison; its processes are stopped before it returns. */
export async function measureRedisEventCost(
  env: BenchEnv,
  options: BenchOptions,
): Promise<RedisEventCost> {
  const cycles = options.quick ? 100 : 500;
  const { rounds } = options;
  const errors: string[] = [];
  progress("cluster: the Redis writes' cost: a redis-server, a node with --redis, one without");
  const redis = await startRedisServer(env, `${env.tmp}/redis-cost/redis`);
  const started: ServerProcess[] = [redis.process];
  const reader = await MetricsReader.create(`${env.certDir}/ca.pem`);
  try {
    const plain = await startNode(env, "node without Redis", `${env.tmp}/redis-cost/plain`, []);
    started.push(plain.process);
    const withRedis = await startNode(env, "node with Redis", `${env.tmp}/redis-cost/redis-node`, [
      "--redis",
      redis.url,
    ]);
    started.push(withRedis.process);
    const nodes: Record<string, CostNode> = { plain, redis: withRedis };
    const up = metricValue(
      await reader.read(`https://127.0.0.1:${withRedis.port}`),
      "cluster_redis_up",
    );
    if (up !== 1) throw new Error(`cluster: the node with --redis reports cluster_redis_up ${up}`);

    progress(`cluster: ${cycles} connection cycles per run (${BATCH} clients at once)`);
    const samples = await interleave(["plain", "redis"], rounds, async (target) => {
      const node = nodes[target];
      const isRedis = target === "redis";
      const before = await settled(reader, node, isRedis);
      const cpu0 = await cpuSeconds(node.process.pid);
      const redisCpu0 = await cpuSeconds(redis.process.pid);
      const start = performance.now();
      let failures = "";
      for (let done = 0; done < cycles; done += BATCH) {
        const n = Math.min(BATCH, cycles - done);
        const run = await capture(["sh", "-c", manyScript(node.port, n, 1, "/api/test")]);
        if (run.code !== 0 || run.stderr.trim() !== "") {
          failures ||= `exit ${run.code} ${run.stderr.slice(0, 300)}`;
        }
      }
      const ms = performance.now() - start;
      const after = await settled(reader, node, isRedis);
      const cpuS = (await cpuSeconds(node.process.pid)) - cpu0;
      const redisCpuS = (await cpuSeconds(redis.process.pid)) - redisCpu0;
      const connections = after.connections - before.connections;
      const ok = failures === "" && connections >= cycles;
      if (!ok) {
        errors.push(`cluster redis cost ${target}: ${failures || `${connections} connections`}`);
      }
      return {
        value: round(microsPer(cpuS, connections), 1),
        ok,
        detail: {
          ms: round(ms, 1),
          cpuS: round(cpuS, 3),
          connections,
          ...(isRedis
            ? {
              events: after.written - before.written,
              dropped: after.dropped - before.dropped,
              redisServerCpuS: round(redisCpuS, 3),
            }
            : {}),
        },
      };
    }, "µs CPU/conn");
    return report(
      samples,
      cycles,
      rounds,
      { plain, withRedis, redisCommand: redis.command },
      errors,
    );
  } finally {
    reader.close();
    for (const proc of started.reverse()) await env.stop(proc);
  }
}

/** The figures, rows and Markdown of the comparison. */
function report(
  samples: Sample[],
  cycles: number,
  rounds: number,
  procs: { plain: CostNode; withRedis: CostNode; redisCommand: string },
  errors: string[],
): RedisEventCost {
  const ok = (target: string) => samples.filter((s) => s.target === target && s.ok);
  const perConn = {
    plain: median(ok("plain").map((s) => s.value)),
    redis: median(ok("redis").map((s) => s.value)),
  };
  const eventsPerConn = median(
    ok("redis").map((s) => (s.detail?.events as number) / (s.detail?.connections as number)),
  );
  const diffs = roundDifferences(samples, "redis", "plain");
  const perEvent = {
    plain: perConn.plain / eventsPerConn,
    redis: perConn.redis / eventsPerConn,
    extra: median(diffs) / eventsPerConn,
    redisServer: median(
      ok("redis").map((s) =>
        microsPer(s.detail?.redisServerCpuS as number, s.detail?.events as number)
      ),
    ),
  };
  // One tick of one reading, spread over the events of one run.
  const resolution = microsPer(0.01, cycles * eventsPerConn);
  const dropped = ok("redis").reduce((sum, s) => sum + (s.detail?.dropped as number), 0);
  const us = (n: number) => `${fmt(n, 1)} µs`;
  return {
    rows: [{
      scenario: "Redis writes: node CPU per event, with --redis vs without (µs)",
      ours: us(perEvent.redis),
      peer: `without ${us(perEvent.plain)}`,
      ratio: `${signed(perEvent.extra)} µs/event`,
      target: "—",
      met: null,
    }],
    markdown: [
      "### The Redis writes' CPU per event",
      "",
      `Two nodes, the same but for \`--redis\` (a redis-server started here with the ` +
      "orchestrator's settings: append-only file on). Each run: " +
      `${fmt(cycles)} connection cycles (\`gtlsclient -n 1\`, ${BATCH} at once: open, GET ` +
      "`/api/test`, close), then a wait until the node has no HTTP/3 connection open and " +
      "nothing queued for Redis; the node's CPU time (`/proc/<pid>/stat` utime + stime, " +
      `10 ms ticks) is read before and after. ${rounds} interleaved rounds after one ` +
      "uncounted warm-up. Events are counted by the Redis node's " +
      "`cluster_events_written_total`; the node without Redis makes the same events without " +
      "writing them, so both CPU figures are divided by the same events per connection. The " +
      "node's CPU includes everything else a connection costs (handshake, request, tracking, " +
      "its log line), the same on both: the difference is what Redis adds. It includes the " +
      "record writes that follow each connection, except those still pending when the " +
      "reading is taken (they fall into the next run of that node).",
      "",
      `**Events per connection: ${fmt(eventsPerConn, 2)}. Node CPU per event: with Redis ` +
      `${us(perEvent.redis)}, without ${us(perEvent.plain)}; median of the per-round ` +
      `differences: ${signed(perEvent.extra)} µs per event (${signed(median(diffs))} µs per ` +
      `connection). One reading's resolution (a 10 ms tick) is ${us(resolution)} per event. ` +
      `redis-server's own CPU: ${us(perEvent.redisServer)} per event. Events dropped: ` +
      `${fmt(dropped)}.**`,
      "",
      ...table(
        [
          "round",
          "node",
          "ms",
          "connections",
          "node CPU s",
          "µs CPU/conn",
          "events",
          "redis-server CPU s",
          "result",
        ],
        samples.map((s) => [
          s.round,
          s.target,
          fmt(s.detail?.ms as number, 1),
          fmt(s.detail?.connections as number),
          fmt(s.detail?.cpuS as number, 3),
          fmt(s.value, 1),
          s.target === "redis" ? fmt(s.detail?.events as number) : "—",
          s.target === "redis" ? fmt(s.detail?.redisServerCpuS as number, 3) : "—",
          s.ok ? "ok" : "FAILED",
        ]),
      ),
      "",
      `Per-round differences with − without Redis (µs CPU per connection): ${diffs.join(", ")}`,
      "",
      `Median seconds of node CPU per run: with Redis ${
        fmt(medianDetail(samples, "redis", "cpuS"), 3)
      }, ` +
      `without ${fmt(medianDetail(samples, "plain", "cpuS"), 3)}.`,
      "",
    ],
    commands: {
      "node without Redis": procs.plain.command,
      "node with Redis": procs.withRedis.command,
      "redis-server": procs.redisCommand,
    },
    data: {
      cycles,
      batch: BATCH,
      rounds,
      samples,
      perConn,
      eventsPerConn,
      perEvent,
      diffs,
      dropped,
    },
    errors,
  };
}
