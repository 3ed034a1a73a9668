/**
 * Deadlines for request stream reads that wait on the peer: the header section (slowloris
 * defence) and each read of a request body (a body that stops arriving).
 *
 * One shared timer per clock serves every connection rather than a timer per request: a
 * request registers its reader when it starts waiting and removes it when the bytes came, two
 * map operations on the hot path. The timer is armed for the earliest deadline, so a lone
 * deadline is enforced at its exact time; after a sweep it is re-armed no sooner than
 * {@linkcode SWEEP_GAP_MS} later, so many deadlines close together cost one sweep, not one each.
 * It runs only while something is registered and never keeps the process alive.
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

/** What the sweep cancels when a deadline passes: a stream's reader. */
export interface ExpiringReader {
  cancel(): Promise<void>;
}

/** The least time between two sweeps: deadlines closer together than this share one. */
export const SWEEP_GAP_MS = 250;

/** Registered readers with their deadlines, swept on one shared timer. */
export class ReadDeadlines {
  readonly #deadlines = new Map<ExpiringReader, number>();
  readonly #expired = new WeakSet<ExpiringReader>();
  readonly #clock: Clock;
  #timer: unknown;
  /** When the armed timer fires. */
  #timerDue = 0;
  // Bound once, so arming the timer allocates no closure.
  readonly #onTimer = () => {
    this.#timer = undefined;
    this.sweep();
  };

  /** @param clock the clock and timers (injectable for tests) */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  /** Readers currently waiting. */
  get size(): number {
    return this.#deadlines.size;
  }

  /** Starts `reader`'s clock: what it waits for must come within `timeoutMs`. */
  add(reader: ExpiringReader, timeoutMs: number): void {
    const deadline = this.#clock.now() + timeoutMs;
    this.#deadlines.set(reader, deadline);
    // With one timeout per server, deadlines arrive in order and the armed timer stays.
    if (this.#timer === undefined || deadline < this.#timerDue) this.#arm(deadline);
  }

  /** Stops `reader`'s clock (what it waited for arrived, or the stream ended). */
  delete(reader: ExpiringReader): void {
    this.#deadlines.delete(reader);
  }

  /** True once `reader` was cancelled because its deadline passed. */
  expired(reader: ExpiringReader): boolean {
    return this.#expired.has(reader);
  }

  /** Cancels every reader whose deadline has passed, then re-arms for the next one, if any. */
  sweep(): void {
    const now = this.#clock.now();
    let next = Infinity;
    for (const [reader, deadline] of this.#deadlines) {
      if (deadline > now) {
        if (deadline < next) next = deadline;
        continue;
      }
      this.#deadlines.delete(reader);
      this.#expired.add(reader);
      // A pending read then resolves as done; the reading code asks `expired()` to tell why.
      reader.cancel().catch(() => {});
    }
    if (next !== Infinity) this.#arm(Math.max(next, now + SWEEP_GAP_MS));
    else if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerDue = at;
    const timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, at - this.#clock.now()));
    this.#clock.unref?.(timer);
    this.#timer = timer;
  }
}

const onSystemClock = new ReadDeadlines(systemClock);
const byClock = new WeakMap<Clock, ReadDeadlines>();

/** The deadlines shared by every server on `clock`: one timer per clock, not per connection. */
export function readDeadlinesFor(clock: Clock): ReadDeadlines {
  if (clock === systemClock) return onSystemClock;
  let deadlines = byClock.get(clock);
  if (deadlines === undefined) byClock.set(clock, deadlines = new ReadDeadlines(clock));
  return deadlines;
}
