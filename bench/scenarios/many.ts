/**
 * Scenario `many`: many connections. C `gtlsclient` processes run at once, each sending R GETs
 * on its own QUIC connection (C × R requests in all), to our server, to Caddy and to the
 * runtime ceiling in interleaved rounds, for `/api/test` and `/healthz`
 * (`support/h3_comparison.ts`). req/s = C × R / wall clock from spawning the first client to
 * the last one's exit. The clients run on the same cores as the server: their CPU time (from
 * the shell's `times`) and the server's (from /proc) are recorded for each run, so the reader
 * sees how much of the machine each side took.
 * @module
 */

import { childCpuSeconds } from "../support/client_output.ts";
import type { BenchEnv } from "../support/env.ts";
import { fmt, progress } from "../support/format.ts";
import { gtlsCommand } from "../support/gtls.ts";
import {
  compareOnPaths,
  comparisonData,
  comparisonMarkdown,
  comparisonRows,
  H3_TARGETS,
  type PathComparison,
  startH3Servers,
  stopH3Servers,
} from "../support/h3_comparison.ts";
import type { BenchOptions } from "../support/options.ts";
import { capture, cpuSeconds } from "../support/process.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { medianDetail, round } from "../support/stats.ts";

const RUN_LIMIT_MS = 180_000;

/** The shell script starting `conns` clients at once and printing their CPU time (`times`). */
export function manyScript(port: number, conns: number, requests: number, path: string): string {
  const client = gtlsCommand(port, requests, true, path).join(" ");
  return `i=0; while [ $i -lt ${conns} ]; do ` +
    `(${client} >/dev/null || echo "client exit $?" >&2) & i=$((i+1)); done; wait; times`;
}

/** Median wall-clock and CPU seconds per run of each server on one path, in prose. */
function cpuSummary(c: PathComparison): string {
  const s = (target: string, key: string, scale = 1) =>
    fmt(medianDetail(c.samples, target, key) / scale, 2);
  return `\`${c.path}\`: ` +
    H3_TARGETS.map((t) =>
      `${t} wall ${s(t, "ms", 1000)} s, clients ${s(t, "clientCpuS")} s, server ` +
      `${s(t, "serverCpuS")} s`
    ).join("; ");
}

/** Runs the many-connections comparison. */
export async function runMany(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const conns = options.quick ? 20 : 100;
  const requests = options.quick ? 20 : 50;
  const { rounds } = options;
  const errors: string[] = [];
  const servers = await startH3Servers(env, "many");
  try {
    progress(`many: ${conns} connections × ${requests} GETs at once`);
    const comparisons = await compareOnPaths(rounds, "req/s", async (target, path) => {
      const pid = servers.processes[target].pid;
      const cpuBefore = await cpuSeconds(pid);
      const start = performance.now();
      const run = await capture(
        ["sh", "-c", manyScript(servers.ports[target], conns, requests, path)],
        {},
        RUN_LIMIT_MS,
      );
      const ms = performance.now() - start;
      const serverCpu = (await cpuSeconds(pid)) - cpuBefore;
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`many ${target} ${path}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: Math.round((conns * requests) / (ms / 1000)),
        ok,
        detail: {
          ms: round(ms, 1),
          clientCpuS: round(childCpuSeconds(run.stdout), 2),
          serverCpuS: round(serverCpu, 2),
        },
      };
    });
    const cpuColumn = (key: string, header: string) => ({
      header,
      cell: (s: { detail?: Record<string, unknown> }) => fmt(s.detail?.[key] as number, 2),
    });
    return {
      name: "many",
      title: "Many connections (HTTP/3: ours, Caddy, runtime ceiling)",
      rows: comparisonRows(
        comparisons,
        (path) => `${conns} connections × ${requests} GETs ${path}`,
      ),
      markdown: [
        `${conns} \`gtlsclient -n ${requests}\` processes started at once (one QUIC connection ` +
        `each, ${fmt(conns * requests)} GETs per run), ${rounds} interleaved rounds (ours, ` +
        "Caddy, runtime ceiling) after one uncounted warm-up round, for each path. req/s = " +
        "all requests / wall clock from the first spawn to the last exit, so it includes each " +
        "client's process start and TLS handshake, the same for every server. The figures are " +
        "medians of per-round ratios.",
        "",
        "Client-side cost: the clients share the server's cores, so absolute req/s are a " +
        "floor; the ratios and the server CPU seconds per run are the comparison. Median " +
        "seconds per run: " + comparisons.map(cpuSummary).join(". ") + ".",
        "",
        ...comparisonMarkdown(comparisons, servers, [
          cpuColumn("clientCpuS", "client CPU s"),
          cpuColumn("serverCpuS", "server CPU s"),
        ]),
      ],
      commands: {
        ...servers.commands,
        clients: `sh -c '${manyScript(servers.ports.ours, conns, requests, "/api/test")}'`,
      },
      data: { conns, requests, rounds, paths: comparisonData(comparisons) },
      errors,
    };
  } finally {
    await stopH3Servers(env, servers);
  }
}
