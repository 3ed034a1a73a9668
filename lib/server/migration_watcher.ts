/**
 * Looks at every open QUIC connection's remote address on a short interval, so a connection
 * that migrates while idle is caught too (a busy one is caught by its next request first), and
 * ends validation windows that have run out.
 *
 * `Deno.QuicConn.remoteAddr` is live: quinn updates it when it switches the connection to a
 * new path. Reading it is one call into the runtime per connection, so the watcher's cost grows
 * with the connections open and shrinks with a longer interval; the `idle` benchmark measures
 * its share of a core (`bench/results/`). The interval bounds an idle connection's detection
 * delay. A connection carrying requests is caught by its next request, well before.
 *
 * **Time-sliced.** The event loop is single-threaded, and quinn's packet processing, the
 * requests and the lab relay all run on it: reading every connection in one go holds all of
 * them up for as long as the reads take, which grows with the connections open. So a round over
 * all connections is cut into slices spread evenly over the interval, each reading at most
 * `maxReadsPerSlice` connections, round-robin. The reads per interval, and so the CPU, stay
 * what one big pass costs; only the longest stall shrinks. Each connection is still read once
 * per round, and a round takes one interval (a connection opened during a round may add a slice).
 *
 * ```ts
 * const watcher = new MigrationWatcher(tracker, 50);
 * watcher.watch(record, { remoteAddr: () => formatAddr(conn.remoteAddr) });
 * ```
 * @module
 */

import { type Clock, systemClock } from "../h3/clock.ts";
import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import { sliceRounds } from "./watch_slices.ts";

/** Anything with a live remote address: `ip:port` now (it may throw once the connection is gone). */
export interface AddressSource {
  remoteAddr(): string;
}

/** How the watcher schedules its reads. */
export interface MigrationWatcherOptions {
  /** Timers and time for the slices (default: the process's own). */
  clock?: Clock;
  /** Most connections one slice reads (default {@link DEFAULT_MAX_READS_PER_SLICE}). */
  maxReadsPerSlice?: number;
}

/**
 * Connections one slice reads at most, by default: small enough that a slice holds the event
 * loop up far less than a millisecond even on a slow shared core, large enough that a thousand
 * connections need only a few dozen timer wake-ups per interval.
 */
export const DEFAULT_MAX_READS_PER_SLICE = 64;

/** The periodic migration check. */
export class MigrationWatcher {
  readonly #tracker: ConnectionTracker;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #maxReadsPerSlice: number;
  readonly #watched = new Map<TrackedConnection, AddressSource>();
  /** Where the current round stands; a Map iterator also visits entries added after it began. */
  #round: MapIterator<[TrackedConnection, AddressSource]> | undefined;
  #timer: unknown;
  #running = false;
  /** When the next slice is due, and when the last one ran, on `#clock`. */
  #due = 0;
  #lastSliceAt = 0;
  /** Reads owed for the time since the round began (fractional: spacing need not divide). */
  #owed = 0;
  /** Rounds completed so far, each reading every watched connection once (for tests). */
  rounds = 0;
  /** Slices run so far (for tests). */
  slices = 0;

  /**
   * @param intervalMs milliseconds a round over all connections takes: the longest an idle
   *   connection's move goes unseen
   */
  constructor(
    tracker: ConnectionTracker,
    intervalMs: number,
    options: MigrationWatcherOptions = {},
  ) {
    this.#tracker = tracker;
    this.#intervalMs = intervalMs;
    this.#clock = options.clock ?? systemClock;
    this.#maxReadsPerSlice = options.maxReadsPerSlice ?? DEFAULT_MAX_READS_PER_SLICE;
  }

  /** Starts checking `source` for `conn` (and the timer, if it was not running). */
  watch(conn: TrackedConnection, source: AddressSource): void {
    this.#watched.set(conn, source);
    if (!this.#running) this.start();
    else if (this.#lastSliceAt + this.#schedule().spacingMs < this.#due) this.#arm();
  }

  /** Stops checking `conn`; the timer stops when nothing is left to watch. */
  unwatch(conn: TrackedConnection): void {
    this.#watched.delete(conn);
    if (this.#watched.size === 0) this.stop();
  }

  /** Runs the slices on the timer (again, after `stop`); `watch` calls it by itself. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastSliceAt = this.#clock.now();
    this.#owed = 0;
    this.#arm();
  }

  /** One check of every watched connection at once; the timer's rounds go on as they were. */
  check(): void {
    const now = this.#tracker.clock(); // one clock read per pass, not per connection
    for (const [conn, source] of this.#watched) this.#read(conn, source, now);
    this.rounds++;
    this.#tracker.tick();
  }

  /** Stops the timer; the round in progress starts over at the next `start`. */
  stop(): void {
    this.#running = false;
    this.#round = undefined;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule() {
    return sliceRounds(this.#watched.size, this.#intervalMs, this.#maxReadsPerSlice);
  }

  /** Sets the timer for the next slice, one slice spacing (for the connections now) after the last. */
  #arm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#due = this.#lastSliceAt + this.#schedule().spacingMs;
    this.#timer = this.#clock.setTimeout(
      () => this.#slice(),
      Math.max(0, this.#due - this.#clock.now()),
    );
  }

  #slice(): void {
    this.#timer = undefined;
    if (!this.#running) return;
    this.slices++;
    // Reads are owed at one round per interval for the time that actually passed, so a slice
    // that fires late (a busy event loop, a coarse clock) reads more and a round still takes
    // one interval. But at most twice a slice's share at once: a loop that is late is busy,
    // and a slice that caught up all at once would be the stall slicing is for; what is left
    // is owed to the next slices (never more than one round).
    const at = this.#clock.now();
    const size = this.#watched.size;
    this.#owed = Math.min(size, this.#owed + (size * (at - this.#lastSliceAt)) / this.#intervalMs);
    this.#lastSliceAt = at;
    const share = this.#schedule().readsPerSlice;
    const reads = Math.min(2 * share, Math.floor(this.#owed + 1e-9)); // 62.5 + 62.5 make 125
    this.#owed = Math.max(0, this.#owed - reads);
    const now = this.#tracker.clock(); // one clock read per slice, not per connection
    // Round-robin without a gap: a slice that reaches the end of a round goes on with the next.
    // At most one round's worth of reads, so no connection is read twice in one slice.
    let wrapped = false;
    for (let done = 0; done < reads;) {
      this.#round ??= this.#watched.entries();
      const next = this.#round.next();
      if (next.done) {
        this.#round = undefined;
        this.rounds++;
        if (wrapped) break; // a whole round in one slice: nothing more to read
        wrapped = true;
        continue;
      }
      done++;
      this.#read(next.value[0], next.value[1], now);
    }
    this.#tracker.tick();
    if (this.#running) this.#arm();
  }

  #read(conn: TrackedConnection, source: AddressSource, now: number): void {
    let addr: string;
    try {
      addr = source.remoteAddr();
    } catch {
      return; // the connection is closing; its close is reported elsewhere
    }
    this.#tracker.observe(conn, addr, now);
  }
}
