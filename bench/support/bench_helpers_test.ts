/**
 * Fast, pure tests of the benchmark task's helpers: statistics, option parsing and the parsing
 * of client output. Nothing here spawns a process or opens a socket.
 */

import {
  interleave,
  median,
  pairRatios,
  parseOptions,
  percentile,
  type Sample,
  SCENARIOS,
} from "./common.ts";
import { childCpuSeconds } from "../scenarios/many.ts";
import { parseH2load } from "../scenarios/tcp.ts";
import { summaryTable } from "./report.ts";

function assertEquals<T>(actual: T, expected: T): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`expected ${e}, got ${a}`);
}

function assertThrows(fn: () => unknown, includes: string): void {
  try {
    fn();
  } catch (error) {
    if (String(error).includes(includes)) return;
    throw new Error(`threw ${error}, expected a message with "${includes}"`);
  }
  throw new Error("did not throw");
}

Deno.test("percentile interpolates between closest ranks", () => {
  assertEquals(percentile([4, 1, 3, 2], 50), 2.5);
  assertEquals(percentile([1, 2, 3, 4, 5], 0), 1);
  assertEquals(percentile([1, 2, 3, 4, 5], 100), 5);
  assertEquals(percentile(Array.from({ length: 101 }, (_, i) => i), 99), 99);
  assertEquals(Number.isNaN(percentile([], 50)), true);
  assertEquals(median([3, 1, 2]), 2);
});

Deno.test("pairRatios pairs by round and skips failed runs", () => {
  const s = (pair: number, target: string, value: number, ok = true): Sample => ({
    pair,
    target,
    value,
    ok,
  });
  const samples = [s(1, "a", 10), s(1, "b", 20), s(2, "a", 30), s(2, "b", 10, false)];
  assertEquals(pairRatios(samples, "a", "b"), [0.5]);
});

Deno.test("interleave runs A B A B after one uncounted warm-up", async () => {
  const order: string[] = [];
  const samples = await interleave(["a", "b"], 2, (target, pair) => {
    order.push(`${target}${pair}`);
    return Promise.resolve({ value: pair, ok: true });
  }, "x");
  assertEquals(order, ["a0", "b0", "a1", "b1", "a2", "b2"]);
  assertEquals(samples.map((x) => x.pair), [1, 1, 2, 2]);
});

Deno.test("parseOptions: defaults, --only, --quick and errors", () => {
  assertEquals(parseOptions([]).only, [...SCENARIOS]);
  assertEquals(parseOptions([]).pairs, 5);
  assertEquals(parseOptions(["--only", "bulk,many"]).only, ["many", "bulk"]);
  assertEquals(parseOptions(["--quick"]).pairs, 2);
  assertThrows(() => parseOptions(["--only", "nope"]), "unknown scenario");
  assertThrows(() => parseOptions(["--pairs", "3"]), "--pairs");
  assertThrows(() => parseOptions(["--fast"]), "unknown option");
});

Deno.test("childCpuSeconds reads the children's line of `times`", () => {
  assertEquals(childCpuSeconds("0m0.010s 0m0.020s\n1m2.500s 0m0.250s\n"), 62.75);
  assertEquals(Number.isNaN(childCpuSeconds("")), true);
});

Deno.test("parseH2load reads req/s and counts", () => {
  const out = "finished in 335.50ms, 5961.18 req/s, 304.10KB/s\n" +
    "requests: 2000 total, 2000 started, 2000 done, 1990 succeeded, 10 failed, 0 errored\n" +
    "status codes: 1990 2xx, 0 3xx, 0 4xx, 0 5xx\n";
  assertEquals(parseH2load(out), { reqPerSec: 5961.18, succeeded: 1990, ok2xx: 1990 });
});

Deno.test("summaryTable marks targets met, missed or absent", () => {
  const row = { scenario: "s", ours: "1", peer: "2", ratio: "0.5", target: "t" };
  const lines = summaryTable([{ ...row, met: true }, { ...row, met: false }, {
    ...row,
    met: null,
  }]);
  assertEquals(lines.slice(2).map((l) => l.split(" | ").at(-1)), ["met |", "**missed** |", "— |"]);
});
