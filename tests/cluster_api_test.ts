/**
 * The HTTP API in cluster mode, end to end over HTTP/3: two nodes in this process (127.0.0.2
 * and 127.0.0.3) sharing a real redis-server. Any node's `/api/connections` lists both nodes'
 * connections (each with its `node`), filtered and paged; a node answers `/api/connections/:id`
 * for the other's connection; an SSE client reading one node's `/api/events` resumes on the
 * other with `Last-Event-ID` and gets every event of the Redis stream exactly once; a 5 s Redis
 * outage fails no request, `/healthz` says degraded then ok, and each event of the window
 * reaches Redis or is counted as dropped; a connection opened on one node shows in the other's
 * listing within a second.
 */

import { strict as assert } from "node:assert";
import type { H3Client } from "../lib/h3/client.ts";
import { withTimeout } from "../lib/timeout.ts";
import type { TrackerEvent } from "../lib/tracker/types.ts";
import {
  connectionIdOf,
  flushBoth,
  getJson,
  streamAfter,
  until,
  withTwoNodes,
} from "./support/cluster_servers.ts";
import { stateReached } from "./support/cluster_nodes.ts";
import { type SseMessage, sseReader } from "./support/sse.ts";

/** Ids listed on one page of `/api/connections` with `query`, and the body. */
async function listed(client: H3Client, query = "") {
  const { status, body } = await getJson(client, `/api/connections${query}`);
  assert.equal(status, 200);
  return { ids: Object.keys(body.connections), body };
}

Deno.test("cluster API: each node lists both nodes' connections with their node, and answers for the other's", async () => {
  await withTwoNodes(async (nodes) => {
    const { a, b } = nodes;
    const onA = await a.client();
    const onB = await b.client();
    const alsoOnA = await a.client();
    try {
      const idA = await connectionIdOf(onA);
      const idB = await connectionIdOf(onB);
      const idA2 = await connectionIdOf(alsoOnA);
      await flushBoth(nodes);
      for (const [client, name] of [[onA, "node-a"], [onB, "node-b"]] as const) {
        const { body } = await listed(client, "?state=open");
        assert.equal(body.source, "cluster", name);
        assert.equal(body.scope, "all");
        assert.equal(body.next_cursor, null);
        assert.equal(body.connections[idA]?.node, "node-a", `${name} lists node-a's connection`);
        assert.equal(body.connections[idA2]?.node, "node-a");
        assert.equal(body.connections[idB]?.node, "node-b", `${name} lists node-b's connection`);
        assert.equal(body.connections[idB].connection_id, idB);
        assert.equal(body.summary.open, 3, "the cluster's open connections");
        assert.equal(body.summary.node, name);
      }

      // Paging through both nodes' connections, one a page: each exactly once.
      const paged: string[] = [];
      let cursor: number | null = null;
      for (let page = 0; page < 10; page++) {
        const query: string = `?state=all&limit=1${cursor === null ? "" : `&cursor=${cursor}`}`;
        const { ids, body } = await listed(onB, query);
        paged.push(...ids);
        cursor = body.next_cursor;
        if (cursor === null) break;
      }
      const whole = (await listed(onB, "?state=all&limit=100")).ids;
      assert.deepEqual(paged, whole, "the pages hold the listing, each connection once");
      assert.deepEqual([...paged].sort(), [idA, idB, idA2].sort());
      assert.deepEqual((await listed(onA, "?protocol=h2")).ids, [], "filters apply");
      const bad = await getJson(onA, "/api/connections?state=sideways");
      assert.equal(bad.status, 400, "the same validation as a single node");

      // node-b answers for node-a's connection: the record, without what only node-a counts.
      const detail = await getJson(onB, `/api/connections/${idA}`);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.connection_id, idA);
      assert.equal(detail.body.node, "node-a");
      assert.equal(detail.body.state, "open");
      assert.equal(detail.body.source, "cluster");
      assert.equal(detail.body.request_activity, null);
      const own = await getJson(onB, `/api/connections/${idB}`);
      assert.equal(own.body.node, "node-b");
      assert.ok(own.body.request_activity !== null, "its own node has the live counters");
      const missing = await getJson(onB, "/api/connections/0123456789abcdef");
      assert.equal(missing.status, 404);

      // A connection opened on node-a appears in node-b's listing within a second.
      const opened = Date.now();
      const late = await a.client();
      try {
        const idLate = await connectionIdOf(late);
        const seenAfter = await until(
          async () => {
            const { ids } = await listed(onB, "?state=open");
            return ids.includes(idLate) ? Date.now() - opened : undefined;
          },
          5000,
          "the new connection on node-b",
        );
        assert.ok(seenAfter < 1000, `visible on the other node after ${seenAfter} ms`);
        console.log(`cross-node visibility: ${seenAfter} ms`);
      } finally {
        late.close();
      }

      // /metrics: the cluster section, labelled with this node.
      const metrics = await (await onB.fetch("/metrics")).text();
      assert.match(metrics, /^cluster_redis_up\{node="node-b"\} 1$/m);
      assert.match(metrics, /^cluster_events_written_total\{node="node-b"\} [1-9]\d*$/m);
      assert.match(metrics, /^cluster_events_dropped_total\{node="node-b"\} 0$/m);
      assert.deepEqual(await (await onA.fetch("/healthz")).json(), { status: "ok" });
    } finally {
      for (const client of [onA, onB, alsoOnA]) client.close();
    }
  });
});

/** Messages up to the first `done` accepts, within `ms` each; fails on a `reset`. */
async function messages(
  next: () => Promise<SseMessage>,
  done: (message: SseMessage) => boolean,
  ms: number,
): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for (let i = 0; i < 10_000; i++) {
    const message = await withTimeout(next(), ms, `event ${i + 1}`);
    assert.notEqual(message.event, "reset", message.data);
    out.push(message);
    if (done(message)) return out;
  }
  throw new Error("too many events");
}

Deno.test("cluster API: an event stream read on node-a resumes on node-b with Last-Event-ID, every event once", async () => {
  await withTwoNodes(async (nodes) => {
    const { a, b } = nodes;
    const watcher = await a.client();
    const watcherOnB = await b.client();
    const churn = async () => {
      for (const server of [a, b, a]) {
        const client = await server.client();
        await connectionIdOf(client);
        client.close();
      }
    };
    // Each node's only open connection is then the watcher's: every close has been reported.
    const settled = () =>
      until(
        () =>
          Promise.resolve(
            a.tracker.summary().open === 1 && b.tracker.summary().open === 1 ? true : undefined,
          ),
        5000,
        "the closes",
      );
    try {
      await flushBoth(nodes);
      const start = await a.cluster!.directory.lastEventId();
      const res = await watcher.fetch("/api/events", { headers: { "last-event-id": start } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      const fromA = sseReader(res.body!);
      await churn();
      await settled();
      await flushBoth(nodes);
      const headA = await a.cluster!.directory.lastEventId();
      const first = await messages(fromA, (m) => m.id === headA, 5000);
      await fromA.cancel();

      // While the client is away, more happens on both nodes; then it resumes on node-b.
      await churn();
      await settled();
      await flushBoth(nodes);
      const headB = await b.cluster!.directory.lastEventId();
      const resumed = await watcherOnB.fetch(`/api/events`, {
        headers: { "last-event-id": first.at(-1)!.id! },
      });
      assert.equal(resumed.status, 200);
      const fromB = sseReader(resumed.body!);
      const rest = await messages(fromB, (m) => m.id === headB, 5000);
      // And live events after the catch-up, from the other node.
      const live = await a.client();
      const liveId = await connectionIdOf(live);
      const tail = await messages(
        fromB,
        (m) =>
          m.event === "connection_opened" &&
          JSON.parse(m.data!).connection.connection_id === liveId,
        5000,
      );
      live.close();
      await fromB.cancel();

      const received = [...first, ...rest, ...tail];
      const stream = await streamAfter(b, start);
      const upTo = stream.findIndex((e) => e.id === received.at(-1)!.id);
      assert.ok(upTo >= 0, "the last event received is in the stream");
      assert.deepEqual(
        received.map((m) => m.id),
        stream.slice(0, upTo + 1).map((e) => e.id),
        "every event of the stream, once, in order, across the two nodes",
      );
      for (const [i, message] of received.entries()) {
        const entry = stream[i];
        const data = JSON.parse(message.data!);
        assert.equal(message.event, entry.event.type);
        assert.equal(data.node, entry.node);
        const event = entry.event as TrackerEvent;
        const expected = "connection" in event
          ? { ...event, node: entry.node, connection: { ...event.connection, node: entry.node } }
          : { ...event, node: entry.node };
        assert.deepEqual(data, expected, `payload of ${message.id}`);
      }
      const nodesSeen = new Set(received.map((m) => JSON.parse(m.data!).node));
      assert.deepEqual([...nodesSeen].sort(), ["node-a", "node-b"], "events of both nodes");
      assert.ok(received.length >= 12, `${received.length} events`);

      // An id this Redis never had gets a reset, then the stream goes on.
      const future = await watcherOnB.fetch("/api/events", {
        headers: { "last-event-id": `${Date.now() + 86_400_000}-0` },
      });
      const reset = sseReader(future.body!);
      assert.equal((await withTimeout(reset(), 5000, "the reset")).event, "reset");
      await reset.cancel();
    } finally {
      watcher.close();
      watcherOnB.close();
    }
  });
});

Deno.test("cluster API: Redis stops for 5 s: no request fails, /healthz degraded then ok, every event of the window reaches Redis or is counted", async () => {
  await withTwoNodes(async (nodes) => {
    const { redis, a, b } = nodes;
    const servers = [a, b];
    const names = ["node-a", "node-b"];
    const pollers = [await a.client(), await b.client()];
    const observers = [await a.client(), await b.client()];
    const failures: string[] = [];
    let requests = 0;
    let stopLoad = false;
    // A client on each node keeps GETting /api/test throughout.
    const load = pollers.map(async (client, i) => {
      for (let n = 0; n < 100_000 && !stopLoad; n++) {
        try {
          const res = await client.fetch("/api/test");
          await res.body?.cancel();
          if (res.status === 200) requests++;
          else failures.push(`${names[i]}: /api/test answered ${res.status}`);
        } catch (error) {
          failures.push(`${names[i]}: ${error}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    const watcher = sseReader((await observers[1].fetch("/api/events")).body!);
    try {
      const theirs = await connectionIdOf(observers[1]);
      await flushBoth(nodes);
      const windowIds: number[][] = [[], []];
      const unsubscribe = servers.map((server, i) =>
        server.tracker.subscribe((event) => windowIds[i].push(event.id))
      );
      const degraded = servers.map((s) => stateReached(s.cluster!, "degraded", 5000));
      const outageStart = Date.now();
      await redis.pause();
      await Promise.all(degraded);

      // The outage: both nodes serve, track and answer from what they hold themselves.
      const openedOnA: string[] = [];
      for (let round = 0; round < 100 && Date.now() - outageStart < 5000; round++) {
        for (const [i, server] of servers.entries()) {
          const brief = await server.client();
          const id = await connectionIdOf(brief);
          if (i === 0) openedOnA.push(id);
          brief.close();
          const health = await getJson(observers[i], "/healthz");
          assert.equal(health.status, 200, "a degraded node still answers 200");
          assert.deepEqual(health.body, {
            status: "degraded",
            cluster: { status: "degraded", redis: "degraded", node: names[i] },
          });
          const { body } = await listed(observers[i]);
          assert.equal(body.source, "local (cluster store unreachable)");
          assert.ok(body.connections[id] !== undefined, "this node's own connections");
          assert.equal(body.connections[id].node, names[i]);
        }
        const other = await getJson(observers[0], `/api/connections/${theirs}`);
        assert.equal(other.status, 404, "another node's connection cannot be looked up");
        assert.equal(other.body.error, "not_found");
        assert.match(other.body.detail, /cluster store unreachable/);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const metricsDown = await (await observers[0].fetch("/metrics")).text();
      assert.match(metricsDown, /^cluster_redis_up\{node="node-a"\} 0$/m);

      const back = servers.map((s) => stateReached(s.cluster!, "ok", 15_000));
      await redis.resume();
      await Promise.all(back);
      for (const observer of observers) {
        await until(
          async () => {
            const { body } = await getJson(observer, "/healthz");
            return body.status === "ok" ? body : undefined;
          },
          5000,
          "healthz ok",
        ).then((body) => assert.deepEqual(body, { status: "ok" }));
      }
      await flushBoth(nodes);
      for (const off of unsubscribe) off();

      // Every event of the window reached Redis, or is counted as dropped, on both nodes.
      const stream = await streamAfter(a, "0-0");
      for (const [i, server] of servers.entries()) {
        const stats = server.cluster!.sink.stats;
        assert.equal(stats.written + stats.dropped, stats.produced, names[i]);
        assert.equal(stats.queued, 0);
        const inStream = new Set(
          stream.filter((e) => e.node === names[i]).map((e) => e.event.id),
        );
        const missing = windowIds[i].filter((id) => !inStream.has(id)).length;
        const notices = stream
          .filter((e) => e.node === names[i] && e.event.type === "events_dropped")
          .reduce((sum, e) => sum + (e.event as { dropped: number }).dropped, 0);
        assert.equal(missing, notices, `${names[i]}: missing events are the dropped ones`);
        assert.equal(notices, stats.dropped);
        assert.ok(windowIds[i].length >= 10, `${names[i]}: ${windowIds[i].length} events`);
        const text = await (await observers[i].fetch("/metrics")).text();
        assert.match(
          text,
          new RegExp(
            `^cluster_events_dropped_total\\{node="${names[i]}"\\} ${stats.dropped}$`,
            "m",
          ),
        );
        assert.match(text, new RegExp(`^cluster_redis_up\\{node="${names[i]}"\\} 1$`, "m"));
      }

      // The event stream open on node-b through the outage carries the window's events.
      const lastOpened = openedOnA.at(-1)!;
      await messages(
        watcher,
        (m) =>
          m.event === "connection_opened" &&
          JSON.parse(m.data!).connection.connection_id === lastOpened,
        10_000,
      );
      // And the listing is the cluster's again.
      const { body } = await listed(observers[0], "?state=open");
      assert.equal(body.source, "cluster");
      assert.equal(body.connections[theirs]?.node, "node-b");
    } finally {
      stopLoad = true;
      await Promise.all(load);
      await watcher.cancel();
      for (const client of [...pollers, ...observers]) client.close();
    }
    assert.deepEqual(failures, [], "no request failed");
    assert.ok(requests > 100, `${requests} requests answered`);
  });
});
