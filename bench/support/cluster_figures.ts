/**
 * Pure helpers of the `cluster` scenario: what the orchestrator's summary says (ready, each
 * node's pid, Redis), one figure from a node's `/metrics` (Prometheus text), per-round
 * differences of an interleaved comparison and CPU time per event. Tested in
 * `cluster_bench_test.ts`; nothing here spawns a process or opens a socket.
 * @module
 */

import { fmt } from "./format.ts";
import type { Sample } from "./stats.ts";
import { round } from "./stats.ts";

/** The first line of `main.ts cluster`'s summary, printed once every part is up. */
export const CLUSTER_READY_LINE = "✅ Cluster ready:";

/** The summary's last line: once it is printed, every node's pid has been too. */
export const CLUSTER_SUMMARY_END = "Ctrl-C stops everything.";

/** What the orchestrator's summary says. */
export interface ClusterSummary {
  /** How many nodes the ready line counts (NaN without one). */
  nodeCount: number;
  /** Each node's name, URL and pid, in order. */
  nodes: Array<{ name: string; url: string; pid: number }>;
  /** The Redis the nodes share, when printed. */
  redisUrl?: string;
}

/** Reads the summary from the orchestrator's output lines (other lines are ignored). */
export function parseClusterSummary(lines: readonly string[]): ClusterSummary {
  let nodeCount = NaN;
  const nodes: ClusterSummary["nodes"] = [];
  let redisUrl: string | undefined;
  for (const line of lines) {
    const ready = line.match(/^✅ Cluster ready: (\d+) node\(s\) behind /);
    if (ready) nodeCount = Number(ready[1]);
    const node = line.match(/^ {3}(node\d+): (https:\/\/\S+) \(lab .*\) pid (\d+)$/);
    if (node) nodes.push({ name: node[1], url: node[2], pid: Number(node[3]) });
    const redis = line.match(/^ {3}Redis: (rediss?:\/\/\S+)/);
    if (redis) redisUrl = redis[1];
  }
  return { nodeCount, nodes, ...(redisUrl === undefined ? {} : { redisUrl }) };
}

/**
 * The sum of every sample of `name` in Prometheus text whose labels include all of `labels`
 * (`{}`: every sample of the family); NaN when there is none. Comments and other families are
 * skipped: `name` must match the whole metric name, so `x_total` does not match `x_total_y`.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const given = new Map(
      [...(m[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
        .map((l) => [l[1], l[2]]),
    );
    if (!Object.entries(labels).every(([key, value]) => given.get(key) === value)) continue;
    sum += Number(m[3]);
    found = true;
  }
  return found ? sum : NaN;
}

/** Per-round differences a − b over the rounds where both succeeded, rounded to `digits`. */
export function roundDifferences(samples: Sample[], a: string, b: string, digits = 1): number[] {
  const out: number[] = [];
  for (const x of samples) {
    if (x.target !== a || !x.ok) continue;
    const y = samples.find((s) => s.round === x.round && s.target === b);
    if (y?.ok) out.push(round(x.value - y.value, digits));
  }
  return out;
}

/** Microseconds of CPU per item: `cpuSeconds` / `count` × 10⁶ (NaN when `count` is not positive). */
export function microsPer(cpuSeconds: number, count: number): number {
  return count > 0 ? (cpuSeconds / count) * 1e6 : NaN;
}

/** A difference for people, with its sign: `+12.5`, `-3`, `0`, `n/a`. */
export function signed(n: number, digits = 1): string {
  return Number.isFinite(n) && round(n, digits) > 0 ? `+${fmt(n, digits)}` : fmt(n, digits);
}
