import { strict as assert } from "node:assert";
import { FakeClock } from "../../tests/support/fake_clock.ts";
import { ConnectionTracker, type TrackedConnection } from "../tracker/tracker.ts";
import type { TrackerEvent } from "../tracker/types.ts";
import { MigrationWatcher, watcherMetrics } from "./migration_watcher.ts";
import { sliceRounds } from "./watch_slices.ts";

/** A tracker and a watcher on one fake clock, with `n` connections whose reads are counted. */
function setup(
  n: number,
  intervalMs = 50,
  maxReadsPerSlice = 64,
  maxReadsPerSecond = Infinity,
  quietIntervalMs?: number,
) {
  const clock = new FakeClock();
  const tracker = new ConnectionTracker({ now: () => clock.now() });
  const watcher = new MigrationWatcher(tracker, intervalMs, {
    clock,
    maxReadsPerSlice,
    maxReadsPerSecond,
    quietIntervalMs,
  });
  const events: TrackerEvent[] = [];
  tracker.subscribe((e) => events.push(e));
  const conns: Array<{ record: TrackedConnection; addr: string; reads: number }> = [];
  /** Reads per slice, by slice number. */
  const readsBySlice = new Map<number, number>();
  const add = () => {
    const addr = `127.0.0.1:${10_000 + conns.length}`;
    const entry = { record: tracker.open("h3", addr, "127.0.0.1:9443", null), addr, reads: 0 };
    conns.push(entry);
    watcher.watch(entry.record, {
      remoteAddr: () => {
        entry.reads++;
        readsBySlice.set(watcher.slices, (readsBySlice.get(watcher.slices) ?? 0) + 1);
        return entry.addr;
      },
    });
    return entry;
  };
  for (let i = 0; i < n; i++) add();
  return { clock, tracker, watcher, events, conns, readsBySlice, add };
}

Deno.test("watch slices: a round is cut so no slice reads more than asked, within the interval", () => {
  assert.deepEqual(sliceRounds(1000, 50, 64), { slices: 16, readsPerSlice: 63, spacingMs: 3.125 });
  assert.deepEqual(sliceRounds(10, 50, 64), { slices: 1, readsPerSlice: 10, spacingMs: 50 });
  assert.deepEqual(sliceRounds(0, 50, 64), { slices: 1, readsPerSlice: 0, spacingMs: 50 });
  // Slices no closer than 1 ms: a short interval reads more per slice instead.
  assert.deepEqual(sliceRounds(1000, 1, 64), { slices: 1, readsPerSlice: 1000, spacingMs: 1 });
  assert.deepEqual(sliceRounds(1000, 4, 64), { slices: 4, readsPerSlice: 250, spacingMs: 1 });
  // A limit at least the connections open: one pass per interval.
  assert.deepEqual(sliceRounds(1000, 50, 1000), { slices: 1, readsPerSlice: 1000, spacingMs: 50 });
});

/** Nudges the watcher every `everyMs` for `forMs`, as requests arriving would. */
async function busy(clock: FakeClock, watcher: MigrationWatcher, forMs: number, everyMs = 1) {
  for (let t = 0; t < forMs; t += everyMs) {
    await clock.advance(everyMs);
    watcher.nudge();
  }
}

Deno.test("watcher: idle, one pass per interval, each connection read once, one timer", async () => {
  const { clock, watcher, conns, readsBySlice } = setup(200);
  await clock.advance(49);
  assert.equal(conns[0].reads, 0, "nothing before the interval");
  for (let interval = 1; interval <= 3; interval++) {
    await clock.advance(interval === 1 ? 1 : 50);
    for (const c of conns) assert.equal(c.reads, interval, "one read per connection per interval");
  }
  assert.equal(watcher.slices, 3, "no wake-up but the interval's");
  assert.deepEqual([...readsBySlice.values()], [200, 200, 200]);
  assert.equal(clock.pendingTimers, 1);
  watcher.stop();
});

Deno.test("watcher: busy, nudges read in slices of at most twice the share, once per interval", async () => {
  const { clock, watcher, conns, readsBySlice } = setup(1000);
  await busy(clock, watcher, 500);
  // 1,000 connections: 16 slices of 62.5 reads, every 3.125 ms, per 50 ms.
  const total = conns.reduce((sum, c) => sum + c.reads, 0);
  assert.equal(total, 10_000, "ten intervals: ten reads per connection");
  for (const c of conns) assert.ok(c.reads >= 9 && c.reads <= 11, `read ${c.reads} times`);
  const most = Math.max(...readsBySlice.values());
  assert.ok(most <= 2 * 63, `no slice over twice its share (largest ${most})`);
  // A nudge each millisecond on a millisecond clock finds a slice due every 4 ms.
  assert.ok(watcher.slices >= 100, `spread over many slices (${watcher.slices})`);
  watcher.stop();
});

Deno.test("watcher: nudges that stop leave the rest of the round to the timer", async () => {
  const { clock, watcher, conns } = setup(1000);
  await busy(clock, watcher, 20); // about 400 reads by nudges
  const byNudges = conns.reduce((sum, c) => sum + c.reads, 0);
  assert.ok(byNudges > 0 && byNudges < 1000, `${byNudges} reads by nudges`);
  await clock.advance(30); // the timer at 50 ms reads what is owed
  assert.ok(conns.every((c) => c.reads === 1), "the round completes at the interval");
  watcher.stop();
});

Deno.test("watcher: with a share at least the connections open, nudges leave it all to the timer", async () => {
  const { clock, watcher, readsBySlice } = setup(200, 50, 1000);
  await busy(clock, watcher, 100);
  assert.deepEqual([...readsBySlice.values()], [200, 200], "two intervals, two passes");
  watcher.maxReadsPerSlice = 64; // switched while running, as the benchmark does
  readsBySlice.clear();
  await busy(clock, watcher, 50);
  assert.ok(readsBySlice.size >= 4, "slices again");
  assert.ok(Math.max(...readsBySlice.values()) <= 100);
  watcher.stop();
});

Deno.test("watcher: a move of an idle connection is seen within one interval, by the watcher", async () => {
  const { clock, watcher, conns, events } = setup(200);
  await clock.advance(50);
  conns[150].addr = "127.0.0.1:40000";
  await clock.advance(50);
  const migrations = events.filter((e) => e.type === "migration");
  assert.equal(migrations.length, 1);
  const m = migrations[0];
  assert.ok(m.type === "migration");
  assert.equal(m.connection_id, conns[150].record.id);
  assert.equal(m.migration.detected_by, "watcher");
  assert.equal(m.migration.new_addr, "127.0.0.1:40000");
  assert.equal(m.migration.detection_window_ms, 50, "since the read one interval before");
  watcher.stop();
});

Deno.test("watcher: a move of a connection among busy ones is seen within one interval", async () => {
  const { clock, watcher, conns, events } = setup(1000);
  await busy(clock, watcher, 50);
  conns[700].addr = "127.0.0.1:40000";
  await busy(clock, watcher, 50);
  const migration = events.find((e) => e.type === "migration");
  assert.ok(migration?.type === "migration");
  assert.equal(migration.connection_id, conns[700].record.id);
  assert.ok(migration.migration.detection_window_ms <= 50);
  watcher.stop();
});

Deno.test("watcher: stop ends the reads and start resumes them; the last unwatch stops the timer", async () => {
  const { clock, watcher, conns } = setup(100);
  await clock.advance(50);
  watcher.stop();
  assert.equal(clock.pendingTimers, 0);
  await busy(clock, watcher, 200);
  assert.ok(conns.every((c) => c.reads === 1), "no read while stopped, nudged or not");
  watcher.start();
  await clock.advance(50);
  assert.ok(conns.every((c) => c.reads === 2), "reads again after start");
  for (const c of conns) watcher.unwatch(c.record);
  assert.equal(clock.pendingTimers, 0, "nothing left to watch: no timer");
});

Deno.test("watcher: a connection opened during a round is read within the next interval", async () => {
  const { clock, watcher, add } = setup(1000);
  await busy(clock, watcher, 30);
  const late = add();
  await busy(clock, watcher, 50);
  assert.ok(late.reads >= 1, "read within one interval of being watched");
  watcher.stop();
});

Deno.test("watcher: a validation window ends at the first pass after it runs out", async () => {
  const { clock, tracker, watcher, conns, events } = setup(200);
  conns[0].addr = "127.0.0.1:40000";
  await clock.advance(50);
  assert.equal(tracker.summary().migrations_by_outcome.pending, 1);
  await clock.advance(1000); // the 1,000 ms window, ended by the pass at its end
  const outcome = events.find((e) => e.type === "migration_outcome");
  assert.ok(outcome?.type === "migration_outcome");
  assert.equal(outcome.migration.outcome, "validated");
  watcher.stop();
});

Deno.test("watcher: a connection whose address cannot be read is skipped, not a migration", async () => {
  const { clock, tracker, watcher, events } = setup(3);
  const broken = tracker.open("h3", "127.0.0.1:20000", "127.0.0.1:9443", null);
  let attempts = 0;
  watcher.watch(broken, {
    remoteAddr: () => {
      attempts++;
      throw new Error("connection closed");
    },
  });
  await clock.advance(150);
  assert.equal(attempts, 3, "tried at each pass");
  assert.equal(events.filter((e) => e.type === "migration").length, 0);
  watcher.stop();
});

Deno.test("watcher: past its read budget a round takes longer, not more reads per second", async () => {
  // 2,000 connections at 20,000 reads/s: a round of 100 ms instead of the 50 ms interval.
  const { clock, watcher, conns } = setup(2000, 50, 64, 20_000);
  assert.equal(watcher.roundMs, 100);
  assert.match(watcherMetrics(watcher), /^quic_migration_watcher_round_seconds 0\.1$/m);
  await clock.advance(50);
  const read = () => conns.reduce((n, c) => n + c.reads, 0);
  assert.equal(read(), 1000, "idle: one interval's share of the budget, not the whole round");
  await clock.advance(50);
  assert.equal(read(), 2000);
  for (const c of conns) assert.equal(c.reads, 1, "round-robin: every connection once per round");
  // Busy: the nudges read the same budget, spread in slices.
  await busy(clock, watcher, 100);
  assert.equal(read(), 4000);
  for (const c of conns) assert.equal(c.reads, 2);
  // Within the budget, the interval rules again.
  for (let i = 0; i < 10; i++) watcher.unwatch(conns.pop()!.record);
  assert.equal(watcher.roundMs, 99.5);
  const few = setup(500, 50, 64, 20_000);
  assert.equal(few.watcher.roundMs, 50, "500 connections every 50 ms is 10,000 reads/s");
  few.watcher.stop();
  watcher.stop();
});

Deno.test("watcher: a move of an idle connection is seen within the stretched round", async () => {
  const { clock, watcher, conns, events } = setup(4000, 50, 64, 20_000);
  assert.equal(watcher.roundMs, 200);
  conns[3999].addr = "127.0.0.1:60000"; // the last one read in a round
  await clock.advance(199);
  assert.equal(events.filter((e) => e.type === "migration").length, 0, "not yet read");
  await clock.advance(1);
  const moves = events.filter((e) => e.type === "migration");
  assert.equal(moves.length, 1, "read by the round's last interval");
  watcher.stop();
});

Deno.test("watcher: a quiet connection is read once per quiet interval, not at every visit", async () => {
  const { clock, watcher, conns } = setup(200, 50, 64, Infinity, 250);
  assert.equal(watcher.quietMs, 250);
  assert.match(watcherMetrics(watcher), /^quic_migration_watcher_quiet_seconds 0\.25$/m);
  await clock.advance(200);
  assert.equal(watcher.reads, 0, "opened at 0: confirmed until 250");
  await clock.advance(50);
  for (const c of conns) assert.equal(c.reads, 1, "read at 250");
  await clock.advance(750);
  assert.equal(watcher.slices, 20, "visited every 50 ms");
  for (const c of conns) assert.equal(c.reads, 4, "read at 250, 500, 750 and 1000");
  watcher.stop();
});

Deno.test("watcher: a quiet connection's move is seen within the quiet interval", async () => {
  const { clock, watcher, conns, events } = setup(200, 50, 64, Infinity, 250);
  await clock.advance(260); // just after the read at 250
  conns[17].addr = "127.0.0.1:40000";
  await clock.advance(200);
  assert.equal(events.filter((e) => e.type === "migration").length, 0, "not read before 500");
  await clock.advance(40);
  const m = events.find((e) => e.type === "migration");
  assert.ok(m?.type === "migration");
  assert.equal(m.connection_id, conns[17].record.id);
  assert.equal(m.migration.detected_by, "watcher");
  assert.equal(m.migration.detection_window_ms, 250, "since the read at 250");
  watcher.stop();
});

Deno.test("watcher: a connection whose streams move data is read at every visit", async () => {
  const { clock, watcher, conns, events } = setup(10, 50, 64, Infinity, 250);
  const counters = { bytesIn: 0, bytesOut: 0 };
  conns[3].record.counters = counters;
  for (let round = 1; round <= 4; round++) {
    counters.bytesOut += 1000; // a download going on, no new request
    await clock.advance(50);
    assert.equal(conns[3].reads, round, `read in round ${round}`);
  }
  assert.equal(conns[4].reads, 0, "its quiet neighbour is not read yet");
  conns[3].addr = "127.0.0.1:40000";
  counters.bytesOut += 1000;
  await clock.advance(50);
  const m = events.find((e) => e.type === "migration");
  assert.ok(m?.type === "migration");
  assert.equal(m.migration.detection_window_ms, 50, "one round, not the quiet interval");
  // Once the data stops, it is quiet: read again only when its address is 250 ms old.
  await clock.advance(200);
  assert.equal(conns[3].reads, 5, "no read while its address is younger than 250 ms");
  await clock.advance(50);
  assert.equal(conns[3].reads, 6);
  watcher.stop();
});

Deno.test("watcher: a connection a request saw since the last visit is not read", async () => {
  const { clock, tracker, watcher, conns } = setup(10);
  const target = conns[5];
  for (let round = 0; round < 10; round++) {
    await clock.advance(20);
    tracker.request(target.record, target.addr); // its request checks its address itself
    await clock.advance(30);
  }
  assert.equal(target.reads, 0, "every visit found a newer request's check");
  assert.equal(conns[6].reads, 10, "the others: one read per interval");
  await clock.advance(50);
  assert.equal(target.reads, 1, "requests stopped: read at the next visit");
  watcher.stop();
});
