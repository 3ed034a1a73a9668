/**
 * Scenario `one`: requests on one connection. ngtcp2's `gtlsclient` sends N GETs over one QUIC
 * connection to our server (`main.ts` as shipped), to Caddy and to the runtime ceiling, in
 * interleaved rounds, for `/api/test` and `/healthz` (`support/h3_comparison.ts`); req/s = N /
 * wall clock from spawning the client to its exit.
 * @module
 */

import type { BenchEnv } from "../support/env.ts";
import { fmt, progress } from "../support/format.ts";
import { gtlsCommand } from "../support/gtls.ts";
import {
  compareOnPaths,
  comparisonData,
  comparisonMarkdown,
  comparisonRows,
  startH3Servers,
  stopH3Servers,
} from "../support/h3_comparison.ts";
import type { BenchOptions } from "../support/options.ts";
import { timedRun } from "../support/process.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { round } from "../support/stats.ts";

const RUN_LIMIT_MS = 120_000;

/** Runs the one-connection comparison. */
export async function runOne(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const { rounds, requests } = options;
  const errors: string[] = [];
  const servers = await startH3Servers(env, "one");
  try {
    progress(`one: ${requests} GETs on one connection`);
    const comparisons = await compareOnPaths(rounds, "req/s", async (target, path) => {
      const cmd = gtlsCommand(servers.ports[target], requests, true, path);
      const run = await timedRun(cmd, RUN_LIMIT_MS);
      // gtlsclient exits 0 even on a handshake timeout: anything on stderr fails the run.
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`one ${target} ${path}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: Math.round(requests / (run.ms / 1000)),
        ok,
        detail: { ms: round(run.ms, 1), code: run.code },
      };
    });
    return {
      name: "one",
      title: "Requests on one connection (HTTP/3: ours, Caddy, runtime ceiling)",
      rows: comparisonRows(comparisons, (path) => `${fmt(requests)} GETs ${path} on 1 connection`),
      markdown: [
        `${fmt(requests)} GETs on one QUIC connection per run (\`gtlsclient -n ${requests}\`), ` +
        `${rounds} interleaved rounds (ours, Caddy, runtime ceiling) after one uncounted ` +
        "warm-up round, for each path. req/s = requests / wall clock from spawning gtlsclient " +
        "to its exit. Caddy answers a fixed 15-byte JSON on every path and the ceiling a fixed " +
        "17-byte JSON; ours answers `/healthz` with the same 15 bytes as Caddy and builds " +
        "`/api/test`'s JSON (what it observed about the connection) per request. The figures " +
        "are medians of per-round ratios.",
        "",
        ...comparisonMarkdown(comparisons, servers),
      ],
      commands: {
        ...servers.commands,
        client: gtlsCommand(servers.ports.ours, requests, true, "/api/test").join(" "),
      },
      data: { requests, rounds, paths: comparisonData(comparisons) },
      errors,
    };
  } finally {
    await stopH3Servers(env, servers);
  }
}
