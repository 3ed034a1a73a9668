/**
 * The second part of the `cluster` scenario: what writing each event to Redis costs in CPU.
 *
 * Measured in-process by `bench/tools/redis_sink_cost.ts`: a connection tracker making a fixed
 * number of connection cycles (open, one request, close: two events each) in paced batches,
 * with the Redis writing a node gets from `--redis` (`ClusterState`, to a redis-server started
 * here with the orchestrator's settings) or without it; the process's CPU time (all threads)
 * is read around the counted cycles, after a warm-up, until every event reached Redis. Each
 * run is a fresh process; interleaved rounds (without, with) after one uncounted warm-up
 * round. The figure is the median of the per-round differences per event: what `--redis` adds.
 *
 * Why not two whole nodes driven by real clients: a node's CPU per connection is dominated by
 * the TLS handshake and varies from run to run by far more than the few events of a connection
 * cost to write, so the difference between a node with and one without `--redis` changed sign
 * from round to round on a shared machine. Here the events are the whole workload.
 * @module
 */

import { type BenchEnv, denoRun } from "./env.ts";
import { fmt, progress, table } from "./format.ts";
import { capture } from "./process.ts";
import type { BenchOptions } from "./options.ts";
import type { SummaryRow } from "./scenario_result.ts";
import { interleave, median, medianDetail, round, type Sample } from "./stats.ts";
import { microsPer, roundDifferences, signed } from "./cluster_figures.ts";
import { startRedisServer } from "./cluster_env.ts";

/** Connection cycles started together (as clients arriving at once). */
const BATCH = 50;
/** Milliseconds between batches: more than the sink's write interval. */
const PACE_MS = 20;
/** Uncounted cycles at the start of each run (JIT, Redis connection, first writes). */
const WARMUP_CYCLES = 2000;
/** Upper bound of one run. */
const RUN_LIMIT_MS = 120_000;

/** What the scenario adds to its report. */
export interface RedisEventCost {
  rows: SummaryRow[];
  markdown: string[];
  commands: Record<string, string>;
  data: unknown;
  errors: string[];
}

/** What one run of the tool prints after `result `. */
export interface SinkCostRun {
  cpuS: number;
  ms: number;
  events: number;
  written: number;
  dropped: number;
  /** NaN (null in JSON) without Redis. */
  redisServerCpuS: number | null;
}

/** The tool's result line in `stdout`, or undefined when there is none. */
export function parseSinkCostRun(stdout: string): SinkCostRun | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith("result "));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line.slice("result ".length)) as SinkCostRun;
  } catch {
    return undefined;
  }
}

/** The tool's command line for one run (`redis`: the server's URL and pid, or none). */
export function sinkCostCommand(
  cycles: number,
  redis?: { url: string; pid: number },
): string[] {
  return denoRun("bench/tools/redis_sink_cost.ts", [
    ...["--cycles", String(cycles), "--warmup", String(WARMUP_CYCLES)],
    ...["--batch", String(BATCH), "--pace-ms", String(PACE_MS)],
    ...(redis ? ["--redis", redis.url, "--redis-pid", String(redis.pid)] : []),
  ]);
}

/** Runs the comparison; the redis-server it starts is stopped before it returns. */
export async function measureRedisEventCost(
  env: BenchEnv,
  options: BenchOptions,
): Promise<RedisEventCost> {
  const cycles = options.quick ? 2000 : 10_000;
  const { rounds } = options;
  const errors: string[] = [];
  progress("cluster: the Redis writes' cost: a redis-server, a tracker with and without them");
  const redis = await startRedisServer(env, `${env.tmp}/redis-cost/redis`);
  try {
    const commands = {
      plain: sinkCostCommand(cycles),
      redis: sinkCostCommand(cycles, { url: redis.url, pid: redis.process.pid }),
    };
    progress(`cluster: ${cycles} connection cycles per run (${BATCH} every ${PACE_MS} ms)`);
    const samples = await interleave(["plain", "redis"], rounds, async (target) => {
      const out = await capture(commands[target as "plain" | "redis"], {}, RUN_LIMIT_MS);
      const run = parseSinkCostRun(out.stdout);
      const wanted = target === "redis" ? 2 * cycles : 0;
      const ok = out.code === 0 && run !== undefined && run.events === 2 * cycles &&
        run.written === wanted && run.dropped === 0;
      if (!ok) {
        errors.push(
          `cluster redis cost ${target}: exit ${out.code}, ${JSON.stringify(run)} ` +
            out.stderr.slice(0, 300),
        );
      }
      return {
        value: round(microsPer(run?.cpuS ?? NaN, run?.events ?? 0), 2),
        ok,
        detail: {
          ms: round(run?.ms ?? NaN, 1),
          cpuS: round(run?.cpuS ?? NaN, 4),
          events: run?.events ?? 0,
          ...(target === "redis"
            ? {
              written: run?.written ?? 0,
              dropped: run?.dropped ?? 0,
              redisServerCpuS: run?.redisServerCpuS ?? NaN,
            }
            : {}),
        },
      };
    }, "µs CPU/event");
    return {
      ...report(samples, cycles, rounds),
      commands: {
        "without Redis": commands.plain.join(" "),
        "with Redis": commands.redis.join(" "),
        "redis-server": redis.command,
      },
      errors,
    };
  } finally {
    await env.stop(redis.process);
  }
}

/** The figures, rows and Markdown of the comparison. */
function report(
  samples: Sample[],
  cycles: number,
  rounds: number,
): Omit<RedisEventCost, "commands" | "errors"> {
  const ok = (target: string) => samples.filter((s) => s.target === target && s.ok);
  const perEvent = {
    plain: median(ok("plain").map((s) => s.value)),
    redis: median(ok("redis").map((s) => s.value)),
    redisServer: median(
      ok("redis").map((s) =>
        microsPer(s.detail?.redisServerCpuS as number, s.detail?.events as number)
      ),
    ),
  };
  const diffs = roundDifferences(samples, "redis", "plain", 2);
  const extra = median(diffs);
  const spread = diffs.length > 0 ? [Math.min(...diffs), Math.max(...diffs)] : [NaN, NaN];
  const us = (n: number) => `${fmt(n, 1)} µs`;
  return {
    rows: [{
      scenario: "Redis writes: CPU per event, with --redis vs without (µs)",
      ours: us(perEvent.redis),
      peer: `without ${us(perEvent.plain)}`,
      ratio: `${signed(extra)} µs/event`,
      target: "—",
      met: null,
    }],
    markdown: [
      "### The Redis writes' CPU per event",
      "",
      "A connection tracker in a process of its own (`bench/tools/redis_sink_cost.ts`: no " +
      "sockets, fake addresses) makes " +
      `${fmt(cycles)} connection cycles per run (open, one request, close: two events each), ` +
      `${BATCH} every ${PACE_MS} ms as clients arriving at a node, after ` +
      `${fmt(WARMUP_CYCLES)} uncounted ones; with Redis, the process writes them as a node ` +
      "with `--redis` does (the same `ClusterState`: events and connection records, in " +
      "batches, to a redis-server started here with the orchestrator's settings, append-only " +
      "file on) and the run ends when every event reached Redis. The process's CPU time " +
      "(`getrusage`, all threads) is read around the counted cycles. A fresh process per run; " +
      `${rounds} interleaved rounds (without, with) after one uncounted warm-up round. A ` +
      "node's CPU per connection is dominated by the TLS handshake and varies from run to run " +
      "by more than a connection's events cost to write, so two whole nodes could not resolve " +
      "this difference; here the events are the whole workload.",
      "",
      `**CPU per event: with Redis ${us(perEvent.redis)}, without ${us(perEvent.plain)}; ` +
      `median of the per-round differences: ${signed(extra)} µs per event (rounds from ` +
      `${signed(spread[0])} to ${signed(spread[1])}). redis-server's own CPU: ` +
      `${us(perEvent.redisServer)} per event (10 ms ticks).**`,
      "",
      ...table(
        ["round", "Redis", "ms", "events", "CPU s", "µs CPU/event", "redis-server CPU s", "result"],
        samples.map((s) => [
          s.round,
          s.target === "redis" ? "with" : "without",
          fmt(s.detail?.ms as number, 1),
          fmt(s.detail?.events as number),
          fmt(s.detail?.cpuS as number, 3),
          fmt(s.value, 2),
          s.target === "redis" ? fmt(s.detail?.redisServerCpuS as number, 2) : "—",
          s.ok ? "ok" : "FAILED",
        ]),
      ),
      "",
      `Per-round differences with − without Redis (µs CPU per event): ${diffs.join(", ")}`,
      "",
      `Median seconds of CPU per run: with Redis ${
        fmt(medianDetail(samples, "redis", "cpuS"), 3)
      }, without ${fmt(medianDetail(samples, "plain", "cpuS"), 3)}.`,
      "",
    ],
    data: { cycles, batch: BATCH, paceMs: PACE_MS, rounds, samples, perEvent, diffs, extra },
  };
}
