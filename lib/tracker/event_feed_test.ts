import { strict as assert } from "node:assert";
import { EventFeed, type FeedSubscription } from "./event_feed.ts";
import { ConnectionTracker } from "./tracker.ts";

const decoder = new TextDecoder();

function rig(options: { maxSubscribers?: number; maxQueuedBytes?: number } = {}) {
  const tracker = new ConnectionTracker({ eventBufferSize: 50 });
  const feed = new EventFeed(tracker, {
    maxSubscribers: options.maxSubscribers ?? 100,
    maxQueuedBytes: options.maxQueuedBytes ?? 1 << 20,
  });
  const open = () => tracker.open("h3", "198.18.0.2:4000", "198.18.0.1:9443", "localhost");
  return { tracker, feed, open };
}

/** Every chunk the subscription has ready now. */
function drain(subscription: FeedSubscription): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 10_000; i++) {
    const chunk = subscription.poll();
    if (chunk === undefined || chunk === null) return chunks;
    chunks.push(chunk);
  }
  throw new Error("subscription never ran dry");
}

/** The SSE event types among `chunks`, in order (comments and `retry` left out). */
function typesOf(chunks: Uint8Array[]): string[] {
  return chunks.map((c) => decoder.decode(c).match(/^event: (\S+)$/m)?.[1]).filter((t) =>
    t !== undefined
  );
}

Deno.test("event feed: each event is encoded once, and every subscriber gets the same bytes", async () => {
  const { feed, open } = rig();
  const subscriptions = Array.from({ length: 50 }, () => feed.subscribe(0)!);
  for (const s of subscriptions) drain(s); // the replay preamble
  const conn = open();
  open();
  assert.equal(feed.stats.encoded, 2, "two events, two encodings, for fifty subscribers");
  const firsts = await Promise.all(subscriptions.map((s) => s.next()));
  for (const chunk of firsts) assert.equal(chunk, firsts[0], "the very same bytes, not a copy");
  assert.match(decoder.decode(firsts[0]!), new RegExp(`"connection_id":"${conn.id}"`));
  for (const s of subscriptions) s.cancel();
  assert.equal(feed.subscribers, 0);
  feed.close();
});

Deno.test("event feed: a restricted subscriber sees only its own connection's events", () => {
  const { feed, open, tracker } = rig();
  const mine = open();
  const own = feed.subscribe(tracker.lastEventId, { only: mine.id })!;
  const all = feed.subscribe(tracker.lastEventId)!;
  drain(own);
  drain(all);
  const other = open();
  tracker.request(other, "198.18.0.2:5000"); // a migration of the other connection
  tracker.request(mine, "198.18.0.2:4001"); // and one of mine
  tracker.close(other, "gone");
  // A request from the new address validates its migration at once: two events each.
  assert.deepEqual(typesOf(drain(own)), ["migration", "migration_outcome"]);
  assert.deepEqual(typesOf(drain(all)), [
    "connection_opened",
    "migration",
    "migration_outcome",
    "migration",
    "migration_outcome",
    "connection_closed",
  ]);
  own.cancel();
  all.cancel();
  feed.close();
});

Deno.test("event feed: at most maxSubscribers at once; a cancelled one frees its slot", () => {
  const { feed } = rig({ maxSubscribers: 2 });
  const a = feed.subscribe(0)!;
  const b = feed.subscribe(0)!;
  assert.equal(feed.subscribe(0), undefined);
  assert.equal(feed.stats.refused, 1);
  a.cancel();
  a.cancel(); // idempotent: the count goes down once
  const c = feed.subscribe(0);
  assert.ok(c !== undefined);
  assert.equal(feed.subscribe(0), undefined);
  b.cancel();
  c.cancel();
  assert.equal(feed.subscribers, 0);
  feed.close();
});

Deno.test("event feed: a subscriber that does not read is ended at its byte bound; readers go on", async () => {
  const { feed, open } = rig({ maxQueuedBytes: 4096 });
  const stalled = feed.subscribe(0)!;
  const reader = feed.subscribe(0)!;
  drain(stalled);
  let received = 0;
  for (let i = 0; i < 100 && stalled.open; i++) {
    open();
    received += (drain(reader)).length;
    assert.ok(stalled.queuedBytes <= 4096, `queued ${stalled.queuedBytes} bytes`);
  }
  assert.equal(stalled.open, false, "ended before 100 events");
  assert.equal(feed.stats.dropped, 1);
  assert.equal(feed.subscribers, 1, "its slot is free");
  assert.equal(stalled.queuedBytes, 0, "its queue is let go");
  assert.match(decoder.decode((await stalled.next())!), /Last-Event-ID/, "it is told why");
  assert.equal(await stalled.next(), null);
  open();
  assert.equal((drain(reader)).length, 1, "the reading subscriber keeps getting events");
  assert.ok(received > 4);
  reader.cancel();
  feed.close();
});

Deno.test("event feed: resume replays what was missed (same bytes); too old or too new is a reset", () => {
  const { feed, open, tracker } = rig();
  const live = feed.subscribe(0)!;
  drain(live);
  const first = open();
  open();
  const liveFrames = drain(live);
  const resumed = feed.subscribe(tracker.lastEventId - 2)!;
  const replay = drain(resumed);
  assert.equal(replay.length, 3, "preamble and the two missed events");
  assert.equal(replay[1], liveFrames[0], "the replay is the bytes the live stream got");
  assert.match(decoder.decode(replay[1]), new RegExp(first.id));
  const own = drain(feed.subscribe(0, { only: first.id })!);
  assert.deepEqual(typesOf(own), ["connection_opened"], "a restricted replay is filtered too");
  for (let i = 0; i < 60; i++) open(); // the resume buffer holds 50
  assert.deepEqual(typesOf(drain(feed.subscribe(1)!)), ["reset"]);
  assert.deepEqual(typesOf(drain(feed.subscribe(tracker.lastEventId + 5)!)), ["reset"]);
  feed.close();
  assert.equal(feed.subscribers, 0, "close ends every subscription");
});

Deno.test("event feed: subscriptions end when the connection they were made on closes", () => {
  const { feed, open, tracker } = rig();
  const [a, b] = [open(), open()];
  const onA = [
    feed.subscribe(0, { owner: a.id })!,
    feed.subscribe(0, { owner: a.id, only: a.id })!,
  ];
  const onB = feed.subscribe(0, { owner: b.id })!;
  tracker.close(a, "gone");
  for (const s of onA) assert.equal(s.open, false);
  assert.equal(onB.open, true);
  assert.equal(feed.subscribers, 1, "the slots of the closed connection's streams are free");
  assert.ok(drain(onB).length > 0, "the other subscriber saw the close");
  feed.close();
});

Deno.test("event feed: a heartbeat reaches every subscriber, restricted ones too", async () => {
  const { feed, open } = rig();
  const conn = open();
  const subscriptions = [feed.subscribe(1)!, feed.subscribe(1, { only: conn.id })!];
  for (const s of subscriptions) drain(s);
  feed.heartbeat();
  for (const s of subscriptions) {
    assert.equal(decoder.decode((await s.next())!), ": heartbeat\n\n");
  }
  feed.close();
});
