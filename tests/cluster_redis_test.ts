/**
 * The Redis-shared cluster state against a real redis-server (started here on a free loopback
 * port): two nodes' trackers writing to one Redis and each node's directory seeing both, with
 * tracker.list's filters and paging; records refreshed and pruned by retention; the event stream
 * resumed on another node exactly once; a restart that closes the previous process's open
 * connections as lost; and the server wiring.
 */

import { strict as assert } from "node:assert";
import { ClusterState } from "../lib/cluster/cluster_state.ts";
import { ClusterConnectionDirectory } from "../lib/cluster/cluster_directory.ts";
import type { ClusterStreamEntry } from "../lib/cluster/cluster_record.ts";
import { startServer } from "../lib/start_server.ts";
import { withTimeout } from "../lib/timeout.ts";
import { ConnectionTracker } from "../lib/tracker/tracker.ts";
import { allEntries, startNode, take, withRedis } from "./support/cluster_nodes.ts";
import { startRedis } from "./support/redis.ts";

/** A tracker's outcome counts with `validated` validated migrations and nothing else. */
function expectedOutcomes(validated: number): Record<string, number> {
  const outcomes = new ConnectionTracker().summary().migrations_by_outcome;
  for (const key of Object.keys(outcomes)) outcomes[key] = 0;
  return { ...outcomes, validated };
}

Deno.test("cluster: two nodes write to one Redis; each node's directory lists both", async () => {
  await withRedis(async (redis, nodes) => {
    const a = await startNode(redis, "node-a");
    const b = await startNode(redis, "node-b");
    nodes.push(a, b);
    const a1 = a.tracker.open("h3", "127.0.0.1:5001", "127.0.0.1:443", "localhost");
    const a2 = a.tracker.open("h2", "127.0.0.1:5002", "127.0.0.1:443", null);
    const b1 = b.tracker.open("h3", "127.0.0.1:6001", "127.0.0.1:443", null);
    a.tracker.request(a1, "127.0.0.1:5009"); // a port change, validated at once
    b.tracker.close(b1, "client closed", "normal");
    assert.ok(await a.cluster.sink.flush());
    assert.ok(await b.cluster.sink.flush());

    for (const reader of [a, b]) {
      const page = await reader.cluster.directory.list({ state: "all", limit: 100 });
      assert.deepEqual(
        page.connections.map((c) => [c.connection_id, c.node, c.state]),
        [[a1.id, "node-a", "open"], [a2.id, "node-a", "open"], [b1.id, "node-b", "closed"]],
      );
      assert.equal(page.nextCursor, null);
    }
    const seen = await b.cluster.directory.get(a1.id);
    assert.equal(seen?.node, "node-a");
    assert.equal(seen?.migration_count, 1);
    assert.equal(seen?.migration_events[0].outcome, "validated");
    assert.equal(await b.cluster.directory.get("0000000000000000"), undefined);

    // The filters and paging of tracker.list: each connection once across pages.
    const dir = b.cluster.directory;
    assert.deepEqual(
      (await dir.list({ state: "open", limit: 10 })).connections.map((c) => c.connection_id),
      [a1.id, a2.id],
    );
    assert.deepEqual(
      (await dir.list({ state: "closed", limit: 10 })).connections.map((c) => c.connection_id),
      [b1.id],
    );
    assert.deepEqual(
      (await dir.list({ migrated: true, limit: 10 })).connections.map((c) => c.connection_id),
      [a1.id],
    );
    assert.deepEqual(
      (await dir.list({ protocol: "h2", limit: 10 })).connections.map((c) => c.connection_id),
      [a2.id],
    );
    const paged: string[] = [];
    let cursor: number | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await dir.list({ state: "all", limit: 1, cursor });
      paged.push(...page.connections.map((c) => c.connection_id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(paged, [a1.id, a2.id, b1.id]);
    assert.deepEqual(await dir.counts(), {
      open: 2,
      total: 3,
      migrations: { total_migrations: 1, migrations_by_outcome: expectedOutcomes(1), nodes: 2 },
    });
    // Any node's listing gives the cluster's totals, not its own.
    const listing = new ClusterConnectionDirectory(b.tracker, b.cluster);
    const summary = (await listing.list({ state: "all", limit: 1 })).summary;
    assert.equal(summary.total_migrations, 1, "node-b made none; node-a's counts");
    assert.equal(summary.migrations_by_outcome.validated, 1);
  });
});

Deno.test("cluster: records refresh their counts without events; retention prunes closed ones", async () => {
  await withRedis(async (redis, nodes) => {
    let now = Date.parse("2026-03-01T00:00:00Z");
    const clock = () => now;
    const a = await startNode(redis, "node-a", {
      now: clock,
      tracker: { now: clock, maxClosed: 2, closedRetentionMs: 60_000 },
      sink: { refreshMs: 20 },
    });
    nodes.push(a);
    const conn = a.tracker.open("h3", "127.0.0.1:5001", "127.0.0.1:443", null);
    assert.ok(await a.cluster.sink.flush());
    now += 1000;
    a.tracker.request(conn, "127.0.0.1:5001"); // no event: the refresh timer writes it
    await withTimeout(
      (async () => {
        for (let i = 0; i < 500; i++) {
          if ((await a.cluster.directory.get(conn.id))?.request_count === 1) return;
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
      5000,
      "the refreshed record",
    );

    const closed = [1, 2, 3].map((i) => {
      const c = a.tracker.open("h3", `127.0.0.1:${5100 + i}`, "127.0.0.1:443", null);
      now += 10;
      a.tracker.close(c, "done", "normal");
      return c.id;
    });
    assert.ok(await a.cluster.sink.flush());
    const listed = await a.cluster.directory.list({ state: "closed", limit: 10 });
    assert.deepEqual(listed.connections.map((c) => c.connection_id), closed.slice(1), "max 2");

    now += 61_000; // past closedRetentionMs: hidden at once, pruned at the next write
    assert.deepEqual(
      (await a.cluster.directory.list({ state: "closed", limit: 10 })).connections,
      [],
    );
    assert.equal(await a.cluster.directory.get(closed[2]), undefined);
    assert.ok(await a.cluster.sink.flush());
    assert.equal((await a.cluster.directory.counts()).total, 1, "only the open one is left");
    assert.ok(a.cluster.sink.stats.pruned >= 2, "the two past retention");
  });
});

Deno.test("cluster: a stream read on node A resumes on node B from its last id, exactly once", async () => {
  await withRedis(async (redis, nodes) => {
    // Only the explicit flushes write, so the stream's order is the test's.
    const sink = { intervalMs: 60_000, refreshMs: 60_000 };
    const a = await startNode(redis, "node-a", { sink });
    const b = await startNode(redis, "node-b", { sink });
    nodes.push(a, b);
    const stop = new AbortController();
    const onA = a.cluster.follower.follow("0-0", stop.signal);
    const first = onA.next(); // joins the live loop, then reads from the start
    const c1 = a.tracker.open("h3", "127.0.0.1:5001", "127.0.0.1:443", null);
    b.tracker.open("h3", "127.0.0.1:6001", "127.0.0.1:443", null);
    await a.cluster.sink.flush(); // one after the other: the stream's order is then known
    await b.cluster.sink.flush();
    const head = [(await withTimeout(first, 5000, "first entry")).value!];
    head.push(...await take(onA, 1, 5000));
    stop.abort();
    await onA.return(undefined);
    const lastId = (head[1] as ClusterStreamEntry).id;

    // Events the reader missed while it reconnected, then live ones after it resumed on B.
    a.tracker.request(c1, "127.0.0.1:5002");
    a.tracker.close(c1, "done", "normal");
    await a.cluster.sink.flush();
    const onB = b.cluster.follower.follow(lastId);
    const missed = await take(onB, 3, 5000);
    b.tracker.open("h2", "127.0.0.1:6002", "127.0.0.1:443", null);
    a.tracker.open("h2", "127.0.0.1:5003", "127.0.0.1:443", null);
    await b.cluster.sink.flush();
    await a.cluster.sink.flush();
    const live = await take(onB, 2, 5000);
    await onB.return(undefined);

    const all = await allEntries(b.cluster);
    const received = [...head, ...missed, ...live] as ClusterStreamEntry[];
    assert.ok(received.every((e) => e.id !== null), "no reset");
    assert.deepEqual(
      received.map((e) => e.id),
      all.map((e) => e.id),
      "every entry, once, in order",
    );
    assert.deepEqual(received.slice(2, 5).map((e) => e.event.type), [
      "migration",
      "migration_outcome",
      "connection_closed",
    ]);
    assert.deepEqual(received.map((e) => e.node), [
      "node-a",
      "node-b",
      "node-a",
      "node-a",
      "node-a",
      "node-b",
      "node-a",
    ]);
    // An id from another Redis (newer than anything here) is a reset, not silence.
    const future = b.cluster.follower.follow(`${Date.now() + 86_400_000}-0`);
    const [reset] = await take(future, 1, 5000);
    assert.equal(reset.id, null);
    await future.return(undefined);
    assert.equal(await b.cluster.directory.eventsSince(`${Date.now() + 86_400_000}-0`), null);
  });
});

Deno.test("cluster: a restarted node closes its previous process's open connections as lost", async () => {
  await withRedis(async (redis, nodes) => {
    const first = await startNode(redis, "node-a");
    const other = await startNode(redis, "node-b");
    nodes.push(other);
    const conn = first.tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:443", null);
    first.tracker.observe(conn, "127.0.0.1:5001"); // a migration still in its window
    const theirs = other.tracker.open("h3", "127.0.0.1:6000", "127.0.0.1:443", null);
    assert.ok(await other.cluster.sink.flush());
    assert.ok(await first.cluster.close()); // the process ends with the connection open
    const second = await startNode(redis, "node-a");
    nodes.push(second);
    assert.ok(await second.cluster.sink.flush());
    const lost = await second.cluster.directory.get(conn.id);
    assert.equal(lost?.state, "closed");
    assert.equal(lost?.close_reason, "lost_at_restart");
    assert.equal(lost?.migration_events[0].outcome, "connection_lost");
    assert.equal((await second.cluster.directory.get(theirs.id))?.state, "open", "not ours");
  });
});

Deno.test("cluster: startServer with a Redis URL writes as the node and closes it at shutdown", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir({ prefix: "quic-cluster-" });
  try {
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      dataDir,
      log: () => {},
      cluster: { redisUrl: redis.url },
    });
    try {
      assert.equal(server.cluster?.node, `127.0.0.1:${server.port}`);
      assert.equal(server.cluster?.state, "ok");
      server.tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:443", null);
      assert.ok(await server.cluster!.sink.flush());
      const page = await server.cluster!.directory.list({ limit: 10 });
      assert.equal(page.connections[0]?.node, `127.0.0.1:${server.port}`);
    } finally {
      await server.shutdown(500);
    }
    assert.equal(server.cluster!.sink.stats.queued, 0, "shutdown wrote the final closes");
    const reader = new ClusterState(new ConnectionTracker(), { redisUrl: redis.url });
    try {
      await reader.start("reader");
      const page = await reader.directory.list({ limit: 10 });
      assert.equal(page.connections[0]?.close_reason, "server shutdown");
    } finally {
      await reader.close();
    }
  } finally {
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
