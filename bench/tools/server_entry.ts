/**
 * Our server for the benchmarks that need hooks `main.ts` does not offer: it calls
 * `startServer` on 127.0.0.1 with logging off, and reacts to signals so a benchmark can
 * compare the same server, with the same connections, with and without the migration
 * watcher:
 *
 * - `SIGUSR1`: watcher off (its timer stops; prints `watcher off <n> reads <addresses read>`);
 * - `SIGUSR2`: watcher on: its own timer runs again, exactly as in a server (prints
 *   `watcher on <n> reads <addresses read>`);
 * - `SIGHUP`: a full garbage collection when run with `--v8-flags=--expose-gc` (prints
 *   `gc <n>`), so a memory reading is taken after things settle;
 * - `SIGTERM`/`SIGINT`: shut down and exit.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/tools/server_entry.ts --port 9443 --lab-port 9444 \
 *   --data-dir DIR --admin-token t
 * ```
 * @module
 */

import { LAB_LOAD_LIMITS } from "../support/lab_load_limits.ts";
import { startServer } from "../../lib/start_server.ts";
import { flag, intFlag } from "./args.ts";

const args = Deno.args;
const intervalMs = intFlag(args, "watch-interval", 50);
const server = await startServer({
  hostname: "127.0.0.1",
  port: intFlag(args, "port"),
  labPort: intFlag(args, "lab-port"),
  dataDir: flag(args, "data-dir"),
  adminToken: flag(args, "admin-token"),
  watchIntervalMs: intervalMs,
  ...(args.includes("--watch-slice-reads")
    ? { watchMaxReadsPerSlice: intFlag(args, "watch-slice-reads") }
    : {}),
  log: () => {},
  limits: LAB_LOAD_LIMITS,
});
let toggles = 0;
Deno.addSignalListener("SIGUSR1", () => {
  server.watcher.stop();
  console.log(`watcher off ${++toggles} reads ${server.watcher.reads}`);
});
Deno.addSignalListener("SIGUSR2", () => {
  server.watcher.start();
  console.log(`watcher on ${++toggles} reads ${server.watcher.reads}`);
});
let gcs = 0;
Deno.addSignalListener("SIGHUP", () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  console.log(`gc ${++gcs}${gc ? "" : " (unavailable)"}`);
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.shutdown(1000);
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
console.log(`bench server ready on 127.0.0.1:${server.port} lab ${server.labPort}`);
