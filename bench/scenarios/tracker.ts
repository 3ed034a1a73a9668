/**
 * Scenario `tracker`: heap bytes per tracked connection, in-process
 * (`bench/tools/tracker_memory.ts` under `--v8-flags=--expose-gc`): a fresh
 * `ConnectionTracker`, N connections opened through its sans-IO API with fake addresses,
 * `heapUsed` after a full GC before and after.
 * @module
 */

import { capture } from "../support/process.ts";
import { fmt, progress, table } from "../support/format.ts";
import type { BenchOptions } from "../support/options.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { type BenchEnv, denoRun } from "../support/env.ts";

interface TrackerFigure {
  connections: number;
  bytesPerConnection: number;
  bytesPerConnectionWithOneMigration: number;
}

/** Runs the tracker-memory measurement. */
export async function runTracker(_env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const counts = options.quick ? [1000, 10_000] : [1000, 10_000, 100_000];
  const cmd = denoRun("bench/tools/tracker_memory.ts", ["--counts", counts.join(",")], [
    "--v8-flags=--expose-gc",
  ]);
  progress(`tracker: heap per tracked connection at ${counts.join(", ")}`);
  const out = await capture(cmd, {}, 120_000);
  const line = out.stdout.split("\n").find((l) => l.startsWith("result "));
  if (out.code !== 0 || line === undefined) {
    throw new Error(`tracker: exit ${out.code}: ${out.stderr.slice(0, 500)}`);
  }
  const figures = JSON.parse(line.slice("result ".length)) as TrackerFigure[];
  const worst = Math.max(...figures.map((f) => f.bytesPerConnection));
  const worstAt = figures.find((f) => f.bytesPerConnection === worst)?.connections ?? NaN;
  return {
    name: "tracker",
    title: "Tracker bytes per connection (in-process)",
    rows: [{
      scenario: `tracker heap per connection (${counts.map((n) => fmt(n)).join(" / ")} conns)`,
      ours: figures.map((f) => `${fmt(f.bytesPerConnection)} B`).join(" / "),
      peer: "—",
      ratio: "—",
      target: "≤ 1 KB/conn",
      met: worst <= 1024,
    }],
    markdown: [
      "`Deno.memoryUsage().heapUsed` after two full GCs, before and after opening N " +
      "connections in a fresh `ConnectionTracker` (fake IPv4 addresses and ports, each a new " +
      "string as a listener would produce; the benchmark's own array of them adds 8 B per " +
      "connection). The tracker keeps its last 1,000 events (each `connection_opened` with a " +
      "snapshot of the connection), a fixed cost that is spread over fewer connections at " +
      "1,000 than at 10,000, hence the difference. The second column adds one migration per " +
      "connection (a request from a new port: one event in its history, pending validation).",
      "",
      ...table(
        ["connections", "bytes/conn", "bytes/conn with one migration each"],
        figures.map((f) => [
          fmt(f.connections),
          fmt(f.bytesPerConnection),
          fmt(f.bytesPerConnectionWithOneMigration),
        ]),
      ),
      "",
      `Largest: ${fmt(worst)} B/conn (at ${fmt(worstAt)} ` +
      `connections) against the target of 1 KB.`,
    ],
    commands: { measure: cmd.join(" ") },
    data: { figures },
    errors: [],
  };
}
