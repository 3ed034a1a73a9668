/**
 * The HTTP/3 comparison the `one` and `many` scenarios share. Three servers, each on its own
 * loopback port: ours (`main.ts` as shipped), Caddy answering a fixed 15-byte JSON on every
 * path, and the runtime ceiling (`CEILING_PROBE`: no parsing, one fixed response, the fastest
 * an HTTP/3 responder on Deno can be). For each path, rounds of one run per server (ours,
 * Caddy, ceiling, ours, …) after one uncounted warm-up round; the figures are the medians of
 * the per-round ratios ours/Caddy and ours/ceiling, so both come from the same run.
 * @module
 */

import { type BenchEnv, BODY } from "./env.ts";
import { fmt, progress, table } from "./format.ts";
import { checkResponses } from "./gtls.ts";
import type { ServerProcess } from "./process.ts";
import type { SummaryRow } from "./scenario_result.ts";
import {
  interleave,
  median,
  type MedianInterval,
  medianInterval,
  medianOf,
  roundRatios,
  type Sample,
} from "./stats.ts";

/** The servers compared, in the order each round runs them. */
export const H3_TARGETS = ["ours", "caddy", "ceiling"] as const;

/** One of the servers compared. */
export type H3Target = typeof H3_TARGETS[number];

/** The paths compared: the route users call, then the liveness route. */
export const H3_PATHS = ["/api/test", "/healthz"] as const;

/** A substring every checked response of `target` on `path` carries in its body. */
function expectedBody(target: H3Target, path: string): string {
  // Caddy answers BODY on every path; the ceiling always `{"protocol":"h3"}`; ours builds
  // /api/test's JSON per request, with the protocol in it.
  if (target === "caddy" || (target === "ours" && path === "/healthz")) return BODY;
  return '"protocol":"h3"';
}

/** The three servers, running. */
export interface H3Servers {
  /** UDP port of each. */
  ports: Record<H3Target, number>;
  /** The processes (for /proc readings). */
  processes: Record<H3Target, ServerProcess>;
  /** Their command lines, for the record. */
  commands: Record<H3Target, string>;
  /** The first checked response's fields, per `<target> <path>`. */
  responseFields: Record<string, string[]>;
}

/**
 * Starts ours, Caddy and the ceiling, then checks that each answers every path as expected;
 * throws (naming the server and path) if one does not. Processes already started are stopped
 * by the task if this throws.
 */
export async function startH3Servers(env: BenchEnv, scenario: string): Promise<H3Servers> {
  const ports = { ours: env.port(), caddy: env.port(), ceiling: env.port() };
  const labPort = env.port();
  progress(`${scenario}: starting our server, Caddy and the runtime ceiling`);
  const processes = {
    ours: await env.startOurs(ports.ours, labPort),
    caddy: await env.startCaddy(ports.caddy),
    ceiling: await env.startCeiling(ports.ceiling),
  };
  const servers: H3Servers = {
    ports,
    processes,
    commands: {
      ours: env.ourServerCommand(ports.ours, labPort).join(" "),
      caddy: env.caddyCommand().join(" "),
      ceiling: env.ceilingCommand(ports.ceiling).join(" "),
    },
    responseFields: {},
  };
  for (const target of H3_TARGETS) {
    for (const path of H3_PATHS) {
      const check = await checkResponses(ports[target], path, expectedBody(target, path));
      servers.responseFields[`${target} ${path}`] = check.fields;
      if (check.error) throw new Error(`${scenario}: ${target}: ${check.error}`);
    }
  }
  return servers;
}

/** Stops the three servers. */
export async function stopH3Servers(env: BenchEnv, servers: H3Servers): Promise<void> {
  await Promise.all(Object.values(servers.processes).map((p) => env.stop(p)));
}

/** The comparison on one path. */
export interface PathComparison {
  /** The path every GET asked for. */
  path: string;
  /** Every counted run (the warm-up round is left out). */
  samples: Sample[];
  /** Per-round ratios of ours to each peer, over the rounds where both succeeded. */
  ratios: { caddy: number[]; ceiling: number[] };
  /** Median figure of each server. */
  median: Record<H3Target, number>;
  /** Median of the per-round ratios. */
  medianRatio: { caddy: number; ceiling: number };
  /** A 95 % interval of that median (undefined with too few rounds). */
  ratioInterval: { caddy?: MedianInterval; ceiling?: MedianInterval };
}

/** One timed run of `target` on `path`: the figure (higher is better), success and details. */
export type MeasureRun = (
  target: H3Target,
  path: string,
) => Promise<Omit<Sample, "round" | "target">>;

/** Runs the interleaved rounds on each path in turn. */
export async function compareOnPaths(
  rounds: number,
  unit: string,
  measure: MeasureRun,
): Promise<PathComparison[]> {
  const comparisons: PathComparison[] = [];
  for (const path of H3_PATHS) {
    progress(`  GET ${path}: ${rounds} rounds of ${H3_TARGETS.join(", ")}`);
    const samples = await interleave(
      H3_TARGETS,
      rounds,
      (target) => measure(target as H3Target, path),
      unit,
    );
    const ratios = {
      caddy: roundRatios(samples, "ours", "caddy"),
      ceiling: roundRatios(samples, "ours", "ceiling"),
    };
    comparisons.push({
      path,
      samples,
      ratios,
      median: {
        ours: medianOf(samples, "ours"),
        caddy: medianOf(samples, "caddy"),
        ceiling: medianOf(samples, "ceiling"),
      },
      medianRatio: { caddy: median(ratios.caddy), ceiling: median(ratios.ceiling) },
      ratioInterval: {
        caddy: medianInterval(ratios.caddy),
        ceiling: medianInterval(ratios.ceiling),
      },
    });
  }
  return comparisons;
}

/** Two summary rows per path: ours against Caddy (target ≥ 1.0×) and against the ceiling. */
export function comparisonRows(
  comparisons: PathComparison[],
  describe: (path: string) => string,
): SummaryRow[] {
  return comparisons.flatMap((c) => [
    {
      scenario: `${describe(c.path)}, ours vs Caddy (req/s)`,
      ours: fmt(c.median.ours),
      peer: `Caddy ${fmt(c.median.caddy)}`,
      ratio: withInterval(c.medianRatio.caddy, c.ratioInterval.caddy),
      target: "≥ 1.0× Caddy",
      met: Number.isFinite(c.medianRatio.caddy) ? c.medianRatio.caddy >= 1 : null,
    },
    {
      scenario: `${describe(c.path)}, ours vs runtime ceiling (req/s)`,
      ours: fmt(c.median.ours),
      peer: `ceiling ${fmt(c.median.ceiling)}`,
      ratio: withInterval(c.medianRatio.ceiling, c.ratioInterval.ceiling),
      target: "—",
      met: null,
    },
  ]);
}

/** A column of the per-run table beyond round, server, ms, req/s and result. */
export interface ExtraColumn {
  /** Its header. */
  header: string;
  /** Its cell for one run. */
  cell: (sample: Sample) => string;
}

/** Per path: the medians, every run, and the per-round ratios; then the response fields. */
export function comparisonMarkdown(
  comparisons: PathComparison[],
  servers: H3Servers,
  extra: ExtraColumn[] = [],
): string[] {
  const lines: string[] = [];
  for (const c of comparisons) {
    lines.push(
      `### GET ${c.path}`,
      "",
      `**Medians: ours ${fmt(c.median.ours)} req/s, Caddy ${fmt(c.median.caddy)} req/s, ` +
        `runtime ceiling ${fmt(c.median.ceiling)} req/s. Medians of the per-round ratios: ` +
        `ours/Caddy ${fmt(c.medianRatio.caddy, 3)}, ours/ceiling ` +
        `${fmt(c.medianRatio.ceiling, 3)}.**` + intervalSentence(c),
      "",
      ...table(
        ["round", "server", "ms", "req/s", ...extra.map((e) => e.header), "result"],
        c.samples.map((s) => [
          s.round,
          s.target,
          fmt(s.detail?.ms as number, 1),
          fmt(s.value),
          ...extra.map((e) => e.cell(s)),
          s.ok ? "ok" : "FAILED",
        ]),
      ),
      "",
      `Per-round ratios ours/Caddy: ${c.ratios.caddy.join(", ")}`,
      "",
      `Per-round ratios ours/ceiling: ${c.ratios.ceiling.join(", ")}`,
      "",
    );
  }
  lines.push("First response's fields in the checked run before timing:", "");
  for (const [key, fields] of Object.entries(servers.responseFields)) {
    lines.push(`- ${key}: ${fields.join("; ")}`);
  }
  return lines;
}

/** The figures for the JSON, per path. */
export function comparisonData(comparisons: PathComparison[]): Record<string, unknown> {
  return Object.fromEntries(comparisons.map((c) => [c.path, { ...c, path: undefined }]));
}

/** A median ratio with its interval, as the summary shows it: `0.99 (0.91–1.07)`. */
export function withInterval(ratio: number, interval: MedianInterval | undefined): string {
  const median = fmt(ratio, 2);
  return interval === undefined
    ? median
    : `${median} (${fmt(interval.low, 2)}–${fmt(interval.high, 2)})`;
}

/**
 * The intervals in words, each with its own coverage: a failed run leaves one peer's ratios
 * fewer than the other's, and so a different coverage.
 */
function intervalSentence(c: PathComparison): string {
  const { caddy, ceiling } = c.ratioInterval;
  if (caddy === undefined || ceiling === undefined) return "";
  const within = (i: MedianInterval) =>
    `${fmt(i.low, 3)}–${fmt(i.high, 3)} (${fmt(i.confidence * 100, 1)} % confidence)`;
  return ` The median ours/Caddy lies within ${within(caddy)}, ours/ceiling within ` +
    `${within(ceiling)}: order statistics of the per-round ratios.`;
}
