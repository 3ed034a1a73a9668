import { strict as assert } from "node:assert";
import { FakeClock } from "../../tests/support/fake_clock.ts";
import { ConnectionTracker, type TrackedConnection } from "../tracker/tracker.ts";
import type { TrackerEvent } from "../tracker/types.ts";
import { MigrationWatcher } from "./migration_watcher.ts";
import { sliceRounds } from "./watch_slices.ts";

/** A tracker and a watcher on one fake clock, with `n` connections whose reads are counted. */
function setup(n: number, intervalMs = 50, maxReadsPerSlice = 64) {
  const clock = new FakeClock();
  const tracker = new ConnectionTracker({ now: () => clock.now() });
  const watcher = new MigrationWatcher(tracker, intervalMs, { clock, maxReadsPerSlice });
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

Deno.test("watcher: every connection is read once per interval, at most 64 per slice", async () => {
  const { clock, watcher, conns, readsBySlice } = setup(200);
  for (let interval = 1; interval <= 3; interval++) {
    await clock.advance(50);
    for (const c of conns) assert.equal(c.reads, interval, "one read per connection per interval");
  }
  assert.equal(watcher.slices, 12, "200 connections: 4 slices per 50 ms");
  assert.ok(Math.max(...readsBySlice.values()) <= 64, "no slice reads more than 64");
  assert.equal(watcher.rounds, 2, "the end of the third round is seen by the next slice");
  watcher.stop();
});

Deno.test("watcher: a move of an idle connection is seen within one interval, by the watcher", async () => {
  const { clock, watcher, conns, events } = setup(200);
  await clock.advance(20);
  const moved = conns[150]; // read in the round's last slice
  moved.addr = "127.0.0.1:40000";
  await clock.advance(50);
  const migrations = events.filter((e) => e.type === "migration");
  assert.equal(migrations.length, 1);
  const m = migrations[0];
  assert.ok(m.type === "migration");
  assert.equal(m.connection_id, moved.record.id);
  assert.equal(m.migration.detected_by, "watcher");
  assert.equal(m.migration.new_addr, "127.0.0.1:40000");
  // Seen by the read that follows the previous one by one interval.
  assert.equal(m.migration.detection_window_ms, 50);
  watcher.stop();
});

Deno.test("watcher: a round with as many reads per slice as connections is one pass per interval", async () => {
  const { clock, watcher, conns, readsBySlice } = setup(200, 50, 1000);
  await clock.advance(49);
  assert.equal(conns[0].reads, 0, "nothing before the interval");
  await clock.advance(1);
  assert.deepEqual([...readsBySlice.entries()], [[1, 200]], "one slice reading all 200");
  watcher.stop();
});

Deno.test("watcher: stop ends the reads and start resumes them; the last unwatch stops the timer", async () => {
  const { clock, watcher, conns } = setup(100);
  await clock.advance(50);
  watcher.stop();
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(500);
  assert.ok(conns.every((c) => c.reads === 1), "no read while stopped");
  watcher.start();
  await clock.advance(50);
  assert.ok(conns.every((c) => c.reads === 2), "reads again after start");
  for (const c of conns) watcher.unwatch(c.record);
  assert.equal(clock.pendingTimers, 0, "nothing left to watch: no timer");
});

Deno.test("watcher: a connection opened during a round is read by the next interval's end", async () => {
  const { clock, watcher, add } = setup(200);
  await clock.advance(30);
  const late = add();
  await clock.advance(50);
  assert.ok(late.reads >= 1, "read within one interval of being watched");
  watcher.stop();
});

Deno.test("watcher: a validation window ends at the first slice after it runs out", async () => {
  const { clock, tracker, watcher, conns, events } = setup(200);
  conns[0].addr = "127.0.0.1:40000";
  await clock.advance(50);
  assert.equal(tracker.summary().migrations_by_outcome.pending, 1);
  // 1,000 ms window; slices come every 12.5 ms, so it ends within one slice of running out.
  await clock.advance(1000);
  const outcome = events.find((e) => e.type === "migration_outcome");
  assert.ok(outcome?.type === "migration_outcome");
  assert.equal(outcome.migration.outcome, "validated");
  watcher.stop();
});

Deno.test("watcher: a connection whose address cannot be read is skipped, not a migration", async () => {
  const { clock, tracker, watcher, events } = setup(3);
  const broken = tracker.open("h3", "127.0.0.1:20000", "127.0.0.1:9443", null);
  watcher.watch(broken, {
    remoteAddr: () => {
      throw new Error("connection closed");
    },
  });
  await clock.advance(150);
  assert.equal(events.filter((e) => e.type === "migration").length, 0);
  assert.ok(watcher.rounds >= 2);
  watcher.stop();
});

Deno.test("watcher: a late slice catches up at most twice its share, the rest in the next ones", async () => {
  const fake = new FakeClock();
  // A busy event loop: every timer fires 20 ms after it was due.
  const late = {
    now: () => fake.now(),
    setTimeout: (callback: () => void, ms: number) => fake.setTimeout(callback, ms + 20),
    clearTimeout: (id: unknown) => fake.clearTimeout(id),
  };
  const tracker = new ConnectionTracker({ now: () => fake.now() });
  const watcher = new MigrationWatcher(tracker, 50, { clock: late, maxReadsPerSlice: 64 });
  const perSlice = new Map<number, number>();
  for (let i = 0; i < 1000; i++) {
    const record = tracker.open("h3", `127.0.0.1:${10_000 + i}`, "127.0.0.1:9443", null);
    watcher.watch(record, {
      remoteAddr: () => {
        perSlice.set(watcher.slices, (perSlice.get(watcher.slices) ?? 0) + 1);
        return record.remoteAddr;
      },
    });
  }
  await fake.advance(50);
  // 1,000 connections: 16 slices of about 63 per 50 ms; each late slice owes far more.
  const counts = [...perSlice.values()];
  assert.ok(counts.length >= 2);
  assert.ok(counts.every((n) => n === 2 * 63), `each late slice reads twice its share: ${counts}`);
  watcher.stop();
});
