/**
 * Scenario `idle`: what idle QUIC connections cost our server. A client process
 * (`bench/tools/hold_clients.ts`) opens connections in stages (1,000, then 10,000 in all),
 * each making one request and then only keep-alives; the server (`bench/tools/server_entry.ts`)
 * reports its RSS from /proc after a full GC and a pause, before and at each stage. At each
 * stage, the migration watcher's CPU share is measured over equal idle windows with the watcher
 * off and on (interleaved, toggled by signals), from the process's CPU time in /proc: at the
 * second stage its read budget (`--watch-max-reads`) stretches its rounds.
 * @module
 */

import { cpuSeconds, fdCount, rssKiB, type ServerProcess, sleep } from "../support/process.ts";
import { errorText, fmt, progress, table } from "../support/format.ts";
import type { BenchOptions } from "../support/options.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { median, round } from "../support/stats.ts";
import { type BenchEnv, denoRun, withFileLimit } from "../support/env.ts";
import { defaultConfig } from "../../lib/cli/server_config.ts";

const PER_ENDPOINT = 100;
const SETTLE_MS = 3000;

/** Server RSS after a full GC (SIGHUP to the bench entry) and a pause. */
async function settledRss(server: ServerProcess, gcs: { n: number }): Promise<number> {
  await sleep(SETTLE_MS);
  server.signal("SIGHUP");
  await server.waitForLine(`gc ${++gcs.n}`, 10_000);
  await sleep(1000);
  return await rssKiB(server.pid);
}

/** Runs the idle-connections measurement. */
export async function runIdle(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const stages = options.quick ? [200, 1000] : [1000, 10_000];
  const windowMs = options.quick ? 1000 : 4000;
  const pairs = options.rounds;
  const errors: string[] = [];
  const port = env.port();
  const labPort = env.port();
  const server = await env.startBenchServer(port, labPort, crypto.randomUUID());
  const gcs = { n: 0 };
  const baseline = await settledRss(server, gcs);
  progress(`idle: server RSS ${fmt(baseline / 1024, 1)} MiB with no connections`);
  const holdCmd = await withFileLimit(
    denoRun("bench/tools/hold_clients.ts", [
      "--port",
      String(port),
      "--ca",
      `${env.certDir}/ca.pem`,
      "--counts",
      stages.join(","),
      "--per-endpoint",
      String(PER_ENDPOINT),
      "--keepalive",
      "5000",
    ]),
    Math.ceil(stages.at(-1)! / PER_ENDPOINT) + 256,
  );
  let lastProgress = 0;
  const onLine = (line: string) => {
    if (!line.startsWith("progress ")) return;
    lastProgress = Number(line.split(" ")[1]);
    progress(`idle: ${line.slice(9)} connections open`);
  };
  const holder = await env.spawn(
    "idle clients",
    holdCmd,
    { line: `held ${stages[0]}` },
    300_000,
    {},
    onLine,
  );
  const measured: {
    connections: number;
    rssKiB: number;
    bytesPerConnection: number;
    serverFds: number;
    clientFds: number;
    clientRssKiB: number;
  }[] = [];
  const measure = async (n: number) => {
    const rss = await settledRss(server, gcs);
    const row = {
      connections: n,
      rssKiB: rss,
      bytesPerConnection: Math.round(((rss - baseline) * 1024) / n),
      serverFds: await fdCount(server.pid),
      clientFds: await fdCount(holder.pid),
      clientRssKiB: await rssKiB(holder.pid),
    };
    measured.push(row);
    progress(
      `idle: ${n} connections: server RSS ${fmt(rss / 1024, 1)} MiB, ` +
        `${fmt(row.bytesPerConnection / 1024, 1)} KiB per connection`,
    );
  };
  const watcher: WatcherCpu[] = [];
  let toggles = 0;
  const measureWatcher = async (n: number) => {
    progress(`idle: watcher CPU at ${n} idle connections, ${windowMs} ms windows, ${pairs} pairs`);
    const cpu: WatcherCpu["cpu"] = [];
    const readsPerSecond: number[] = [];
    let onSince: { reads: number; at: number } | undefined;
    for (let pair = 0; pair <= pairs + 1; pair++) {
      for (const state of ["off", "on"] as const) {
        server.signal(state === "off" ? "SIGUSR1" : "SIGUSR2");
        const line = await server.waitForLine(`watcher ${state} ${++toggles} `, 10_000);
        // Addresses the watcher read while on: from the "on" line to the next "off" line.
        const reads = Number(/ reads (\d+)/.exec(line)?.[1]);
        const at = performance.now();
        if (state === "on") onSince = { reads, at };
        else if (onSince !== undefined && pair > 1) {
          readsPerSecond.push(round((reads - onSince.reads) / ((at - onSince.at) / 1000), 0));
        }
        if (pair > pairs) break; // this "off" only closes the last "on" window
        await sleep(200);
        const before = await cpuSeconds(server.pid);
        const t0 = performance.now();
        await sleep(windowMs);
        const used = (await cpuSeconds(server.pid)) - before;
        const percent = round((used / ((performance.now() - t0) / 1000)) * 100, 2);
        if (pair > 0) cpu.push({ pair, state, percent });
        progress(
          `  ${pair === 0 ? "warm-up" : `pair ${pair}/${pairs}`} watcher ${
            state.padEnd(3)
          } ${percent} % of a core`,
        );
      }
    }
    server.signal("SIGUSR2"); // on again, as in a server, for what is measured next
    await server.waitForLine(`watcher on ${++toggles} `, 10_000);
    watcher.push({ ...summarizeWatcherCpu(n, cpu, pairs), readsPerSecond: median(readsPerSecond) });
  };
  let reached = stages[0];
  let stageError: string | undefined;
  try {
    await measure(stages[0]);
    await measureWatcher(stages[0]);
    for (const n of stages.slice(1)) {
      holder.signal("SIGUSR1");
      try {
        await holder.waitForLine(`held ${n}`, 600_000);
        reached = n;
        await measure(n);
        await measureWatcher(n);
      } catch (error) {
        stageError = `idle: could not hold ${n} connections (reached about ${lastProgress}): ${
          errorText(error)
        }`;
        errors.push(stageError);
        break;
      }
    }
  } finally {
    await Promise.all([env.stop(holder), env.stop(server)]);
  }
  const kib = (b: number) => `${fmt(b / 1024, 1)} KiB`;
  return {
    name: "idle",
    title: "Idle connections: server memory and watcher CPU",
    rows: [
      ...measured.map((m) => ({
        scenario: `server RSS per idle QUIC connection at ${fmt(m.connections)} conns`,
        ours: kib(m.bytesPerConnection),
        peer: "—",
        ratio: "—",
        target: "—",
        met: null,
      })),
      ...watcher.map((w, i) => ({
        scenario: `migration watcher CPU at ${fmt(w.connections)} idle conns (% of a core)`,
        ours: `${fmt(w.share, 2)} %`,
        peer: `on ${fmt(w.medianOn, 2)} % / off ${fmt(w.medianOff, 2)} %`,
        ratio: "on − off",
        // The target was set at the first stage; past the read budget the share is bounded.
        target: i === 0 ? "≤ 5 % of a core" : "—",
        met: i === 0 && Number.isFinite(w.share) ? w.share <= 5 : null,
      })),
    ],
    markdown: [
      `A client process opened ${stages.map((n) => fmt(n)).join(", then ")} HTTP/3 ` +
      "connections in all to our server (direct, not through the lab), each making one " +
      `\`GET /healthz\`, then idle with 5 s keep-alives; ${PER_ENDPOINT} connections share ` +
      "each client UDP socket, so 10,000 connections need about 100 client sockets and one " +
      "server socket, far below the open-files limit. Server RSS (`VmRSS`) is read " +
      `${SETTLE_MS / 1000} s after each stage completes, after a full GC and a 1 s pause; ` +
      `per connection = (RSS − RSS with no connections, ${fmt(baseline / 1024, 1)} MiB) / N.`,
      "",
      ...table(
        [
          "connections",
          "server RSS MiB",
          "per connection",
          "server fds",
          "client fds",
          "client RSS MiB",
        ],
        measured.map((m) => [
          fmt(m.connections),
          fmt(m.rssKiB / 1024, 1),
          kib(m.bytesPerConnection),
          m.serverFds,
          m.clientFds,
          fmt(m.clientRssKiB / 1024, 1),
        ]),
      ),
      ...(stageError ? ["", `**${stageError}**`] : []),
      "",
      `Watcher CPU: at each stage, the server's CPU time (utime + stime, /proc/<pid>/stat) ` +
      `over ${windowMs / 1000} s windows with the watcher off (SIGUSR1: its timer stopped) ` +
      "and on (SIGUSR2: its own timer running again; idle, it visits every connection once per " +
      "50 ms, or, past its budget of visits per second (`--watch-max-reads`, 20,000 by default), " +
      "once per connections ÷ budget seconds, and reads a quiet connection's address once per " +
      `${fmt(defaultConfig().watchQuietIntervalMs)} ms, \`--watch-quiet-interval\`), ` +
      `interleaved, ${pairs} pairs after a warm-up. ` +
      "Off is keep-alives and timers.",
      "",
      ...watcher.map((w) =>
        `- ${fmt(w.connections)} connections: median on ${fmt(w.medianOn, 2)} %, off ` +
        `${fmt(w.medianOff, 2)} %, **median per-pair difference ${fmt(w.share, 2)} % of one ` +
        `core** (per pair: ${w.diffs.join(", ")}); it read ${fmt(w.readsPerSecond ?? 0)} ` +
        "addresses per second while on."
      ),
    ],
    commands: {
      server: env.benchServerCommand(port, labPort, "<token>").join(" "),
      clients: holdCmd.join(" "),
    },
    data: {
      stages,
      reached,
      baselineRssKiB: baseline,
      measured,
      windowMs,
      watcher,
    },
    errors,
  };
}

/** The watcher's CPU at one stage: on/off windows and their per-pair differences. */
interface WatcherCpu {
  connections: number;
  cpu: { pair: number; state: "off" | "on"; percent: number }[];
  diffs: number[];
  /** Median per-pair difference on − off, % of a core. */
  share: number;
  medianOn: number;
  medianOff: number;
  /** Median over the "on" windows of the addresses the watcher read per second. */
  readsPerSecond?: number;
}

function summarizeWatcherCpu(
  connections: number,
  cpu: WatcherCpu["cpu"],
  pairs: number,
): WatcherCpu {
  const diffs = [];
  for (let pair = 1; pair <= pairs; pair++) {
    const on = cpu.find((c) => c.pair === pair && c.state === "on");
    const off = cpu.find((c) => c.pair === pair && c.state === "off");
    if (on && off) diffs.push(round(on.percent - off.percent, 2));
  }
  return {
    connections,
    cpu,
    diffs,
    share: median(diffs),
    medianOn: median(cpu.filter((c) => c.state === "on").map((c) => c.percent)),
    medianOff: median(cpu.filter((c) => c.state === "off").map((c) => c.percent)),
  };
}
