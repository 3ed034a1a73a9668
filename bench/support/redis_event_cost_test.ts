/**
 * Tests of the Redis-cost part of the `cluster` scenario: the tool's command line and result
 * line, and real runs of the tool (`bench/tools/redis_sink_cost.ts`) with and without a Redis,
 * which must count every event and, with Redis, have written each of them before the CPU time
 * is read.
 */

import { strict as assert } from "node:assert";
import { parseSinkCostRun, sinkCostCommand } from "./redis_event_cost.ts";
import { capture } from "./process.ts";
import { startRedis } from "../../tests/support/redis.ts";

/** Upper bound for one small run of the tool (a cold module cache compiles first). */
const RUN_MS = 60_000;

Deno.test("sinkCostCommand passes Redis only to the run with Redis", () => {
  const plain = sinkCostCommand(300);
  const redis = sinkCostCommand(300, { url: "redis://127.0.0.1:6400", pid: 77 });
  const after = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];
  assert.ok(plain.some((arg) => arg.endsWith("bench/tools/redis_sink_cost.ts")));
  assert.equal(after(plain, "--cycles"), "300");
  assert.ok(!plain.includes("--redis") && !plain.includes("--redis-pid"));
  assert.equal(after(redis, "--redis"), "redis://127.0.0.1:6400");
  assert.equal(after(redis, "--redis-pid"), "77");
  // The two runs differ only in the Redis flags.
  assert.deepEqual(redis.slice(0, plain.length), plain);
});

Deno.test("parseSinkCostRun reads the result line among others, or nothing", () => {
  const out = 'starting\nresult {"cpuS":0.5,"ms":2000,"events":100,"written":100,' +
    '"dropped":0,"redisServerCpuS":null}\n';
  assert.deepEqual(parseSinkCostRun(out), {
    cpuS: 0.5,
    ms: 2000,
    events: 100,
    written: 100,
    dropped: 0,
    redisServerCpuS: null,
  });
  assert.equal(parseSinkCostRun("no result here\n"), undefined);
  assert.equal(parseSinkCostRun("result {not json\n"), undefined);
});

Deno.test("redis_sink_cost: every event counted; with Redis every one written before the reading", async () => {
  const cycles = 300;
  const plainRun = await capture(sinkCostCommand(cycles), {}, RUN_MS);
  assert.equal(plainRun.code, 0, plainRun.stderr);
  const plain = parseSinkCostRun(plainRun.stdout);
  assert.ok(plain, plainRun.stdout);
  assert.equal(plain.events, 2 * cycles);
  assert.equal(plain.written, 0);
  assert.ok(plain.cpuS > 0, `CPU ${plain.cpuS}`);

  const redis = await startRedis();
  try {
    const out = await capture(
      sinkCostCommand(cycles, { url: redis.url, pid: Deno.pid }),
      {},
      RUN_MS,
    );
    assert.equal(out.code, 0, out.stderr);
    const run = parseSinkCostRun(out.stdout);
    assert.ok(run, out.stdout);
    assert.equal(run.events, 2 * cycles);
    assert.equal(run.written, 2 * cycles, "written before the CPU time was read");
    assert.equal(run.dropped, 0);
    assert.ok(typeof run.redisServerCpuS === "number" && run.redisServerCpuS >= 0);
  } finally {
    await redis.stop();
  }
});

Deno.test("redis_sink_cost fails with its reason when Redis cannot be reached", async () => {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const out = await capture(
    sinkCostCommand(10, { url: "redis://127.0.0.1:1", pid: Deno.pid }),
    {},
    RUN_MS,
  );
  assert.notEqual(out.code, 0);
  assert.equal(parseSinkCostRun(out.stdout), undefined);
  assert.match(out.stderr, /not reachable/);
});
