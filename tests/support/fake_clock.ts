/**
 * A fake clock for the HTTP/3 server's `clock` option: time stands still until a test moves it,
 * and `advance()` fires the timers that fall due, in order, each at its own time, letting the
 * work each one starts run to completion before the next. With the in-memory QUIC pair, a
 * timeout is tested at its exact millisecond and nothing sleeps.
 *
 * ```ts
 * const clock = new FakeClock();
 * const h3 = new H3ServerConnection(pair.server, handler, {}, { clock });
 * await clock.advance(9_999); // nothing yet
 * await clock.advance(1);     // the deadline fires
 * ```
 * @module
 */

import type { Clock } from "../../lib/h3/clock.ts";

/** Most timers one `advance()` fires: more means a timer re-arming itself without end. */
const MAX_FIRINGS_PER_ADVANCE = 10_000;

/**
 * Runs everything that can run without a timer or I/O: in-memory streams and promise chains
 * live on microtasks, and a macrotask turn starts only once no microtask is left. Used to
 * check that something has *not* happened; an expected event is awaited itself.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

interface FakeTimer {
  at: number;
  /** Order of creation, to fire timers due at the same time in the order they were set. */
  seq: number;
  callback: () => void;
}

/** A clock whose time moves only when told; see the module documentation. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, FakeTimer>();

  /** @param start the time it shows first, in milliseconds */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  /** The current fake time. */
  now(): number {
    return this.#now;
  }

  /** Sets a one-shot timer `ms` from now (negative counts as 0). */
  setTimeout(callback: () => void, ms: number): number {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, callback });
    return id;
  }

  /** Cancels a timer; unknown ids are ignored. */
  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due at its own time, and lets the
   * in-memory work it causes settle before the next one (see `settle()`). Resolves at the new time.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let fired = 0;; fired++) {
      if (fired >= MAX_FIRINGS_PER_ADVANCE) throw new Error("timers keep re-arming themselves");
      const next = this.#due(target);
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** The earliest timer due by `target`, if any. */
  #due(target: number): [number, FakeTimer] | undefined {
    let best: [number, FakeTimer] | undefined;
    for (const entry of this.#timers) {
      const timer = entry[1];
      if (timer.at > target) continue;
      if (
        best === undefined || timer.at < best[1].at ||
        (timer.at === best[1].at && timer.seq < best[1].seq)
      ) {
        best = entry;
      }
    }
    return best;
  }
}
