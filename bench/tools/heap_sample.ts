/**
 * Which code allocates the objects a running Deno process keeps past its young generation:
 * connects to the process's inspector (started with `--inspect=127.0.0.1:PORT`), runs V8's
 * sampling heap profiler for `--seconds`, and prints the allocation sites by bytes
 * (`bench/support/heap_profile.ts` sums them).
 *
 * `--kept promoted` (the default) leaves out objects a scavenge collected, so what is listed
 * survived at least one scavenge (it was promoted, whether a mark-compact collected it later or
 * not) or is still alive at the end: the objects that make scavenges slow and fill the old
 * generation. `--kept all` lists every allocation, for the allocation rate. `--save FILE` also
 * writes the raw profile (a `.heapprofile`, which Chrome DevTools' Memory tab loads).
 *
 * ```sh
 * deno run -A --inspect=127.0.0.1:9230 bench/tools/server_entry.ts … &
 * deno run -A bench/tools/heap_sample.ts --inspect-port 9230 --seconds 10 --depth 4 --top 25
 * ```
 * @module
 */

import { type SamplingHeapProfile, sumBySite, totalBytes } from "../support/heap_profile.ts";
import { flag, intFlag } from "./args.ts";

const args = Deno.args;
let inspectPort: number, seconds: number, interval: number, depth: number, top: number;
let kept: string;
let save: string;
try {
  inspectPort = intFlag(args, "inspect-port");
  seconds = intFlag(args, "seconds", 10);
  interval = intFlag(args, "interval", 16_384);
  depth = intFlag(args, "depth", 4);
  top = intFlag(args, "top", 25);
  kept = flag(args, "kept", "promoted");
  save = flag(args, "save", "");
  if (kept !== "promoted" && kept !== "all") throw new Error("--kept is promoted or all");
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const root = new URL("../../", import.meta.url).href;

let socket: WebSocket;
try {
  const list = await fetch(`http://127.0.0.1:${inspectPort}/json/list`);
  const targets = await list.json() as { webSocketDebuggerUrl: string }[];
  if (targets.length === 0) throw new Error("no inspector target");
  socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("inspector WebSocket failed"));
  });
} catch (error) {
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`error: cannot reach an inspector on 127.0.0.1:${inspectPort}: ${reason}`);
  Deno.exit(2);
}
let nextId = 1;
const waiting = new Map<number, { resolve(result: unknown): void; reject(e: Error): void }>();
socket.onmessage = (event) => {
  const message = JSON.parse(event.data) as { id?: number; result?: unknown; error?: unknown };
  if (message.id === undefined) return; // an event; none is asked for
  const call = waiting.get(message.id);
  waiting.delete(message.id);
  if (message.error !== undefined) call?.reject(new Error(JSON.stringify(message.error)));
  else call?.resolve(message.result);
};
/** One DevTools protocol command; rejects with the protocol's error. */
function call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const id = nextId++;
  socket.send(JSON.stringify({ id, method, params }));
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

await call("HeapProfiler.enable");
await call("HeapProfiler.startSampling", {
  samplingInterval: interval,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: kept === "all",
});
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
// Young objects that are already garbage still count as allocated until a collection finds
// them, and the profiler drops their samples only in a callback after the collection: two
// scavenges (where `--expose-gc` offers them), each followed by a turn of the event loop, drop
// them, so what is listed as kept survived a scavenge. Without `gc()`, the young generation's
// garbage since the last scavenge is listed too.
const minorGc = async () => {
  const answer = await call("Runtime.evaluate", {
    expression: 'typeof gc === "function" ? (gc({ type: "minor" }), true) : false',
    returnByValue: true,
  }) as { result: { value: boolean } };
  await new Promise((resolve) => setTimeout(resolve, 100));
  return answer.result.value;
};
const collected = kept === "all" || (await minorGc() && await minorGc());
const { profile } = await call("HeapProfiler.stopSampling") as { profile: SamplingHeapProfile };
socket.close();
// The raw profile opens in Chrome DevTools (Memory tab, "Load profile") for a closer look.
if (save !== "") await Deno.writeTextFile(save, JSON.stringify(profile));

const total = totalBytes(profile);
const mb = (bytes: number) => (bytes / 1e6).toFixed(2);
console.log(
  `${kept === "all" ? "allocated" : "kept past a scavenge"}: ${mb(total)} MB in ${seconds} s ` +
    `(${mb(total / seconds)} MB/s), sampling every ${interval} bytes` +
    (collected ? "" : " (no gc(): young garbage since the last scavenge included)"),
);
console.log("");
console.log("| MB | % | samples | site (allocating frame < callers) |");
console.log("| --- | --- | --- | --- |");
for (const site of sumBySite(profile, { depth, root }).slice(0, top)) {
  const share = (100 * site.bytes / total).toFixed(1);
  console.log(`| ${mb(site.bytes)} | ${share} | ${site.count} | ${site.stack.join(" < ")} |`);
}
