/**
 * `deno task bench-steps`: what each change on the request path did, one commit at a time.
 *
 * Given commits in order (`--commits A,B,C`, oldest first), it checks each one out in a
 * temporary git worktree, starts that tree's `main.ts` on its own port (all of them at once, so
 * they warm up alike), and then runs `gtlsclient` with `--requests` GETs of `--path` on one
 * connection against each server in turn, `--rounds` times after one uncounted warm-up round.
 * Per run it records the wall time and the server's CPU time (user + system, all threads, from
 * `/proc/<pid>/stat`). The CPU time per request is the steadier figure on a machine where other
 * work runs: wall time moves with whatever else is scheduled, the server's own CPU time much
 * less. Each commit is compared with the one before it (medians of per-round ratios).
 *
 * With `--tcp` the load is the TCP listener's instead (HTTP/1.1 over TLS): `h2load --h1` with
 * `--requests` GETs over 10 keep-alive connections, as the bench's `tcp` scenario sends them,
 * and req/s is h2load's own. With `--bare` a bare `Deno.serve` (`bench/tools/bare_server.ts`)
 * runs in the same rounds, and each commit's req/s is also given as a ratio to it.
 *
 * Writes `bench/results/<YYYY-MM-DD>-steps.md` (or `--out FILE`) and prints the table. Every
 * server and worktree is removed at the end, on failure and on Ctrl-C.
 *
 * ```sh
 * deno task bench-steps -- --commits 6dd9a4e,HEAD~2,HEAD --path /api/test --rounds 7
 * deno task bench-steps -- --commits HEAD~1,HEAD --path /healthz --tcp --bare
 * ```
 * @module
 */

import { BenchEnv, ROOT } from "./support/env.ts";
import { serverV8FlagsArg } from "../lib/runtime_flags.ts";
import { fmt, progress, table } from "./support/format.ts";
import { gtlsCommand } from "./support/gtls.ts";
import { h2loadH1Command } from "./support/h2load.ts";
import { parseH2load } from "./support/client_output.ts";
import { capture, cpuSeconds, type ServerProcess } from "./support/process.ts";
import {
  interleave,
  median,
  medianDetail,
  medianOf,
  round,
  roundRatios,
  type Sample,
} from "./support/stats.ts";
import { machineInfo } from "./support/report.ts";

const USAGE = "usage: deno task bench-steps -- --commits A,B[,C…] [--path /api/test] " +
  "[--requests N] [--rounds N] [--tcp] [--bare] [--out FILE]";
const RUN_LIMIT_MS = 180_000;
/** What `main.ts` prints once it listens. */
const BANNER = "QUIC connection-migration server on";
/** Keep-alive connections of the `--tcp` load, as in the bench's `tcp` scenario. */
const TCP_CONNECTIONS = 10;
const BARE = "bare";

interface StepsOptions {
  commits: string[];
  path: string;
  requests: number;
  rounds: number;
  /** Load the TCP listener (h2load, HTTP/1.1) instead of HTTP/3. */
  tcp: boolean;
  /** Run a bare `Deno.serve` in the same rounds. */
  bare: boolean;
  out: string | undefined;
}

/** Parses the command line; throws an Error whose message is one line for the user. */
export function parseStepsOptions(args: readonly string[]): StepsOptions {
  const options: StepsOptions = {
    commits: [],
    path: "/api/test",
    requests: 20_000,
    rounds: 5,
    tcp: false,
    bare: false,
    out: undefined,
  };
  const integer = (name: string, raw: string | undefined, max: number) => {
    const n = Number(raw);
    if (raw === undefined || !/^[0-9]+$/.test(raw) || n < 1 || n > max) {
      throw new Error(`${name} must be an integer from 1 to ${max}, not "${raw ?? ""}"`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[i + 1];
    if (arg === "--") continue;
    if (arg === "--tcp" || arg === "--bare") {
      options[arg === "--tcp" ? "tcp" : "bare"] = true;
      continue;
    }
    if (arg === "--commits" && value !== undefined) {
      options.commits = value.split(",").map((c) => c.trim()).filter((c) => c !== "");
    } else if (arg === "--path" && value !== undefined && value.startsWith("/")) {
      options.path = value;
    } else if (arg === "--requests") options.requests = integer(arg, value, 200_000);
    else if (arg === "--rounds") options.rounds = integer(arg, value, 50);
    else if (arg === "--out" && value !== undefined) options.out = value;
    else throw new Error(`unknown or incomplete option "${arg}"`);
    i++;
  }
  if (options.commits.length < 2) throw new Error("--commits needs at least two commits");
  return options;
}

/** One commit under test: its tree and its running server. */
interface Step {
  label: string;
  sha: string;
  subject: string;
  tree: string;
  port: number;
  server?: ServerProcess;
}

async function git(...args: string[]): Promise<string> {
  const out = await capture(["git", "-C", ROOT, ...args], {}, 60_000);
  if (out.code !== 0) throw new Error(`git ${args.join(" ")}: ${out.stderr.trim()}`);
  return out.stdout.trim();
}

async function main(): Promise<number> {
  let options: StepsOptions;
  try {
    options = parseStepsOptions(Deno.args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const env = await BenchEnv.create();
  const steps: Step[] = [];
  const stop = () => cleanup(env, steps).finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", stop);
  try {
    for (const [i, commit] of options.commits.entries()) {
      const sha = await git("rev-parse", "--verify", `${commit}^{commit}`);
      const subject = await git("log", "-1", "--format=%s", sha);
      const tree = `${env.tmp}/tree-${i}`;
      await git("worktree", "add", "--detach", tree, sha);
      steps.push({ label: `${i}:${sha.slice(0, 7)}`, sha, subject, tree, port: env.port() });
    }
    for (const step of steps) {
      progress(`starting ${step.label} ${step.subject.slice(0, 60)}`);
      step.server = await env.spawn(
        step.label,
        [
          Deno.execPath(),
          "run",
          "-A",
          // The same V8 options for every commit: the steps compare code, not runtime settings.
          serverV8FlagsArg(),
          `${step.tree}/main.ts`,
          ...["--host", "127.0.0.1", "--port", String(step.port)],
          ...["--lab-port", String(env.port()), "--data-dir", `${step.tree}/.data`],
          ...["--persist", "false"],
        ],
        { line: BANNER },
        60_000,
      );
    }
    const targets = new Map(steps.map((s) => [s.label, { port: s.port, server: s.server! }]));
    if (options.bare) {
      progress("starting the bare Deno.serve");
      const port = env.port();
      targets.set(BARE, { port, server: await env.startBare(port) });
    }
    const samples = await interleave([...targets.keys()], options.rounds, async (label) => {
      const target = targets.get(label)!;
      const pid = target.server.pid;
      const cpuBefore = await cpuSeconds(pid);
      const started = performance.now();
      const run = await capture(
        options.tcp
          ? h2loadH1Command(target.port, options.requests, TCP_CONNECTIONS, options.path)
          : gtlsCommand(target.port, options.requests, true, options.path),
        {},
        RUN_LIMIT_MS,
      );
      const ms = performance.now() - started;
      const cpu = (await cpuSeconds(pid)) - cpuBefore;
      const h2load = options.tcp ? parseH2load(run.stdout) : undefined;
      return {
        value: Math.round(h2load?.reqPerSec ?? options.requests / (ms / 1000)),
        ok: run.code === 0 && (h2load === undefined || h2load.ok2xx === options.requests),
        detail: { ms: round(ms, 1), cpuUsPerRequest: round((cpu * 1e6) / options.requests, 1) },
      };
    }, "req/s");
    const markdown = await report(options, steps, samples);
    const out = options.out ??
      `${ROOT}bench/results/${new Date().toISOString().slice(0, 10)}-steps.md`;
    await Deno.writeTextFile(out, markdown.join("\n") + "\n");
    console.log(markdown.slice(markdown.indexOf("## Steps")).join("\n"));
    progress(`results: ${out}`);
    return samples.every((s) => s.ok) ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    await cleanup(env, steps);
  }
}

async function cleanup(env: BenchEnv, steps: Step[]): Promise<void> {
  await env.stopAll();
  for (const step of steps) {
    await git("worktree", "remove", "--force", step.tree).catch(() => {});
  }
  await env.close();
}

async function report(options: StepsOptions, steps: Step[], samples: Sample[]): Promise<string[]> {
  const cpuOf = (s: Sample) => s.detail?.cpuUsPerRequest as number;
  const m = await machineInfo();
  const facts = `${m.cpu}, ${m.nproc} CPU(s), Deno ${Deno.version.deno}, load average ` +
    `${m.loadAverage} at the end (other work on the machine shows here)`;
  const rows = steps.map((step, i) => {
    const before = steps[i - 1];
    return [
      step.label,
      step.subject.replaceAll("|", "\\|").slice(0, 110),
      fmt(medianDetail(samples, step.label, "cpuUsPerRequest"), 1),
      before ? fmt(median(roundRatios(samples, step.label, before.label, cpuOf)), 3) : "—",
      fmt(medianOf(samples, step.label)),
      before ? fmt(median(roundRatios(samples, step.label, before.label)), 3) : "—",
      ...(options.bare ? [fmt(median(roundRatios(samples, step.label, BARE)), 3)] : []),
    ];
  });
  if (options.bare) {
    const cpu = fmt(medianDetail(samples, BARE, "cpuUsPerRequest"), 1);
    rows.push([BARE, "bare `Deno.serve`", cpu, "—", fmt(medianOf(samples, BARE)), "—", "1"]);
  }
  const load = options.tcp
    ? `\`h2load --h1\` over ${TCP_CONNECTIONS} keep-alive connections (req/s is h2load's)`
    : "one connection (`gtlsclient`)";
  return [
    `# Request path, step by step (${new Date().toISOString().slice(0, 10)})`,
    "",
    `Measured on ${facts}. \`deno task bench-steps\`: each commit's \`main.ts\` running at ` +
    `once; ${fmt(options.requests)} GETs of \`${options.path}\` on ${load} ` +
    "per run, against each server in turn, " +
    `${options.rounds} rounds after one uncounted warm-up. Server CPU is user + system time of ` +
    "the server process over the run (all threads), per request. Ratios compare each commit " +
    "with the one before it (medians of per-round ratios): below 1 is less CPU, above 1 more " +
    "req/s." + (options.bare ? " The last ratio is req/s to the bare `Deno.serve`'s." : ""),
    "",
    "## Steps",
    "",
    ...table(
      [
        "commit",
        "change",
        "server CPU µs/req",
        "vs before",
        "req/s",
        "vs before",
        ...(options.bare ? ["vs bare"] : []),
      ],
      rows,
    ),
    "",
    "## Runs",
    "",
    ...table(
      ["round", "commit", "ms", "req/s", "server CPU µs/req", "result"],
      samples.map((s) => [
        s.round,
        s.target,
        fmt(s.detail?.ms as number, 1),
        fmt(s.value),
        fmt(cpuOf(s), 1),
        s.ok ? "ok" : "FAILED",
      ]),
    ),
  ];
}

if (import.meta.main) Deno.exit(await main());
