/**
 * The V8 options the server runs with: `deno task start`, `dev` and `compile`, every cluster
 * node, and our server in the benchmarks all pass {@link serverV8FlagsArg} (a test checks
 * `deno.json` against it).
 *
 * **A larger young generation.** Under load with many connections, the runtime's per-stream
 * objects and each connection's pending accept and read live about as long as the gap between a
 * connection's requests. At V8's default young-generation size, a scavenge every fraction of a
 * second finds them alive and copies them, pausing the one thread that also runs quinn, the lab
 * relay and the requests. With room for a longer interval between scavenges they run about four
 * times less often, each a little longer: half the time in pauses, and a shorter tail for every
 * latency the server has, migration detection included. It costs memory under load, and V8
 * only grows the space as survival warrants. `bench/results/2026-11-28-detection-tail.md` has the
 * figures.
 *
 * ```ts
 * serverV8FlagsArg(); // "--v8-flags=--max-semi-space-size=128"
 * serverV8FlagsArg(["--expose-gc"]); // with a benchmark's own option added
 * ```
 * @module
 */

/** V8's own options, each as V8 spells it. */
export const SERVER_V8_OPTIONS: readonly string[] = ["--max-semi-space-size=128"];

/** Deno's `--v8-flags=…` argument for the server, with `extra` V8 options after ours. */
export function serverV8FlagsArg(extra: readonly string[] = []): string {
  return `--v8-flags=${[...SERVER_V8_OPTIONS, ...extra].join(",")}`;
}
