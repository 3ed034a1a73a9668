/**
 * Why the slowest migration detections are slow: the `migration` scenario's load (`--conns`
 * HTTP/3 connections through the lab relay, 4 request loops, `--migrations` rebindings one
 * after another, the rebound connection streaming requests), with the server in a child process
 * that records, on its own `performance.now()` clock:
 *
 * - every detection: rebinding, the relay forwarding the client's first datagram on the new
 *   mapping, the tracker's event (as the lab measures it);
 * - every event-loop stall: a 1 ms interval timer that fired more than `--stall-ms` after the
 *   previous tick (the loop was busy, paused for a collection, or waiting for a core);
 * - every garbage collection, from V8's `--trace-gc` lines (aligned on a forced collection).
 *
 * The server gets the V8 options it ships with (`lib/runtime_flags.ts`); `--v8-flags a,b`
 * replaces them (`--v8-flags ""` for V8's defaults), to compare.
 *
 * It prints one Markdown table: how many detections were slower than `--threshold-ms`, how many
 * of those overlapped a stall or a collection, how many would have been within the threshold
 * without the stalled time, and the share of time the loop was stalled or collecting. The
 * sampler itself costs a little CPU, so the delays are not the scenario's own figures.
 *
 * ```sh
 * deno run -A bench/tools/detection_tail.ts --conns 1000 --migrations 1000 \
 *   [--watch-interval 50] [--threshold-ms 5] [--stall-ms 3] [--v8-flags --max-semi-space-size=64]
 * ```
 * @module
 */

import { LAB_LOAD_LIMITS } from "../support/lab_load_limits.ts";
import { startServer } from "../../lib/start_server.ts";
import { denoRun, withFileLimit } from "../support/env.ts";
import { ServerProcess } from "../support/process.ts";
import { SERVER_V8_OPTIONS } from "../../lib/runtime_flags.ts";
import {
  attributeTail,
  type DetectionWindow,
  parseTraceGc,
  type Span,
} from "../support/detection_tail.ts";
import { percentile, round } from "../support/stats.ts";
import { flag, intFlag } from "./args.ts";

const args = Deno.args;
if (args.includes("--serve")) await serve();
else await measure();

/** The server side (child process): runs until SIGTERM, then writes its records to a file. */
async function serve(): Promise<void> {
  const stallMs = intFlag(args, "stall-ms", 3);
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    labPort: 0,
    dataDir: flag(args, "data-dir"),
    adminToken: flag(args, "token"),
    watchIntervalMs: intFlag(args, "watch-interval", 50),
    log: () => {},
    limits: LAB_LOAD_LIMITS,
  });
  // A forced collection, whose trace line ("testing") puts V8's clock on performance.now().
  (globalThis as { gc?: () => void }).gc!();
  console.log(`calibrated ${performance.now()}`);
  const stalls: Span[] = [];
  let last = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    if (now - last > stallMs) stalls.push({ start: last, end: now });
    last = now;
  }, 1);
  const events = new Map<string, number[]>();
  server.tracker.subscribe((event) => {
    if (event.type !== "migration") return;
    const seen = events.get(event.migration.new_addr) ?? [];
    seen.push(performance.now());
    events.set(event.migration.new_addr, seen);
  });
  console.log(`ready ${server.port} ${server.labPort}`);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", resolve));
  clearInterval(sampler);
  const detections: DetectionWindow[] = [];
  for (const session of server.labRelay!.sessions()) {
    for (const r of session.rebindings) {
      const detectedAt = events.get(r.newAddr)?.find((t) => t >= r.at);
      if (detectedAt !== undefined) {
        detections.push({ at: r.at, forwardedAt: r.clientForwardedAt, detectedAt });
      }
    }
  }
  // A file, not stdout: a line this long may not reach the pipe before the process exits.
  await Deno.writeTextFile(flag(args, "records"), JSON.stringify({ stalls, detections }));
  await server.shutdown(1000);
  Deno.exit(0);
}

/** The parent: starts the server child and the clients, then sums up. */
async function measure(): Promise<void> {
  const conns = intFlag(args, "conns", 1000);
  const migrations = intFlag(args, "migrations", 1000);
  const thresholdMs = intFlag(args, "threshold-ms", 5);
  const dataDir = await Deno.makeTempDir({ prefix: "detection-tail-" });
  const token = crypto.randomUUID();
  const recordsFile = `${dataDir}/records.json`;
  const v8Options = flag(args, "v8-flags", SERVER_V8_OPTIONS.join(",")).split(",").filter(Boolean);
  // One UDP socket per connection in the client, one per relay session in the server.
  const serverCmd = await withFileLimit(
    denoRun(
      "bench/tools/detection_tail.ts",
      [
        "--serve",
        "--data-dir",
        dataDir,
        "--token",
        token,
        "--records",
        recordsFile,
        "--stall-ms",
        flag(args, "stall-ms", "3"),
        "--watch-interval",
        flag(args, "watch-interval", "50"),
      ],
      [`--v8-flags=${["--expose-gc", "--trace-gc", ...v8Options].join(",")}`],
    ),
    conns + 256,
  );
  // Every line kept: the trace-gc lines are the collections.
  const lines: string[] = [];
  const server = ServerProcess.spawn("server", serverCmd, {}, (line) => lines.push(line));
  let ready: string[];
  try {
    ready = (await server.waitForLine("ready ", 120_000)).split(" ");
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  const clientCmd = await withFileLimit(
    denoRun("bench/tools/migration_clients.ts", [
      ...["--port", ready[1], "--lab-port", ready[2], "--ca", `${dataDir}/certs/ca.pem`],
      ...["--token", token, "--conns", String(conns), "--migrations", String(migrations)],
      ...["--load", "4"],
    ]),
    conns + 256,
  );
  const clients = await new Deno.Command(clientCmd[0], {
    args: clientCmd.slice(1),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  await server.stop(10_000); // SIGTERM: the child writes its records, then exits
  const records = await Deno.readTextFile(recordsFile).catch(() => undefined);
  await Deno.remove(dataDir, { recursive: true });
  const result = new TextDecoder().decode(clients.stdout).split("\n")
    .find((line) => line.startsWith("result "));
  if (!clients.success || result === undefined || records === undefined) {
    console.error(
      `error: results missing (clients ${clients.success ? "ok" : "failed"}, ` +
        `result ${result !== undefined}, server records ${records !== undefined})`,
    );
    Deno.exit(1);
  }
  const { failed, requests } = JSON.parse(result.slice(7)) as { failed: number; requests: number };
  const { stalls, detections } = JSON.parse(records) as {
    stalls: Span[];
    detections: DetectionWindow[];
  };
  const calibrated = Number(lines.find((l) => l.startsWith("calibrated "))!.split(" ")[1]);
  const forced = parseTraceGc(lines.filter((l) => l.includes("testing")), 0)[0];
  const pauses = parseTraceGc(lines, forced.end - calibrated);
  const report = attributeTail(detections, stalls, pauses, thresholdMs);
  const all = detections.map((d) => d.detectedAt - d.at);
  const ms = (values: number[], p: number) => round(percentile(values, p), 2);
  const pct = (share: number) => `${round(share * 100, 1)} %`;
  console.log(
    `${conns} connections, ${report.detections} detected rebindings of ${migrations}; ` +
      `failed requests ${failed} of ${requests}; Deno ${Deno.version.deno}, ${Deno.build.os}`,
  );
  console.log("");
  console.log("| measure | value |");
  console.log("| --- | --- |");
  const rows: Array<[string, string]> = [
    ["detection p50 / p99 / max (ms)", `${ms(all, 50)} / ${ms(all, 99)} / ${ms(all, 100)}`],
    [`slower than ${thresholdMs} ms`, String(report.slow)],
    ["… overlapping an event-loop stall", String(report.slowWithStall)],
    ["… overlapping a garbage collection", String(report.slowWithGc)],
    [`… within ${thresholdMs} ms without the stalled time`, String(report.slowOnlyByStalls)],
    ["stalled share of their client-and-relay part", pct(report.clientPartStalledShare)],
    ["stalled share of their server part", pct(report.serverPartStalledShare)],
    [
      "p99 of the detections no stall touched (n)",
      `${ms(report.unstalledMs, 99)} ms (${report.unstalledMs.length})`,
    ],
    ["time the event loop was stalled", pct(report.stalledShare)],
    ["time in garbage-collection pauses", pct(report.gcShare)],
    [
      "scavenges: per second, pause p50 / max (ms)",
      `${round(report.scavenges / (report.spanMs / 1000), 2)}, ` +
      `${ms(report.scavengePausesMs, 50)} / ${ms(report.scavengePausesMs, 100)}`,
    ],
  ];
  for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
}
