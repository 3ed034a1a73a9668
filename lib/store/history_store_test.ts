import { strict as assert } from "node:assert";
import { withTimeout as within } from "../timeout.ts";
import { ConnectionTracker, LOST_AT_RESTART } from "../tracker/tracker.ts";
import type { ConnectionInfo } from "../tracker/types.ts";
import { CONNECTION_PREFIX, HistoryStore, type HistoryStoreOptions } from "./history_store.ts";

/** A clock shared by a tracker and its store. */
function clock() {
  let now = Date.parse("2026-01-01T00:00:00Z");
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Runs `fn` with a fresh KV file path, removed afterwards. */
async function withFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "quic-store-" });
  try {
    await fn(`${dir}/history.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The records in the file at `path`, by id (read with a separate handle). */
async function records(path: string): Promise<Map<string, ConnectionInfo>> {
  const kv = await Deno.openKv(path);
  const out = new Map<string, ConnectionInfo>();
  for await (const entry of kv.list<ConnectionInfo>({ prefix: [CONNECTION_PREFIX] })) {
    out.set(entry.key[1] as string, entry.value);
  }
  kv.close();
  return out;
}

/**
 * A real KV whose commits can be made to fail, and which reports each successful commit:
 * the tests wait for that instead of sleeping.
 */
function flaky(kv: Deno.Kv) {
  const state = { fail: 0, commits: 0, waiters: [] as (() => void)[] };
  const committed = () => new Promise<void>((resolve) => state.waiters.push(resolve));
  const wrapper = {
    get: (key: Deno.KvKey) => kv.get(key),
    set: (key: Deno.KvKey, value: unknown) => kv.set(key, value),
    delete: (key: Deno.KvKey) => kv.delete(key),
    list: (selector: Deno.KvListSelector) => kv.list(selector),
    close: () => kv.close(),
    atomic: () => {
      const op = kv.atomic();
      const wrapped = {
        set(key: Deno.KvKey, value: unknown) {
          op.set(key, value);
          return wrapped;
        },
        delete(key: Deno.KvKey) {
          op.delete(key);
          return wrapped;
        },
        async commit() {
          if (state.fail > 0) {
            state.fail--;
            throw new Error("disk full (injected)");
          }
          const result = await op.commit();
          state.commits++;
          for (const resolve of state.waiters.splice(0)) resolve();
          return result;
        },
      };
      return wrapped;
    },
  };
  return { kv: wrapper as unknown as Deno.Kv, state, committed };
}

async function openAt(path: string, tracker: ConnectionTracker, options: HistoryStoreOptions) {
  return await HistoryStore.open(path, tracker, { warn: () => {}, ...options });
}

Deno.test("store: history survives a restart; an open connection comes back lost_at_restart", () =>
  withFile(async (path) => {
    const { now, advance } = clock();
    const before = new ConnectionTracker({ now });
    const { store } = await openAt(path, before, { now });
    const closed = before.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", "localhost");
    advance(40);
    before.request(closed, "127.0.0.2:6000"); // an address change, validated by this request
    before.close(closed, "H3_NO_ERROR");
    const open = before.open("h2", "127.0.0.1:7000", "127.0.0.1:9443", null);
    before.observe(open, "127.0.0.1:7001"); // pending when the process "dies"
    assert.equal(await store.flush(), true);
    const saved = [closed.toJSON(), open.toJSON()];
    // A crash: the file is left as the last write left it (the store is not closed).
    const after = new ConnectionTracker({ now });
    const again = await openAt(path, after, { now });
    assert.deepEqual(again.report, { restored: 2, lost: 1, pruned: 0, skipped: 0 });
    assert.deepEqual(after.get(closed.id)!.toJSON(), saved[0]);
    const lost = after.get(open.id)!.toJSON();
    assert.equal(lost.state, "closed");
    assert.equal(lost.close_reason, LOST_AT_RESTART);
    assert.equal(lost.migration_events[0].outcome, "connection_lost");
    assert.equal((await records(path)).get(open.id)!.close_reason, LOST_AT_RESTART, "rewritten");
    await again.store.close();
    await store.close();
  }));

Deno.test("store: events only mark connections dirty; one timed write takes them all", () =>
  withFile(async (path) => {
    const tracker = new ConnectionTracker();
    const fake = flaky(await Deno.openKv(path));
    const { store } = await HistoryStore.attach(fake.kv, tracker, { intervalMs: 50 });
    const commitsAtStart = fake.state.commits;
    const conns = Array.from(
      { length: 3 },
      (_, i) => tracker.open("h3", `127.0.0.1:${i}`, "x", null),
    );
    for (let i = 0; i < 100; i++) tracker.request(conns[0], "127.0.0.1:0"); // requests: no events
    tracker.close(conns[1], "done");
    assert.equal(store.pending, 3, "three connections marked, nothing written yet");
    assert.equal(fake.state.commits, commitsAtStart);
    await within(fake.committed(), 2000, "the timed write");
    assert.equal(fake.state.commits, commitsAtStart + 1, "one atomic commit for all three");
    assert.equal(store.pending, 0);
    const stored = await records(path);
    assert.equal(stored.size, 3);
    assert.equal(stored.get(conns[1].id)!.state, "closed");
    await store.close();
  }));

Deno.test("store: 1,200 changes go in several atomic commits within KV's limits", () =>
  withFile(async (path) => {
    const tracker = new ConnectionTracker();
    const fake = flaky(await Deno.openKv(path));
    const { store } = await HistoryStore.attach(fake.kv, tracker, { intervalMs: 60_000 });
    const before = fake.state.commits;
    for (let i = 0; i < 1200; i++) {
      const c = tracker.open("h3", `127.0.0.1:${i}`, "x", null);
      for (let m = 1; m <= 100; m++) tracker.request(c, `127.0.0.1:${i}${m}`); // 100 events
      tracker.close(c, "done");
    }
    assert.equal(await store.flush(), true);
    // 1,200 values of ~20 KB (about 24 MB) cannot fit in fewer than 30 commits of 800 KiB: the
    // size budget, not the mutation count, splits them, and every commit was accepted.
    assert.ok(fake.state.commits - before >= 30, `${fake.state.commits - before} commits`);
    const stored = await records(path);
    assert.equal(stored.size, 1200);
    assert.equal([...stored.values()].every((c) => c.migration_events.length === 100), true);
    await store.close();
  }));

Deno.test("store: a failed write is logged once, kept, and retried at the next interval", () =>
  withFile(async (path) => {
    const tracker = new ConnectionTracker();
    const warnings: string[] = [];
    const fake = flaky(await Deno.openKv(path));
    const { store } = await HistoryStore.attach(fake.kv, tracker, {
      intervalMs: 20,
      warn: (line) => warnings.push(line),
    });
    fake.state.fail = 3;
    const c = tracker.open("h3", "127.0.0.1:1", "x", null);
    tracker.close(c, "done");
    await within(fake.committed(), 2000, "the retried write");
    assert.equal(store.stats.failures, 3);
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[0], /write failed, retrying every 20 ms: disk full \(injected\)/);
    assert.match(warnings[1], /writing again after 3 failed attempt/);
    assert.equal((await records(path)).get(c.id)!.close_reason, "done");
    fake.state.fail = 1;
    tracker.open("h3", "127.0.0.1:2", "x", null);
    assert.equal(await store.close(), false, "the last write failed: close says so, no throw");
  }));

Deno.test("store: retention deletes stored records past --max-closed and --closed-ttl", () =>
  withFile(async (path) => {
    const { now, advance } = clock();
    const tracker = new ConnectionTracker({ now, maxClosed: 5, closedRetentionMs: 10_000 });
    const { store } = await openAt(path, tracker, { now });
    const ids = [];
    for (let i = 0; i < 8; i++) {
      const c = tracker.open("h3", `127.0.0.1:${i}`, "x", null);
      advance(1000);
      tracker.close(c, "done");
      ids.push(c.id);
    }
    const open = tracker.open("h3", "127.0.0.1:99", "x", null);
    await store.flush();
    assert.deepEqual([...(await records(path)).keys()].sort(), [...ids.slice(3), open.id].sort());
    advance(7500); // the closes at +4 s … +8 s: two are now older than 10 s
    tracker.observe(open, "127.0.0.1:98"); // any event makes a write
    await store.flush();
    assert.deepEqual([...(await records(path)).keys()].sort(), [...ids.slice(5), open.id].sort());
    await store.close();
    // At load, too: a tighter limit on the next start prunes the file. The open connection is
    // closed (lost at restart) now, and counts among the closed.
    const next = new ConnectionTracker({ now, maxClosed: 2 });
    const reopened = await openAt(path, next, { now });
    assert.deepEqual(reopened.report, { restored: 2, lost: 1, pruned: 2, skipped: 0 });
    assert.deepEqual([...(await records(path)).keys()].sort(), [ids[7], open.id].sort());
    await reopened.store.close();
  }));

Deno.test("store: retention follows the order of closes, not of first events", () =>
  withFile(async (path) => {
    const { now, advance } = clock();
    const tracker = new ConnectionTracker({ now, closedRetentionMs: 100 });
    const { store } = await openAt(path, tracker, { now });
    const first = tracker.open("h3", "127.0.0.1:1", "x", null);
    const second = tracker.open("h3", "127.0.0.1:2", "x", null);
    advance(10);
    tracker.close(second, "done");
    advance(10);
    tracker.close(first, "done");
    advance(95); // the second's close (at +10 ms) is past retention, the first's (+20 ms) is not
    await store.flush();
    assert.deepEqual([...(await records(path)).keys()], [first.id]);
    await store.close();
  }));

Deno.test("store: a file that is not a KV database fails with one line", () =>
  withFile(async (path) => {
    await Deno.writeTextFile(path, "not a database\n".repeat(100));
    const error = await HistoryStore.open(path, new ConnectionTracker()).then(
      () => assert.fail("opened a corrupt file"),
      (e: Error) => e,
    );
    assert.match(error.message, /^cannot (open|read) history store .*history\.kv: /);
    assert.equal(error.message.includes("\n"), false);
  }));

Deno.test("store: unreadable records are deleted; a newer layout is refused", () =>
  withFile(async (path) => {
    const kv = await Deno.openKv(path);
    await kv.set([CONNECTION_PREFIX, "0123456789abcdef"], { connection_id: "0123456789abcdef" });
    await kv.set([CONNECTION_PREFIX, 42], "junk");
    kv.close();
    const tracker = new ConnectionTracker();
    const { store, report } = await openAt(path, tracker, {});
    assert.equal(report.skipped, 2);
    assert.equal(report.restored, 0);
    assert.equal((await records(path)).size, 0);
    await store.close();
    const raw = await Deno.openKv(path);
    await raw.set(["meta", "schema"], 99);
    raw.close();
    await assert.rejects(
      HistoryStore.open(path, new ConnectionTracker()),
      /cannot read history store .*: layout version 99, this server reads 1/,
    );
  }));
