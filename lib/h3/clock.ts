/**
 * The clock and timers the HTTP/3 server waits on (header and body deadlines, shutdown), as an
 * interface: production uses the process's own, and tests inject a fake one that only moves
 * when told, so a timeout is tested at its exact time without sleeping.
 *
 * ```ts
 * const id = systemClock.setTimeout(() => console.log("later"), 100);
 * systemClock.clearTimeout(id);
 * ```
 * @module
 */

/** A clock with one-shot timers. Timer ids are opaque: each clock knows its own. */
export interface Clock {
  /** Milliseconds (only differences matter). */
  now(): number;
  /** Calls `callback` once after `ms`; returns an id for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer; unknown or fired ids are ignored. */
  clearTimeout(id: unknown): void;
  /** Lets a timer not keep the process alive (a background sweep); optional. */
  unref?(id: unknown): void;
}

/**
 * The process's clock and timers. `now` is `Date.now()`: every request stream reads it once (its
 * header deadline), and it costs no call into the runtime, unlike `performance.now()`. A
 * deadline is seconds long and enforced to the nearest sweep, so a wall-clock step can at worst
 * move the few deadlines running at that moment.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (id) => clearTimeout(id as number),
  unref: (id) => Deno.unrefTimer(id as number),
};
