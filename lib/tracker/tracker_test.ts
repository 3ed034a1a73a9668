import { strict as assert } from "node:assert";
import { ConnectionTracker, type TrackerOptions } from "./tracker.ts";
import type { TrackerEvent } from "./types.ts";

function setup(options: TrackerOptions = {}) {
  let now = 1_000_000;
  const tracker = new ConnectionTracker({ now: () => now, validationWindowMs: 1000, ...options });
  const events: TrackerEvent[] = [];
  tracker.subscribe((e) => events.push(e));
  return { tracker, events, advance: (ms: number) => (now += ms) };
}

Deno.test("tracker: ids are random, not addresses, and events carry increasing ids", () => {
  const { tracker, events } = setup();
  const a = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", "localhost");
  const b = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", "localhost");
  assert.match(a.id, /^[0-9a-f]{16}$/);
  assert.notEqual(a.id, b.id, "same address, different connections, different ids");
  tracker.close(a, "done");
  assert.deepEqual(events.map((e) => [e.id, e.type]), [
    [1, "connection_opened"],
    [2, "connection_opened"],
    [3, "connection_closed"],
  ]);
});

Deno.test("tracker: 100 connections that never migrate record 0 migrations", () => {
  const { tracker, advance } = setup();
  const conns = Array.from(
    { length: 100 },
    (_, i) => tracker.open("h3", `127.0.0.1:${5000 + i}`, "127.0.0.1:9443", null),
  );
  for (let round = 0; round < 5; round++) {
    for (const [i, c] of conns.entries()) {
      tracker.request(c, `127.0.0.1:${5000 + i}`);
      tracker.observe(c, `127.0.0.1:${5000 + i}`);
    }
    advance(500);
    tracker.tick();
  }
  assert.equal(tracker.summary().total_migrations, 0);
  assert.ok(conns.every((c) => c.migrationCount === 0 && c.requestCount === 5));
});

Deno.test("tracker: a request from a new port is a port change, validated by that request", () => {
  const { tracker, events, advance } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  advance(30);
  tracker.request(c, "127.0.0.1:5001");
  const m = c.events[0];
  assert.equal(c.migrationCount, 1);
  assert.equal(m.old_addr, "127.0.0.1:5000");
  assert.equal(m.new_addr, "127.0.0.1:5001");
  assert.equal(m.kind, "port_change");
  assert.equal(m.detected_by, "request");
  assert.equal(m.detection_window_ms, 30);
  assert.equal(m.outcome, "validated");
  assert.equal(m.validated, true);
  assert.deepEqual(events.slice(1).map((e) => e.type), ["migration", "migration_outcome"]);
});

Deno.test("tracker: the watcher's migration is pending until the window ends, then validated", () => {
  const { tracker, advance } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  tracker.observe(c, "127.0.0.2:5000");
  assert.equal(c.events[0].kind, "address_change");
  assert.equal(c.events[0].detected_by, "watcher");
  assert.equal(c.events[0].outcome, "pending");
  advance(999);
  tracker.tick();
  assert.equal(c.events[0].outcome, "pending");
  advance(1);
  tracker.tick();
  assert.equal(c.events[0].outcome, "validated");
  assert.equal(tracker.summary().migrations_by_outcome.validated, 1);
});

Deno.test("tracker: a return to the old address inside the window is one reverted migration", () => {
  const { tracker, events, advance } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  tracker.observe(c, "127.0.0.1:6000");
  advance(200);
  tracker.observe(c, "127.0.0.1:5000");
  assert.equal(c.migrationCount, 1);
  assert.equal(c.events[0].outcome, "reverted");
  assert.equal(c.events[0].validated, false);
  assert.equal(c.remoteAddr, "127.0.0.1:5000");
  assert.equal(events.filter((e) => e.type === "migration").length, 1);
});

Deno.test("tracker: an error or timeout inside the window marks the migration connection_lost", () => {
  for (const reason of ["idle timeout", "H3_INTERNAL_ERROR"]) {
    const { tracker, events } = setup();
    const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
    const counters = { bytesIn: 0, bytesOut: 0 };
    c.counters = counters;
    tracker.observe(c, "127.0.0.1:6000");
    counters.bytesIn += 4096; // traffic on the new path does not make an error ending normal
    tracker.close(c, reason, "error");
    assert.equal(c.events[0].outcome, "connection_lost", reason);
    assert.equal(c.events[0].validated, false);
    assert.equal(c.state, "closed");
    const settled = events.find((e) => e.type === "migration_outcome");
    assert.equal(
      settled?.type === "migration_outcome" && settled.migration.outcome,
      "connection_lost",
    );
    assert.equal(tracker.summary().migrations_by_outcome.connection_lost, 1);
  }
});

Deno.test("tracker: a close that does not say how it ended counts as an error", () => {
  const { tracker } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  tracker.observe(c, "127.0.0.1:6000");
  tracker.close(c, "gone");
  assert.equal(c.events[0].outcome, "connection_lost");
});

Deno.test("tracker: a normal close after body bytes on the new path validates the migration", () => {
  const { tracker, advance } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  const counters = { bytesIn: 10_000, bytesOut: 0 };
  c.counters = counters;
  tracker.observe(c, "127.0.0.1:6000");
  counters.bytesIn += 1; // one byte after the detection is traffic the new path carried
  advance(400);
  tracker.tick();
  assert.equal(c.events[0].outcome, "pending", "bytes alone do not end the window early");
  tracker.close(c, "H3_NO_ERROR", "normal");
  assert.equal(c.events[0].outcome, "validated");
  assert.equal(c.events[0].validated, true);
  const summary = tracker.summary().migrations_by_outcome;
  assert.equal(summary.validated, 1);
  assert.equal(summary.connection_lost, 0);
});

Deno.test("tracker: a normal close with no traffic after the move is closed_before_validation", () => {
  const { tracker } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  c.counters = { bytesIn: 10_000, bytesOut: 0 }; // all of it before the move
  tracker.observe(c, "127.0.0.1:6000");
  tracker.close(c, "H3_NO_ERROR", "normal");
  assert.equal(c.events[0].outcome, "closed_before_validation");
  assert.equal(c.events[0].validated, false);
  const summary = tracker.summary().migrations_by_outcome;
  assert.equal(summary.closed_before_validation, 1);
  assert.equal(summary.connection_lost, 0);
  assert.equal(summary.pending, 0);
});

Deno.test("tracker: a normal close after a revert keeps the revert; after the window, validated stands", () => {
  const { tracker, advance } = setup();
  const reverted = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  tracker.observe(reverted, "127.0.0.1:6000");
  tracker.observe(reverted, "127.0.0.1:5000");
  tracker.close(reverted, "H3_NO_ERROR", "normal");
  assert.equal(reverted.events[0].outcome, "reverted");
  const settled = tracker.open("h3", "127.0.0.1:5002", "127.0.0.1:9443", null);
  tracker.observe(settled, "127.0.0.1:6002");
  advance(1000);
  tracker.tick();
  tracker.close(settled, "idle timeout", "error");
  assert.equal(settled.events[0].outcome, "validated", "the close came after the window");
});

Deno.test("tracker: the request and the watcher seeing the same change make one event", () => {
  const { tracker, events } = setup();
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  tracker.observe(c, "127.0.0.1:6000");
  tracker.request(c, "127.0.0.1:6000");
  tracker.observe(c, "127.0.0.1:6000");
  assert.equal(c.migrationCount, 1);
  assert.equal(events.filter((e) => e.type === "migration").length, 1);
  assert.equal(c.events[0].outcome, "validated", "the request validated it");
});

Deno.test("tracker: events per connection are capped and the overflow counted", () => {
  const { tracker } = setup({ maxEventsPerConnection: 3 });
  const c = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", null);
  for (let i = 1; i <= 5; i++) tracker.request(c, `127.0.0.1:${5000 + i}`);
  assert.equal(c.migrationCount, 5);
  assert.equal(c.events.length, 3);
  assert.equal(c.eventsDropped, 2);
  assert.equal(c.events[0].new_addr, "127.0.0.1:5003");
  assert.equal(c.toJSON().migration_events_dropped, 2);
});

Deno.test("tracker: closed connections are kept for a bounded time and count", () => {
  const { tracker, advance } = setup({ maxClosed: 3, closedRetentionMs: 10_000 });
  const conns = Array.from({ length: 5 }, () => tracker.open("h2", "127.0.0.1:1", "x", null));
  for (const c of conns) tracker.close(c, "done");
  assert.equal([...tracker.closedConnections()].length, 3);
  assert.equal(tracker.get(conns[0].id), undefined);
  assert.ok(tracker.get(conns[4].id));
  advance(10_001);
  tracker.tick();
  assert.equal([...tracker.closedConnections()].length, 0);
});

Deno.test("tracker: paging returns every connection exactly once while others open and close", () => {
  const { tracker } = setup();
  const all = Array.from({ length: 25 }, (_, i) => tracker.open("h3", `127.0.0.1:${i}`, "x", null));
  const seen: string[] = [];
  let cursor: number | undefined;
  let pages = 0;
  for (;;) {
    const page = tracker.list({ limit: 10, cursor });
    seen.push(...page.connections.map((c) => c.id));
    pages++;
    // Churn between pages: close one already seen, open a new one (it sorts after the cursor).
    tracker.close(page.connections[0], "churn");
    if (pages === 1) all.push(tracker.open("h2", "127.0.0.1:99", "x", null));
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  assert.equal(seen.length, new Set(seen).size, "no duplicates");
  assert.deepEqual(new Set(seen), new Set(all.map((c) => c.id)), "none missing");
});

Deno.test("tracker: list filters by state, protocol and migrated", () => {
  const { tracker } = setup();
  const a = tracker.open("h3", "127.0.0.1:1", "x", null);
  const b = tracker.open("h2", "127.0.0.1:2", "x", null);
  tracker.request(a, "127.0.0.1:3");
  tracker.close(b, "done");
  assert.deepEqual(tracker.list({ limit: 10, state: "open" }).connections, [a]);
  assert.deepEqual(tracker.list({ limit: 10, state: "closed" }).connections, [b]);
  assert.deepEqual(tracker.list({ limit: 10, protocol: "h2" }).connections, [b]);
  assert.deepEqual(tracker.list({ limit: 10, migrated: true }).connections, [a]);
});

Deno.test("tracker: events can be replayed after an id, and a gap is reported", () => {
  const { tracker } = setup({ eventBufferSize: 4 });
  const c = tracker.open("h3", "127.0.0.1:1", "x", null);
  tracker.request(c, "127.0.0.1:2"); // migration + outcome
  assert.deepEqual(tracker.eventsSince(1)!.map((e) => e.type), ["migration", "migration_outcome"]);
  tracker.request(c, "127.0.0.1:3");
  tracker.request(c, "127.0.0.1:4");
  assert.equal(tracker.lastEventId, 7);
  assert.equal(tracker.eventsSince(1), null, "events 2 and 3 were overwritten");
  assert.deepEqual(tracker.eventsSince(3)!.map((e) => e.id), [4, 5, 6, 7]);
  assert.deepEqual(tracker.eventsSince(7), []);
});

Deno.test("tracker: a throwing subscriber is dropped and cannot fail the caller or starve others", () => {
  const { tracker, events } = setup();
  let calls = 0;
  tracker.subscribe(() => {
    calls++;
    throw new Error("client went away");
  });
  const c = tracker.open("h3", "127.0.0.1:1", "x", null);
  tracker.request(c, "127.0.0.1:2");
  assert.equal(calls, 1, "dropped after its first failure");
  assert.deepEqual(events.map((e) => e.type), [
    "connection_opened",
    "migration",
    "migration_outcome",
  ]);
  assert.equal(c.migrationCount, 1);
});

Deno.test("tracker: listing forgets closed connections past retention even without ticks", () => {
  const { tracker, advance } = setup({ closedRetentionMs: 1000 });
  const c = tracker.open("h2", "127.0.0.1:1", "x", null);
  tracker.close(c, "done");
  assert.equal(tracker.list({ limit: 10 }).connections.length, 1);
  advance(1001);
  assert.equal(tracker.list({ limit: 10 }).connections.length, 0);
});

Deno.test("tracker: leaving the balancer's address is the preferred-address hand-off, not a migration", () => {
  const { tracker, advance } = setup({ balancerSources: new Set(["198.18.0.1", "::1"]) });
  const c = tracker.open("h3", "198.18.0.1:40000", "198.18.0.11:9443", "localhost");
  advance(10);
  tracker.observe(c, "198.18.7.2:5000");
  tracker.request(c, "198.18.7.2:5000");
  advance(10);
  tracker.request(c, "198.18.7.2:5001"); // a NAT rebinding after the hand-off
  advance(10);
  tracker.request(c, "198.18.8.2:6000"); // a network switch
  assert.deepEqual(c.events.map((e) => [e.kind, e.old_addr, e.new_addr, e.outcome]), [
    ["preferred_address", "198.18.0.1:40000", "198.18.7.2:5000", "validated"],
    ["port_change", "198.18.7.2:5000", "198.18.7.2:5001", "validated"],
    ["address_change", "198.18.7.2:5001", "198.18.8.2:6000", "validated"],
  ]);
  assert.equal(c.migrationCount, 2, "the hand-off is not counted as a migration");
  assert.equal(tracker.summary().total_migrations, 2);

  const v6 = tracker.open("h3", "[::1]:40000", "[::1]:9443", null);
  tracker.request(v6, "[::1]:40001");
  assert.equal(v6.events[0].kind, "port_change", "between two balancer addresses: a rebinding");
  tracker.request(v6, "[2001:db8::2]:7");
  assert.equal(v6.events[1].kind, "preferred_address", "IPv6 hosts compare without brackets");
});

Deno.test("tracker: without balancer sources no change is ever a hand-off", () => {
  const { tracker } = setup();
  const c = tracker.open("h3", "198.18.0.1:40000", "198.18.0.11:9443", null);
  tracker.request(c, "198.18.7.2:5000");
  assert.equal(c.events[0].kind, "address_change");
  assert.equal(c.migrationCount, 1);
});
