/**
 * Heap bytes per tracked connection, in-process: `Deno.memoryUsage().heapUsed` after a full
 * GC, before and after opening N connections in a fresh `ConnectionTracker` (sans-IO: fake
 * addresses, no sockets). A second figure adds one migration per connection (a request from a
 * new port: one `MigrationEvent` in its history). Needs `--v8-flags=--expose-gc`. Prints one
 * line `result <JSON>`.
 *
 * ```sh
 * deno run --v8-flags=--expose-gc bench/tools/tracker_memory.ts --counts 1000,10000
 * ```
 * @module
 */

import { ConnectionTracker, type TrackedConnection } from "../../lib/tracker/tracker.ts";
import { flag } from "./args.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function heapAfterGc(): number {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

/** Fake client address number `i`: distinct hosts and ports, as a real listener would see. */
function addr(i: number, port = 40_000): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${port + (i % 20_000)}`;
}

const results = [];
for (const n of flag(Deno.args, "counts", "1000,10000").split(",").map(Number)) {
  const before = heapAfterGc();
  const tracker = new ConnectionTracker();
  const conns: TrackedConnection[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(tracker.open("h3", addr(i), "127.0.0.1:9443", "localhost"));
  }
  const opened = heapAfterGc();
  for (let i = 0; i < n; i++) tracker.request(conns[i], addr(i, 50_000));
  const migrated = heapAfterGc();
  results.push({
    connections: n,
    openInTracker: tracker.summary().open,
    bytesPerConnection: Math.round((opened - before) / n),
    bytesPerConnectionWithOneMigration: Math.round((migrated - before) / n),
  });
  conns.length = 0;
}
console.log(`result ${JSON.stringify(results)}`);
