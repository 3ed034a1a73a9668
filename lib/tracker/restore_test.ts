import { strict as assert } from "node:assert";
import { ConnectionTracker, LOST_AT_RESTART, type TrackerOptions } from "./tracker.ts";
import type { ConnectionInfo, TrackerEvent } from "./types.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");

function setup(options: TrackerOptions = {}) {
  let now = T0 + 60_000;
  const tracker = new ConnectionTracker({ now: () => now, validationWindowMs: 1000, ...options });
  const events: TrackerEvent[] = [];
  tracker.subscribe((e) => events.push(e));
  return { tracker, events, advance: (ms: number) => (now += ms) };
}

/** A record as an earlier process's API reported it. */
function info(
  id: string,
  startOffset: number,
  patch: Partial<ConnectionInfo> = {},
): ConnectionInfo {
  return {
    connection_id: id,
    protocol: "h3",
    state: "closed",
    remote_addr: "127.0.0.1:5001",
    local_addr: "127.0.0.1:9443",
    server_name: "localhost",
    start_time: new Date(T0 + startOffset).toISOString(),
    last_seen: new Date(T0 + startOffset + 1000).toISOString(),
    request_count: 7,
    bytes_in: 10,
    bytes_out: 20,
    migration_count: 0,
    migration_events: [],
    migration_events_dropped: 0,
    close_reason: "H3_NO_ERROR",
    ...patch,
  };
}

const MIGRATION = {
  timestamp: new Date(T0 + 500).toISOString(),
  old_addr: "127.0.0.1:5000",
  new_addr: "127.0.0.1:5001",
  kind: "port_change" as const,
  detected_by: "watcher" as const,
  detection_window_ms: 12,
};

Deno.test("restore: closed records come back as they were, without events", () => {
  const { tracker, events } = setup();
  const saved = info("aaaaaaaaaaaaaaaa", 0, {
    migration_count: 3,
    migration_events: [{ ...MIGRATION, validated: true, outcome: "validated" }],
    migration_events_dropped: 2,
  });
  const kept = tracker.restore([saved]);
  assert.equal(kept.length, 1);
  assert.deepEqual(tracker.get(saved.connection_id)!.toJSON(), saved);
  assert.deepEqual(events, [], "nothing happened now: no connection_opened, no close");
  assert.equal(tracker.lastEventId, 0);
  assert.equal(tracker.summary().closed, 1);
  assert.equal(tracker.summary().open, 0);
  assert.equal(tracker.summary().total_migrations, 3);
  assert.equal(tracker.summary().migrations_by_outcome.validated, 1);
});

Deno.test("restore: an open record is closed lost_at_restart and its pending migration lost", () => {
  const { tracker } = setup();
  const saved = info("bbbbbbbbbbbbbbbb", 0, {
    state: "open",
    close_reason: null,
    migration_count: 1,
    migration_events: [{ ...MIGRATION, validated: false, outcome: "pending" }],
  });
  tracker.restore([saved]);
  const conn = tracker.get(saved.connection_id)!.toJSON();
  assert.equal(conn.state, "closed");
  assert.equal(conn.close_reason, LOST_AT_RESTART);
  assert.equal(conn.last_seen, saved.last_seen, "the moment it died is unknown: last seen kept");
  assert.equal(conn.migration_events[0].outcome, "connection_lost");
  assert.equal(saved.migration_events[0].outcome, "pending", "the input is not modified");
  assert.equal(tracker.summary().migrations_by_outcome.pending, 0);
});

Deno.test("restore: old connections page first in opening order, new ones after them", () => {
  const { tracker } = setup();
  tracker.restore([info("cccccccccccccccc", 300), info("aaaaaaaaaaaaaaaa", 100)]);
  tracker.restore([info("bbbbbbbbbbbbbbbb", 200), info("aaaaaaaaaaaaaaaa", 100)]); // one known
  const fresh = tracker.open("h2", "127.0.0.1:7000", "127.0.0.1:9443", null);
  const first = tracker.list({ limit: 2 });
  const second = tracker.list({ limit: 2, cursor: first.nextCursor! });
  assert.deepEqual(first.connections.map((c) => c.id), ["aaaaaaaaaaaaaaaa", "cccccccccccccccc"]);
  assert.deepEqual(second.connections.map((c) => c.id), ["bbbbbbbbbbbbbbbb", fresh.id]);
  assert.equal(second.nextCursor, null);
  assert.equal(tracker.summary().closed, 3, "the repeated record was skipped");
});

Deno.test("restore: retention keeps the newest closes within --max-closed and --closed-ttl", () => {
  const { tracker, advance } = setup({ maxClosed: 2, closedRetentionMs: 60_000 });
  // Closed at T0+1 s … T0+41 s (start + 1 s), all within retention at T0+60 s: the cap decides.
  const infos = [0, 10_000, 20_000, 40_000].map((t, i) => info(`${i}`.repeat(16), t));
  const kept = tracker.restore(infos);
  assert.deepEqual(kept.map((c) => c.id), ["2222222222222222", "3333333333333333"]);
  assert.equal(tracker.get("0000000000000000"), undefined);
  advance(30_000); // T0+90 s: the close at T0+21 s is past the 60 s retention now
  const c = tracker.open("h3", "127.0.0.1:1", "x", null);
  tracker.close(c, "done");
  assert.deepEqual([...tracker.closedConnections()].map((x) => x.id), ["3333333333333333", c.id]);
  tracker.tick();
  assert.equal(tracker.get("2222222222222222"), undefined);
});

Deno.test("restore: a stream resuming from an id of the previous process is told to reload", () => {
  const { tracker } = setup();
  tracker.restore([info("aaaaaaaaaaaaaaaa", 0)]);
  tracker.open("h3", "127.0.0.1:1", "x", null);
  assert.equal(tracker.lastEventId, 1);
  assert.equal(tracker.eventsSince(500), null, "id 500 predates the restart");
  assert.deepEqual(tracker.eventsSince(1), []);
});
