/**
 * Redis failures never take a node down, against a real redis-server stopped and restarted on
 * the same port: the node degrades (one log line, `/healthz`, a metric), keeps tracking, and
 * when Redis returns writes every event it held, or counts it as dropped and says so in the
 * stream; a node that starts while Redis is away runs degraded and still closes promptly.
 */

import { strict as assert } from "node:assert";
import { ClusterState } from "../lib/cluster/cluster_state.ts";
import type { ClusterStreamEntry } from "../lib/cluster/cluster_record.ts";
import { withTimeout } from "../lib/timeout.ts";
import { ConnectionTracker } from "../lib/tracker/tracker.ts";
import { allEntries, startNode, stateReached, withRedis } from "./support/cluster_nodes.ts";
import { startRedis } from "./support/redis.ts";

Deno.test("cluster: Redis stops for 2 s mid-run: the node degrades, then writes every event it held", async () => {
  await withRedis(async (redis, nodes) => {
    const a = await startNode(redis, "node-a");
    nodes.push(a);
    const stop = new AbortController();
    const follower = a.cluster.follower.follow("0-0", stop.signal);
    const followed: ClusterStreamEntry[] = [];
    const following = (async () => {
      for await (const item of follower) if (item.id !== null) followed.push(item);
    })();
    const steady = a.tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:443", null);
    const moving = a.tracker.open("h3", "127.0.0.1:5001", "127.0.0.1:443", null);
    assert.ok(await a.cluster.sink.flush());

    const windowIds: number[] = [];
    const unsubscribe = a.tracker.subscribe((event) => windowIds.push(event.id));
    const degraded = stateReached(a.cluster, "degraded", 5000);
    await redis.pause();
    await degraded;
    // The outage: the node goes on tracking; nothing it does may throw.
    const outageEnd = Date.now() + 2000;
    for (let i = 0; i < 100 && Date.now() < outageEnd; i++) {
      a.tracker.observe(moving, `127.0.0.1:${6000 + i}`);
      const brief = a.tracker.open("h2", `127.0.0.1:${7000 + i}`, "127.0.0.1:443", null);
      a.tracker.close(brief, "done", "normal");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await a.cluster.sink.flush(), false, "nothing written while Redis is away");
    assert.equal(a.cluster.health().status, "degraded");
    assert.match(a.cluster.renderMetrics(), /cluster_redis_up\{node="node-a"\} 0/);
    const ok = stateReached(a.cluster, "ok", 10_000);
    await redis.resume();
    await ok;
    assert.ok(await a.cluster.sink.flush());
    unsubscribe();

    const stats = a.cluster.sink.stats;
    assert.equal(stats.written + stats.dropped, stats.produced, "written + dropped == produced");
    assert.equal(stats.queued, 0);
    assert.equal(stats.dropped, 0, "the queue was large enough");
    assert.ok(stats.failures > 0);
    assert.ok(windowIds.length > 30, `events during the outage (${windowIds.length})`);
    // Redis came back empty (no persistence): the stream holds exactly the window's events…
    const entries = await allEntries(a.cluster);
    assert.deepEqual(entries.map((e) => e.event.id), windowIds, "each one, once, in order");
    // …and the node wrote its records again, the untouched connection's too.
    assert.equal((await a.cluster.directory.get(steady.id))?.state, "open");
    assert.deepEqual(await a.cluster.directory.get(moving.id), {
      ...moving.toJSON(),
      node: "node-a",
    });
    assert.ok(moving.migrationCount >= 10);
    assert.equal(a.warnings.length, 2, a.warnings.join("\n"));
    assert.match(a.warnings[0], /Redis unreachable/);
    assert.match(a.warnings[1], /reachable again.*none dropped/);
    assert.match(a.cluster.renderMetrics(), /cluster_events_written_total\{node="node-a"\} \d+/);

    // The live reader went on across the outage and got the window's events too.
    await withTimeout(
      (async () => {
        for (let i = 0; i < 1000 && followed.length < 2 + windowIds.length; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
      5000,
      "the follower catching up",
    );
    const afterOutage = followed.slice(-windowIds.length);
    assert.deepEqual(afterOutage.map((e) => e.id), entries.map((e) => e.id));
    stop.abort();
    await withTimeout(following, 5000, "the follower ending");
  });
});

Deno.test("cluster: a tiny queue drops the oldest events, counts them and says so in the stream", async () => {
  await withRedis(async (redis, nodes) => {
    const a = await startNode(redis, "node-a", { sink: { queueCapacity: 5 } });
    nodes.push(a);
    const degraded = stateReached(a.cluster, "degraded", 5000);
    await redis.pause();
    await degraded;
    const ids: number[] = [];
    a.tracker.subscribe((event) => ids.push(event.id));
    for (let i = 0; i < 20; i++) {
      a.tracker.open("h3", `127.0.0.1:${5000 + i}`, "127.0.0.1:443", null);
    }
    assert.equal(a.cluster.sink.stats.dropped, 15);
    const ok = stateReached(a.cluster, "ok", 10_000);
    await redis.resume();
    await ok;
    assert.ok(await a.cluster.sink.flush());
    const stats = a.cluster.sink.stats;
    assert.equal(stats.produced, 20);
    assert.equal(stats.dropped, 15);
    assert.equal(stats.written, 5);
    assert.equal(stats.written + stats.dropped, stats.produced);
    const entries = await allEntries(a.cluster);
    assert.deepEqual(entries[0].event, {
      id: 0,
      type: "events_dropped",
      node: "node-a",
      dropped: 15,
    });
    assert.deepEqual(entries.slice(1).map((e) => e.event.id), ids.slice(15), "the newest five");
    assert.match(a.warnings.at(-1) ?? "", /15 dropped while it was away/);
    assert.match(a.cluster.renderMetrics(), /cluster_events_dropped_total\{node="node-a"\} 15/);
    // The connections themselves are all there: records are rewritten, not queued.
    assert.equal((await a.cluster.directory.counts()).open, 20);
  });
});

Deno.test("cluster: a node that starts while Redis is away runs degraded and closes promptly", async () => {
  const redis = await startRedis();
  const url = redis.url;
  await redis.stop(); // nothing listens there now
  const tracker = new ConnectionTracker();
  const warnings: string[] = [];
  const cluster = new ClusterState(tracker, {
    redisUrl: url,
    connectWaitMs: 300,
    warn: (line) => warnings.push(line),
  });
  const started = Date.now();
  assert.equal(await cluster.start("node-a"), "degraded");
  const conn = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:443", null);
  tracker.close(conn, "done", "normal");
  assert.deepEqual(cluster.health(), { status: "degraded", redis: "degraded", node: "node-a" });
  assert.equal(await cluster.close(300), false, "what it held did not reach Redis");
  assert.ok(Date.now() - started < 3000, "neither start nor close waits for Redis");
  assert.equal(cluster.sink.stats.queued, 2, "held, not lost: reported as queued");
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /Redis unreachable/);
});
