/**
 * The benchmark task (`deno task bench`). First runs the in-process `Deno.bench` files in
 * `bench/micro/`, then the scenarios, each in its own file:
 *
 * - `one` (`scenarios/one.ts`): 20,000 GETs of `/api/test`, then of `/healthz`, on one HTTP/3
 *   connection: ours vs Caddy vs the runtime ceiling (`support/h3_comparison.ts`);
 * - `many` (`scenarios/many.ts`): 100 connections × 50 GETs at once, the same three servers;
 * - `bulk` (`scenarios/bulk.ts`): a 100 MiB download, ours vs Caddy over HTTP/3 and vs a bare
 *   `Deno.serve` over TCP (the runtime's ceiling);
 * - `tcp` (`scenarios/tcp.ts`): h2load against our TCP listener and a bare `Deno.serve`;
 * - `migration` (`scenarios/migration.ts`): detection delay and failed requests over 1,000 lab
 *   rebindings with 1,000 connections open;
 * - `idle` (`scenarios/idle.ts`): RSS per idle connection at 1,000 and 10,000, and the migration
 *   watcher's CPU share at 1,000;
 * - `tracker` (`scenarios/tracker.ts`): tracker bytes per connection, in-process;
 * - `cluster` (`scenarios/cluster.ts`): 100 connections × 50 GETs against one node vs a cluster
 *   started by `main.ts cluster` (through its balancer), and the node CPU each event's Redis
 *   write costs.
 *
 * Comparisons are interleaved (A B C A B C …, one uncounted warm-up round, then `--rounds`
 * rounds) and reported as medians of per-round ratios. Everything listens on 127.0.0.1 only
 * (except the ceiling probe, which takes only a port and binds every address); every process is
 * stopped at the end of its scenario, on failure and on Ctrl-C. Writes
 * `bench/results/<YYYY-MM-DD>.md` and `.json` (or `--out NAME`'s) with machine paths redacted,
 * and exits non-zero if any run failed. `--help` lists the options.
 * @module
 */

import { ensureCommand } from "./support/process.ts";
import {
  type BenchOptions,
  parseOptions,
  type ScenarioName,
  SCENARIOS,
  USAGE,
} from "./support/options.ts";
import { errorText, progress } from "./support/format.ts";
import type { ScenarioResult } from "./support/scenario_result.ts";
import { BenchEnv, ceilingProbeMissing, ROOT } from "./support/env.ts";
import {
  type BenchReport,
  earlierDenoBench,
  earlierScenarios,
  machineInfo,
  previousOneConnection,
  renderMarkdown,
  summaryTable,
  versionInfo,
} from "./support/report.ts";
import { runOne } from "./scenarios/one.ts";
import { runMany } from "./scenarios/many.ts";
import { runBulk } from "./scenarios/bulk.ts";
import { runTcp } from "./scenarios/tcp.ts";
import { runMigration } from "./scenarios/migration.ts";
import { runIdle } from "./scenarios/idle.ts";
import { runTracker } from "./scenarios/tracker.ts";
import { runCluster } from "./scenarios/cluster.ts";

type Runner = (env: BenchEnv, options: BenchOptions) => Promise<ScenarioResult>;

const RUNNERS: Record<ScenarioName, Runner> = {
  one: runOne,
  many: runMany,
  bulk: runBulk,
  tcp: runTcp,
  migration: runMigration,
  idle: runIdle,
  tracker: runTracker,
  cluster: runCluster,
};

/** Which tools each scenario needs: command and Debian package. */
const TOOLS: Record<ScenarioName, [string, string][]> = {
  one: [["gtlsclient", "ngtcp2-client"], ["caddy", "caddy"]],
  many: [["gtlsclient", "ngtcp2-client"], ["caddy", "caddy"]],
  bulk: [["gtlsclient", "ngtcp2-client"], ["caddy", "caddy"], ["curl", "curl"]],
  tcp: [["h2load", "nghttp2-client"]],
  migration: [],
  idle: [],
  tracker: [],
  cluster: [["gtlsclient", "ngtcp2-client"], ["nginx", "nginx"], ["redis-server", "redis-server"]],
};

/** Runs `deno bench` in a subprocess, echoing and capturing what it prints. */
async function runDenoBench(): Promise<{ code: number; output: string }> {
  progress("deno bench --allow-all bench/micro/");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "bench/micro/"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(600_000),
  }).spawn();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      output += new TextDecoder().decode(chunk);
      Deno.stderr.writeSync(chunk);
    }
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  return { code: status.code, output };
}

async function main(): Promise<number> {
  if (Deno.args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  let options: BenchOptions;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`error: ${errorText(error)}\n${USAGE}`);
    return 2;
  }
  if (options.only.includes("one") || options.only.includes("many")) {
    const missing = await ceilingProbeMissing();
    if (missing) {
      console.error(`error: ${missing}`);
      return 2;
    }
  }
  const startedAt = new Date().toISOString();
  const errors: string[] = [];
  const machine = await machineInfo();
  let denoBench = options.denoBench ? await runDenoBench() : undefined;
  if (denoBench && denoBench.code !== 0) errors.push(`deno bench exited ${denoBench.code}`);

  const env = await BenchEnv.create();
  let interrupted = false;
  const onSignal = async () => {
    interrupted = true;
    console.error("interrupted: stopping every process started");
    await env.close();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const scenarios: ScenarioResult[] = [];
  try {
    for (const name of options.only) {
      const missing = [];
      for (const [command, pkg] of TOOLS[name]) {
        if (!(await ensureCommand(command, pkg))) missing.push(command);
      }
      if (missing.length > 0) {
        errors.push(`${name}: skipped, ${missing.join(" and ")} missing`);
        continue;
      }
      progress(`▶ scenario ${name}`);
      try {
        const result = await RUNNERS[name](env, options);
        result.measuredAt = new Date().toISOString();
        scenarios.push(result);
        errors.push(...result.errors);
      } catch (error) {
        errors.push(`${name}: ${errorText(error)}`);
        progress(`✗ ${name}: ${errorText(error)}`);
      } finally {
        await env.stopAll();
      }
    }
  } finally {
    await env.close();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  // The scenario under way may have ended on its own meanwhile: no results from a broken run.
  if (interrupted) return 130;

  const date = startedAt.slice(0, 10);
  const dir = `${ROOT}bench/results`;
  const base = `${dir}/${options.out ?? date}`;
  // When this run measures "one" again, today's earlier figures stay as "previous" runs.
  const recorded = await previousOneConnection(`${base}.json`);
  const rerunOne = options.only.includes("one") && !options.quick;
  const previous = rerunOne && recorded.current
    ? [...recorded.earlier, recorded.current]
    : recorded.earlier;
  // A run of some scenarios extends today's results: the others are kept as they were.
  if (!options.quick) {
    for (const kept of await earlierScenarios(`${base}.json`, options.only)) {
      scenarios.push(kept);
      errors.push(...kept.errors);
    }
    scenarios.sort((a, b) => SCENARIOS.indexOf(a.name) - SCENARIOS.indexOf(b.name));
    denoBench ??= await earlierDenoBench(`${base}.json`);
  }
  const report: BenchReport = {
    date,
    startedAt,
    finishedAt: new Date().toISOString(),
    options,
    machine,
    versions: await versionInfo(),
    scenarios,
    ...(denoBench ? { denoBench } : {}),
    ...(previous.length > 0 ? { previous } : {}),
    ok: errors.length === 0,
    errors,
  };
  await Deno.mkdir(dir, { recursive: true });
  // Results are committed: no path of this machine goes into them.
  const redact = (text: string) =>
    text.replaceAll(Deno.execPath(), "deno")
      .replaceAll(env.tmp, "<tmp>")
      .replaceAll(`${ROOT}../`, "../")
      .replaceAll(`file://${ROOT}`, "./")
      .replaceAll(ROOT, "./");
  // A --quick run is a check, not a result: it goes next to the results, never over them.
  const out = options.quick ? `${ROOT}.data/bench-quick` : base;
  await Deno.mkdir(`${ROOT}.data`, { recursive: true });
  await Deno.writeTextFile(`${out}.json`, redact(JSON.stringify(report, null, 2)) + "\n");
  await Deno.writeTextFile(`${out}.md`, redact(renderMarkdown(report)));

  console.log(summaryTable(scenarios.flatMap((s) => s.rows)).join("\n"));
  if (errors.length > 0) console.error(`✗ ${errors.length} problem(s):\n  ${errors.join("\n  ")}`);
  console.log(`Results: ${out}.md and ${out}.json`);
  return errors.length === 0 ? 0 : 1;
}

Deno.exit(await main());
