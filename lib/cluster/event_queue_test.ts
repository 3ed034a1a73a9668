import { strict as assert } from "node:assert";
import { EventQueue } from "./event_queue.ts";

type Item = { seq: number };
const items = (from: number, to: number): Item[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i }));
const seqs = (list: Item[]) => list.map((i) => i.seq);

Deno.test("event queue: first in, first out, in batches", () => {
  const queue = new EventQueue<Item>(10);
  for (const item of items(1, 5)) queue.push(item);
  assert.deepEqual(seqs(queue.take(3)), [1, 2, 3]);
  assert.deepEqual(seqs(queue.take(3)), [4, 5]);
  assert.deepEqual(queue.take(3), []);
  assert.equal(queue.dropped, 0);
});

Deno.test("event queue: when full, the oldest are dropped and counted", () => {
  const queue = new EventQueue<Item>(3);
  for (const item of items(1, 8)) queue.push(item);
  assert.equal(queue.size, 3);
  assert.equal(queue.dropped, 5);
  assert.equal(queue.unreported, 5);
  assert.deepEqual(seqs(queue.take(10)), [6, 7, 8]);
  assert.equal(queue.takeUnreported(), 5);
  assert.equal(queue.unreported, 0);
  assert.equal(queue.dropped, 5, "the total stays");
});

Deno.test("event queue: a failed batch goes back in front; newer items stay when it overflows", () => {
  const queue = new EventQueue<Item>(4);
  for (const item of items(1, 3)) queue.push(item);
  const batch = queue.take(2); // 1, 2 in flight
  for (const item of items(4, 6)) queue.push(item); // 3..6 held: full
  queue.putBack(batch); // 1..6: two too many, the two oldest go
  assert.deepEqual(seqs(queue.take(10)), [3, 4, 5, 6]);
  assert.equal(queue.dropped, 2);
});

Deno.test("event queue: every item is taken once or dropped once", () => {
  const queue = new EventQueue<Item>(7);
  let produced = 0;
  let taken = 0;
  const seen = new Set<number>();
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < (round * 7) % 5; i++) queue.push({ seq: ++produced });
    const batch = queue.take((round * 3) % 4);
    if (round % 3 === 0) queue.putBack(batch);
    else {
      for (const item of batch) {
        assert.ok(!seen.has(item.seq), `seq ${item.seq} taken twice`);
        seen.add(item.seq);
      }
      taken += batch.length;
    }
  }
  assert.ok(queue.dropped > 0 && taken > 0, "the rounds both drop and take");
  assert.equal(taken + queue.dropped + queue.size, produced);
});

Deno.test("event queue: a long outage keeps memory bounded", () => {
  const queue = new EventQueue<Item>(5);
  for (let seq = 1; seq <= 100_000; seq++) queue.push({ seq });
  assert.equal(queue.size, 5);
  assert.deepEqual(seqs(queue.take(5)), [99_996, 99_997, 99_998, 99_999, 100_000]);
});
