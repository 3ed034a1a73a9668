/**
 * Migration detection delay under load with the watcher's slice size switched back and forth in
 * one server process, so two settings meet the same connections, the same load and the same
 * machine (whose other work drifts over minutes) in turns. The server runs here (lab on); the
 * client side is `migration_clients.ts` in a child process, as in the `migration` scenario:
 * `--conns` connections through the lab relay, 4 request loops over them, and `--migrations`
 * rebindings one after another, the rebound connection streaming requests.
 *
 * Every `--block-ms` the watcher's `maxReadsPerSlice` moves on to the next of `--reads` (a value
 * at least `--conns` is one pass per interval, what the watcher did before it was sliced). Each
 * rebinding counts for the value in force when the lab made it; its delay is measured as the lab
 * does (rebinding → the tracker's migration event), and split at the relay passing the client's
 * first datagram to the new mapping. Prints one Markdown table, a row per value.
 *
 * ```sh
 * deno run -A bench/tools/detection_ab.ts --conns 1000 --migrations 1500 --reads 1000000,64
 * ```
 * @module
 */

import { LAB_LOAD_LIMITS } from "../support/lab_load_limits.ts";
import { startServer } from "../../lib/start_server.ts";
import type { RebindRecord } from "../../lib/lab/udp_relay.ts";
import { denoRun } from "../support/env.ts";
import { percentile, round } from "../support/stats.ts";
import { flag, intFlag } from "./args.ts";

const args = Deno.args;
const conns = intFlag(args, "conns", 1000);
const migrations = intFlag(args, "migrations", 1500);
const blockMs = intFlag(args, "block-ms", 1500);
const settings = flag(args, "reads", "1000000,64").split(",").map(Number);
if (settings.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error("error: --reads takes positive integers, comma-separated");
  Deno.exit(2);
}

const dataDir = await Deno.makeTempDir({ prefix: "detection-ab-" });
const token = crypto.randomUUID();
const server = await startServer({
  hostname: "127.0.0.1",
  port: 0,
  labPort: 0,
  dataDir,
  adminToken: token,
  log: () => {},
  limits: LAB_LOAD_LIMITS,
});
const relay = server.labRelay!;

let current = 0;
server.watcher.maxReadsPerSlice = settings[0];
const rotation = setInterval(() => {
  current = (current + 1) % settings.length;
  server.watcher.maxReadsPerSlice = settings[current];
}, blockMs);

/** The setting in force at each rebinding (the relay's live record is the key). */
const settingAt = new WeakMap<RebindRecord, number>();
relay.onSession((event) => {
  const rebinding = event.type === "rebound" ? event.session.rebindings.at(-1) : undefined;
  if (rebinding !== undefined) settingAt.set(rebinding, settings[current]);
});

interface Detection {
  reads: number;
  totalMs: number;
  /** Rebinding → the client's first datagram passed to the new mapping, if already known. */
  clientMs: number | null;
  byWatcher: boolean;
}
const detections: Detection[] = [];
server.tracker.subscribe((event) => {
  if (event.type !== "migration") return;
  const at = performance.now();
  const session = relay.sessions().find((s) => s.upstreamAddr === event.migration.new_addr);
  const rebinding = session?.rebindings.at(-1);
  const reads = rebinding === undefined ? undefined : settingAt.get(rebinding);
  if (rebinding === undefined || reads === undefined) return;
  detections.push({
    reads,
    totalMs: at - rebinding.at,
    clientMs: rebinding.clientForwardedAt === null
      ? null
      : rebinding.clientForwardedAt - rebinding.at,
    byWatcher: event.migration.detected_by === "watcher",
  });
});

const clientCmd = denoRun("bench/tools/migration_clients.ts", [
  "--port",
  String(server.port),
  "--lab-port",
  String(server.labPort),
  "--ca",
  `${dataDir}/certs/ca.pem`,
  "--token",
  token,
  "--conns",
  String(conns),
  "--migrations",
  String(migrations),
  "--load",
  "4",
]);
const client = new Deno.Command(clientCmd[0], {
  args: clientCmd.slice(1),
  stdout: "piped",
  stderr: "inherit",
}).output();
const output = new TextDecoder().decode((await client).stdout);
clearInterval(rotation);
await server.shutdown(1000);
await Deno.remove(dataDir, { recursive: true });
const resultLine = output.split("\n").find((line) => line.startsWith("result "));
if (resultLine === undefined) {
  console.error("error: the migration clients printed no result");
  Deno.exit(1);
}
const result = JSON.parse(resultLine.slice(7)) as { failed: number; requests: number };

const ms = (values: number[], p: number) =>
  values.length === 0 ? "–" : String(round(percentile(values, p), 2));
console.log(
  `${conns} connections, ${detections.length} detected rebindings of ${migrations}, ` +
    `failed requests ${result.failed} of ${result.requests}; settings switched every ${blockMs} ms`,
);
console.log("");
console.log(
  "| reads per slice | n | p50 ms | p90 ms | p99 ms | max ms | client+relay p50 / p99 ms | " +
    "server p50 / p99 ms | by watcher |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const reads of settings) {
  const mine = detections.filter((d) => d.reads === reads);
  const total = mine.map((d) => d.totalMs);
  const split = mine.filter((d) => d.clientMs !== null);
  const clientPart = split.map((d) => d.clientMs!);
  const serverPart = split.map((d) => Math.max(0, d.totalMs - d.clientMs!));
  console.log(
    `| ${reads >= conns ? `${reads} (one pass)` : reads} | ${mine.length} | ${ms(total, 50)} | ` +
      `${ms(total, 90)} | ${ms(total, 99)} | ${ms(total, 100)} | ` +
      `${ms(clientPart, 50)} / ${ms(clientPart, 99)} | ${ms(serverPart, 50)} / ` +
      `${ms(serverPart, 99)} | ${mine.filter((d) => d.byWatcher).length} |`,
  );
}
