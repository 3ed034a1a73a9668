import { strict as assert } from "node:assert";
import { ConnectionTracker } from "../tracker/tracker.ts";
import {
  decodeRecord,
  decodeStreamEntry,
  encodeDroppedNotice,
  encodeRecord,
  lostAtRestart,
} from "./cluster_record.ts";
import { flushArguments, flushKeys, parseFlushReply } from "./flush_script.ts";
import { clusterKeys, compareStreamIds, isStreamId, parseStreamId } from "./redis_keys.ts";

Deno.test("keys: one prefix, per-node keys for closed sets and written marks", () => {
  const keys = clusterKeys("p");
  assert.equal(keys.records, "p:conn");
  assert.equal(keys.closed("n1"), "p:closed:n1");
  assert.equal(keys.written("n1"), "p:written:n1");
  assert.deepEqual(flushKeys(keys, "n2"), [
    "p:conn",
    "p:index",
    "p:open",
    "p:closed:n2",
    "p:seq",
    "p:events",
    "p:written:n2",
    "p:nodes",
    "p:summary",
  ]);
});

Deno.test("stream ids: parsed, checked and ordered as Redis orders them", () => {
  assert.deepEqual(parseStreamId("1700000000000-12"), { ms: 1700000000000, seq: 12 });
  for (const bad of ["", "1", "1-", "-1", "a-1", "1-2-3", "1-2 ", "99999999999999999-0"]) {
    assert.equal(isStreamId(bad), false, bad);
  }
  assert.ok(compareStreamIds("1-2", "1-10") < 0, "sequence compares as a number");
  assert.ok(compareStreamIds("2-0", "1-99") > 0);
  assert.equal(compareStreamIds("5-5", "5-5"), 0);
  assert.throws(() => compareStreamIds("x", "1-1"), TypeError);
});

Deno.test("records: encoded with the node, decoded only when whole", () => {
  const tracker = new ConnectionTracker();
  const conn = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:443", null);
  const json = encodeRecord(conn.toJSON(), "n1");
  assert.deepEqual(decodeRecord(json), { ...conn.toJSON(), node: "n1" });
  assert.equal(decodeRecord(JSON.stringify(conn.toJSON())), undefined, "no node");
  assert.equal(decodeRecord("{"), undefined);
  assert.equal(decodeRecord(null), undefined);
  assert.equal(decodeRecord(JSON.stringify({ node: "n1" })), undefined);
});

Deno.test("records: an open record of a dead process becomes closed, lost at restart", () => {
  const tracker = new ConnectionTracker();
  const conn = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:443", null);
  tracker.observe(conn, "127.0.0.1:5001"); // a migration still pending
  const info = decodeRecord(encodeRecord(conn.toJSON(), "n1"))!;
  const lost = lostAtRestart(info);
  assert.equal(lost.state, "closed");
  assert.equal(lost.close_reason, "lost_at_restart");
  assert.equal(lost.migration_events[0].outcome, "connection_lost");
  assert.equal(info.migration_events[0].outcome, "pending", "the input is not changed");
});

Deno.test("stream entries: decoded when they are ours, skipped otherwise", () => {
  const tracker = new ConnectionTracker();
  const events: string[] = [];
  tracker.subscribe((e) => events.push(JSON.stringify(e)));
  tracker.open("h2", "127.0.0.1:5000", "127.0.0.1:443", null);
  const entry = decodeStreamEntry("1-0", {
    node: "n1",
    type: "connection_opened",
    json: events[0],
  });
  assert.equal(entry?.event.type, "connection_opened");
  assert.equal(entry?.node, "n1");
  const notice = decodeStreamEntry("2-0", {
    node: "n1",
    type: "events_dropped",
    json: encodeDroppedNotice("n1", 7),
  });
  assert.deepEqual(notice?.event, { id: 0, type: "events_dropped", node: "n1", dropped: 7 });
  assert.equal(decodeStreamEntry("1-0", { node: "n1", type: "other", json: "{}" }), undefined);
  assert.equal(
    decodeStreamEntry("1-0", { node: "n1", type: "migration", json: events[0] }),
    undefined,
    "type and JSON disagree",
  );
  assert.equal(decodeStreamEntry("1-0", { type: "connection_opened", json: events[0] }), undefined);
});

Deno.test("flush arguments: counted lists in the order the script reads them", () => {
  const args = flushArguments({
    node: "n1",
    boot: "b",
    streamMaxLen: 100,
    cutoffMs: 1234.7,
    maxClosed: 10,
    records: [{ id: "c1", state: "closed", lastSeenMs: 99.5, json: "{}" }],
    deletes: ["c2", "c3"],
    notice: { no: 2, json: "N" },
    events: [{ seq: 7, type: "migration", json: "E" }],
    summary: "S",
  });
  assert.deepEqual(args, [
    "n1",
    "b",
    "100",
    "1234",
    "10",
    "1",
    "c1",
    "closed",
    "99",
    "{}",
    "2",
    "c2",
    "c3",
    "2",
    "N",
    "1",
    "7",
    "migration",
    "E",
    "S",
  ]);
  const none = flushArguments({
    node: "n1",
    boot: "b",
    streamMaxLen: 1,
    cutoffMs: 0,
    maxClosed: 1,
    records: [],
    deletes: [],
    events: [],
    summary: "{}",
  });
  assert.deepEqual(none.slice(5), ["0", "0", "0", "", "0", "{}"]);
  assert.deepEqual(parseFlushReply([3, 1, 1]), { added: 3, pruned: 1, known: true });
  assert.deepEqual(parseFlushReply([0, 0, 0]), { added: 0, pruned: 0, known: false });
  assert.throws(() => parseFlushReply("OK"), /unexpected reply/);
});

Deno.test("node summaries: the cluster's totals add up every node's, skipping what is not one", async () => {
  const { encodeNodeSummary, sumNodeSummaries } = await import("./cluster_record.ts");
  const a = encodeNodeSummary({
    total_migrations: 3,
    migrations_by_outcome: { validated: 2, pending: 1 },
  });
  const b = encodeNodeSummary({
    total_migrations: 2,
    migrations_by_outcome: { validated: 1, connection_lost: 1, pending: 0 },
  });
  assert.deepEqual(sumNodeSummaries([a, b, "not json", '{"total_migrations":"x"}', "null"]), {
    total_migrations: 5,
    migrations_by_outcome: { validated: 3, pending: 1, connection_lost: 1 },
    nodes: 2,
  });
  assert.deepEqual(sumNodeSummaries([]), {
    total_migrations: 0,
    migrations_by_outcome: {},
    nodes: 0,
  });
});
