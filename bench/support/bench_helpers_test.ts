/**
 * Fast tests of the benchmark task's helpers (`bench/support/`): statistics, option parsing,
 * the parsing of client output, the summary table, the check for the ceiling probe and the
 * environment's deferred cleanups. Nothing here spawns a process or opens a socket.
 */

import {
  interleave,
  median,
  medianInterval,
  percentile,
  roundRatios,
  type Sample,
} from "./stats.ts";
import { withInterval } from "./h3_comparison.ts";
import { parseOptions, SCENARIOS } from "./options.ts";
import { childCpuSeconds, parseGtlsResponses, parseH2load } from "./client_output.ts";
import { summaryTable } from "./report.ts";
import { BenchEnv, CEILING_PROBE, ceilingProbeMissing } from "./env.ts";

function assertEquals<T>(actual: T, expected: T, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message ? `${message}: ` : ""}expected ${e}, got ${a}`);
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

Deno.test("medianInterval: order statistics with binomial coverage, none with too few values", () => {
  // Tables of the sign test: ranks 4 and 12 of 15, 10 and 21 of 30; 6 values are the fewest.
  const upTo = (n: number) => [...Array(n).keys()].map((i) => n - i); // any order
  assertEquals(medianInterval(upTo(15)), { low: 4, high: 12, confidence: 0.965 });
  assertEquals(medianInterval(upTo(30)), { low: 10, high: 21, confidence: 0.957 });
  assertEquals(medianInterval(upTo(6)), { low: 1, high: 6, confidence: 0.969 });
  assertEquals(medianInterval(upTo(5)), undefined);
  assertEquals(medianInterval([]), undefined);
  // A lower confidence narrows it.
  assertEquals(medianInterval(upTo(15), 0.8), { low: 5, high: 11, confidence: 0.882 });
  assertEquals(
    withInterval(0.985, { low: 0.905, high: 1.074, confidence: 0.965 }),
    "0.99 (0.91–1.07)",
  );
  assertEquals(withInterval(0.985, undefined), "0.99");
});

Deno.test("roundRatios pairs by round and skips failed runs", () => {
  const s = (round: number, target: string, value: number, ok = true): Sample => ({
    round,
    target,
    value,
    ok,
  });
  const samples = [s(1, "a", 10), s(1, "b", 20), s(2, "a", 30), s(2, "b", 10, false)];
  assertEquals(roundRatios(samples, "a", "b"), [0.5]);
  assertEquals(roundRatios(samples, "b", "a"), [2]);
});

Deno.test("interleave runs A B C A B C after one uncounted warm-up round", async () => {
  const order: string[] = [];
  const samples = await interleave(["a", "b", "c"], 2, (target, round) => {
    order.push(`${target}${round}`);
    return Promise.resolve({ value: round, ok: true });
  }, "x");
  assertEquals(order, ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]);
  assertEquals(samples.map((x) => x.round), [1, 1, 1, 2, 2, 2]);
});

Deno.test("parseOptions: defaults, --only, --quick, --rounds and errors", () => {
  assertEquals(parseOptions([]).only, [...SCENARIOS]);
  assertEquals(parseOptions(["--", "--only", "one"]).only, ["one"]); // a task's `--` is skipped
  assertEquals(parseOptions([]).rounds, 5);
  assertEquals(parseOptions(["--only", "bulk,many"]).only, ["many", "bulk"]);
  assertEquals(parseOptions(["--quick"]).rounds, 2);
  assertEquals(parseOptions(["--quick", "--rounds", "1", "--requests", "50"]).requests, 50);
  assertEquals(parseOptions(["--rounds", "15"]).rounds, 15);
  assertEquals(parseOptions(["--pairs", "7"]).rounds, 7);
  assertEquals(parseOptions([]).clusterNodes, 3);
  assertEquals(parseOptions(["--only", "cluster", "--cluster-nodes", "2"]).clusterNodes, 2);
  assertThrows(() => parseOptions(["--cluster-nodes", "9"]), "--cluster-nodes");
  assertThrows(() => parseOptions(["--only", "nope"]), "unknown scenario");
  assertThrows(() => parseOptions(["--rounds", "3"]), "--rounds");
  assertThrows(() => parseOptions(["--pairs", "3"]), "--pairs");
  assertThrows(() => parseOptions(["--rounds", "6", "--pairs", "6"]), "not both");
  assertThrows(() => parseOptions(["--rounds", "5.5"]), "integer");
  assertThrows(() => parseOptions(["--fast"]), "unknown option");
});

Deno.test("parseOptions: --out names a results file apart, and allows fewer rounds", () => {
  assertEquals(parseOptions([]).out, undefined);
  const apart = parseOptions(["--only", "cluster", "--rounds", "3", "--out", "2026-11-28-cluster"]);
  assertEquals(apart.out, "2026-11-28-cluster");
  assertEquals(apart.rounds, 3);
  assertThrows(() => parseOptions(["--out", "../x"]), "without a folder");
  assertThrows(() => parseOptions(["--out", "x.json"]), "extension");
  assertThrows(() => parseOptions(["--out", ".hidden"]), "without a folder");
  assertThrows(() => parseOptions(["--out", "x", "--quick"]), "no result");
  assertThrows(() => parseOptions(["--out"]), "needs a value");
});

Deno.test("childCpuSeconds reads the children's line of `times`", () => {
  assertEquals(childCpuSeconds("0m0.010s 0m0.020s\n1m2.500s 0m0.250s\n"), 62.75);
  assertEquals(Number.isNaN(childCpuSeconds("")), true);
});

Deno.test("parseGtlsResponses reads every status and the first response's fields", () => {
  const out =
    "http: stream 0x0 [:status: 200]\nhttp: stream 0x0 [content-type: application/json]\n" +
    "http: stream 0x4 [:status: 200]\nhttp: stream 0x8 [:status: 503]\nother line\n";
  assertEquals(parseGtlsResponses(out), {
    statuses: ["200", "200", "503"],
    firstFields: [":status: 200", "content-type: application/json"],
  });
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

Deno.test("ceilingProbeMissing names the probe's path when shared/ is not beside the repo", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/repo`);
    const missing = await ceilingProbeMissing(`${dir}/repo/`);
    assertEquals(missing?.includes(CEILING_PROBE), true);
    assertEquals(missing?.includes("\n"), false);
    await Deno.mkdir(`${dir}/shared/probes`, { recursive: true });
    await Deno.writeTextFile(`${dir}/shared/probes/h3-ceiling.ts`, "");
    assertEquals(await ceilingProbeMissing(`${dir}/repo/`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BenchEnv.defer: runs once, now or at the end of the scenario, the latest first", async () => {
  const env = await BenchEnv.create();
  try {
    const done: string[] = [];
    const early = env.defer(() => Promise.resolve(void done.push("early")));
    env.defer(() => Promise.resolve(void done.push("first")));
    env.defer(() => Promise.resolve(void done.push("second")));
    env.defer(() => Promise.reject(new Error("a failing cleanup does not stop the others")));
    env.defer(() => Promise.resolve(void done.push("third")));
    await early();
    await early();
    assertEquals(done, ["early"]);
    await env.stopAll();
    assertEquals(done, ["early", "third", "second", "first"]);
    await env.stopAll();
    assertEquals(done.length, 4, "each runs once");
  } finally {
    await env.close();
  }
});

Deno.test("bench-steps options: --tcp and --bare are flags, off unless given", async () => {
  const { parseStepsOptions } = await import("../steps.ts");
  const plain = parseStepsOptions(["--commits", "A,B"]);
  assertEquals([plain.tcp, plain.bare], [false, false]);
  const tcp = parseStepsOptions([
    "--",
    "--commits",
    "A,B",
    "--tcp",
    "--path",
    "/healthz",
    "--bare",
  ]);
  assertEquals([tcp.tcp, tcp.bare, tcp.path, tcp.commits], [true, true, "/healthz", ["A", "B"]]);
  assertThrows(() => parseStepsOptions(["--commits", "A", "--tcp"]), "at least two commits");
});
