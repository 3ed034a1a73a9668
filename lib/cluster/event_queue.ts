/**
 * The bounded queue a node holds its events in until they reach Redis: first in, first out,
 * never more than its capacity. When full, the oldest event goes and is counted, so every event
 * is, exactly once, either handed out by `take` (and then written, or put back) or counted in
 * `dropped`. Dropping the oldest keeps what is held contiguous: the gap lies before it, where a
 * single notice can say how many are missing. Pure: no I/O, no clock.
 *
 * ```ts
 * const queue = new EventQueue<{ seq: number }>(2);
 * queue.push({ seq: 1 }); queue.push({ seq: 2 }); queue.push({ seq: 3 });
 * queue.dropped; // 1 (seq 1)
 * const batch = queue.take(10); // seq 2 and 3
 * queue.putBack(batch); // the write failed: they are first again
 * ```
 * @module
 */

/** A bounded FIFO that drops (and counts) its oldest items when full. */
export class EventQueue<T> {
  readonly #capacity: number;
  #items: T[] = [];
  #head = 0;
  #dropped = 0;
  #unreported = 0;

  /** @param capacity items held at most (at least 1) */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  /** Items held at most. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Items held now. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Items dropped since the queue was made. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Items dropped and not yet reported (see `takeUnreported`). */
  get unreported(): number {
    return this.#unreported;
  }

  /** Appends `item`; when that makes too many, the oldest one is dropped and counted. */
  push(item: T): void {
    this.#items.push(item);
    this.#trim();
  }

  /** Removes and returns up to `max` of the oldest items, oldest first. */
  take(max: number): T[] {
    const end = Math.min(this.#items.length, this.#head + Math.max(0, max));
    const out = this.#items.slice(this.#head, end);
    this.#head = end;
    this.#compact();
    return out;
  }

  /**
   * Puts a batch from `take` back in front (its write failed), then drops the oldest items
   * beyond the capacity: items pushed meanwhile are newer and stay.
   */
  putBack(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
    this.#trim();
  }

  /** The count of drops not yet reported, now counted as reported. */
  takeUnreported(): number {
    const n = this.#unreported;
    this.#unreported = 0;
    return n;
  }

  /** Returns drops taken by `takeUnreported` whose report did not get through. */
  restoreUnreported(n: number): void {
    this.#unreported += n;
  }

  #trim(): void {
    const excess = this.size - this.#capacity;
    if (excess <= 0) return;
    this.#head += excess;
    this.#dropped += excess;
    this.#unreported += excess;
    this.#compact();
  }

  /** Releases the slots before the head once they are most of the array (amortised O(1)). */
  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
