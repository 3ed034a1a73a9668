/**
 * The API's limits and visibility rules hold in cluster mode too (two in-process nodes on a real
 * redis-server): `/api/events` streams at most `--max-event-streams` at once (503 beyond), a
 * stream that is not read is ended at `--event-stream-buffer` bytes and resumes on the other
 * node from its last stream id; a restricted client sees only its own connection, with its node.
 */

import { strict as assert } from "node:assert";
import type { H3Client } from "../lib/h3/client.ts";
import { withTimeout } from "../lib/timeout.ts";
import {
  connectionIdOf,
  flushBoth,
  getJson,
  streamAfter,
  type TwoNodes,
  withTwoNodes,
} from "./support/cluster_servers.ts";
import { readToEnd, sseReader } from "./support/sse.ts";

/** The value of an unlabelled metric on the node `client` talks to. */
async function metric(client: H3Client, name: string): Promise<number> {
  const text = await (await client.fetch("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

/** `pairs` connections opened and closed on node-b's tracker, written to Redis. */
async function churn(nodes: TwoNodes, pairs: number): Promise<void> {
  for (let i = 0; i < pairs; i++) {
    const conn = nodes.b.tracker.open("h3", `127.0.0.1:${20_000 + i}`, "127.0.0.1:9443", null);
    nodes.b.tracker.close(conn, "churn");
  }
  await flushBoth(nodes);
}

Deno.test("cluster API: --max-event-streams and --event-stream-buffer hold; an ended stream resumes on the other node", async () => {
  await withTwoNodes(async (nodes) => {
    const { a, b } = nodes;
    const stalled = await a.client();
    const control = await a.client();
    const onB = await b.client();
    try {
      const res = await stalled.fetch("/api/events"); // its body is not read until it is ended
      assert.equal(res.status, 200);
      const busy = await control.fetch("/api/events");
      assert.equal(busy.status, 503, "the one stream slot is taken");
      assert.equal(busy.headers.get("retry-after"), "10");
      assert.equal((await busy.json()).error, "too_many_event_streams");
      assert.equal(await metric(control, "sse_streams_open"), 1);

      // Events from the other node until node-a gives up on the stalled stream. Bounded: a
      // node that buffers without end fails here.
      let emitted = 0;
      while ((await metric(control, "sse_streams_dropped_total")) === 0) {
        assert.ok(emitted < 40_000, `still not ended after ${emitted} events`);
        await churn(nodes, 250);
        emitted += 500;
      }
      assert.equal(await metric(control, "sse_streams_open"), 0, "its slot is free");
      assert.equal(await metric(control, "sse_streams_refused_total"), 1);

      const text = await readToEnd(res.body!, "the stalled stream");
      assert.match(
        text,
        /: ended: more than 4096 bytes of events went unread; reconnect with Last-Event-ID\n\n$/,
      );
      const lastId = [...text.matchAll(/^id: (\d+-\d+)$/gm)].at(-1)?.[1];
      assert.ok(lastId !== undefined, "some events arrived before the end");

      // It resumes on node-b: the next event is the stream's next entry, nothing skipped.
      const expected = (await streamAfter(b, lastId))[0];
      assert.ok(expected !== undefined, "events followed the last one received");
      const resumed = await onB.fetch("/api/events", { headers: { "last-event-id": lastId } });
      assert.equal(resumed.status, 200);
      const next = sseReader(resumed.body!);
      const first = await withTimeout(next(), 5000, "the first resumed event");
      await next.cancel();
      assert.equal(first.id, expected.id);
      assert.equal(first.event, expected.event.type);
    } finally {
      for (const client of [stalled, control, onB]) client.close();
    }
  }, { limits: { maxEventStreams: 1, eventStreamBufferBytes: 4096 } });
});

Deno.test("cluster API: a restricted client sees only its own connection, with its node", async () => {
  await withTwoNodes(async (nodes) => {
    const { a, b } = nodes;
    const restricted = await a.client();
    const elsewhere = await b.client();
    try {
      const own = await connectionIdOf(restricted);
      const theirs = await connectionIdOf(elsewhere);
      await flushBoth(nodes);
      const { status, body } = await getJson(restricted, "/api/connections");
      assert.equal(status, 200);
      assert.equal(body.scope, "own");
      assert.deepEqual(Object.keys(body.connections), [own]);
      assert.equal(body.connections[own].node, "node-a");
      assert.equal(body.summary, undefined, "no cluster-wide totals either");
      const other = await getJson(restricted, `/api/connections/${theirs}`);
      assert.equal(other.status, 403, "another node's connection is someone else's");
      const self = await getJson(restricted, `/api/connections/${own}`);
      assert.equal(self.status, 200);
      assert.equal(self.body.node, "node-a");
      // With the admin token the same client sees the whole cluster.
      const admin = await restricted.fetch("/api/connections", {
        headers: { authorization: `Bearer ${a.adminToken}` },
      });
      const all = await admin.json();
      assert.equal(all.scope, "all");
      assert.equal(all.connections[theirs]?.node, "node-b");
    } finally {
      restricted.close();
      elsewhere.close();
    }
  }, { publicDashboard: "off" });
});
