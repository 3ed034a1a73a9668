/**
 * Looks at every open QUIC connection's remote address on a short interval, so a connection
 * that migrates while idle is caught too (a busy one is caught by its next request first), and
 * ends validation windows that have run out.
 *
 * `Deno.QuicConn.remoteAddr` is live: quinn updates it when it switches the connection to a
 * new path. Reading it is one call into the runtime per connection, so the watcher's cost grows
 * with the connections it reads and shrinks with longer intervals; the `idle` benchmark measures
 * its share of a core (`bench/results/`). The intervals bound a connection's detection delay
 * without requests. A connection carrying requests is caught by its next request, well before.
 *
 * **Sliced while busy, one pass while idle.** The event loop is single-threaded, and quinn's
 * packet processing, the requests and the lab relay all run on it: reading every connection in
 * one go holds all of them up for as long as the reads take, which grows with the connections
 * open. Visits are owed at one round over all connections per interval, round-robin. While
 * requests come in, each request `nudge`s the watcher, and once a slice spacing has passed a
 * nudge reads what is owed, at most twice a slice's share (`maxReadsPerSlice` connections): the
 * loop is awake for the request anyway. The timer fires once per interval and reads whatever
 * is still owed: on an idle server, a whole round in one pass, with nothing waiting behind it.
 * Waking the process more often to read in slices would cost more than the reads (a timer
 * wake-up is not free), so slices ride on wake-ups that happen anyway. Either way a connection
 * is visited once per round (and read at most then).
 *
 * **A budget of reads per second.** One visit per connection per interval grows with the
 * connections open: enough idle connections would take the whole event loop from the requests.
 * With `maxReadsPerSecond` (visits, and so reads, per second), a round lasts
 * `connections ÷ maxReadsPerSecond` seconds once that is longer than the interval: the CPU stays
 * bounded, and an idle connection's move may go unseen for that long instead
 * ({@link MigrationWatcher.roundMs}, which `/metrics` reports). A busy connection is still caught
 * by its next request.
 *
 * **Quiet connections less often.** A read is a runtime call that builds an address object, so
 * reads are spent where they tell something. At each visit of its round, a connection is
 * - not read when a request has observed its address since the previous visit (the request
 *   checked it already);
 * - read when its streams moved data since the previous visit (a download or an event stream
 *   carries no new request, but its move should show as soon as any);
 * - otherwise, quiet, read only once its address has gone unconfirmed for `quietIntervalMs`.
 * A quiet connection's move needs the client to send from the new path anyway, and a quiet
 * client sends rarely; checking it every few rounds instead of every round is what keeps the
 * watcher's cost at many idle connections small.
 *
 * ```ts
 * const watcher = new MigrationWatcher(tracker, 50, { maxReadsPerSecond: 20_000 });
 * watcher.watch(record, { remoteAddr: () => formatAddr(conn.remoteAddr) });
 * watcher.nudge(); // on each request
 * ```
 * @module
 */

import { type Clock, systemClock } from "../h3/clock.ts";
import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import { sliceRounds, type SliceSchedule } from "./watch_slices.ts";

/** Anything with a live remote address: `ip:port` now (it may throw once the connection is gone). */
export interface AddressSource {
  remoteAddr(): string;
}

/** How the watcher schedules its reads. */
export interface MigrationWatcherOptions {
  /** Timers and time for the rounds (default: the process's own). */
  clock?: Clock;
  /** A slice's share of reads at most (default {@link DEFAULT_MAX_READS_PER_SLICE}). */
  maxReadsPerSlice?: number;
  /** Reads per second at most, over all connections (default: no budget). */
  maxReadsPerSecond?: number;
  /**
   * Longest a quiet connection's address goes unconfirmed, in ms (default: the interval, which
   * reads quiet connections at every visit like the others).
   */
  quietIntervalMs?: number;
}

/** What the watcher keeps per connection. */
interface Watched {
  readonly source: AddressSource;
  /** When the round last came to it, on the tracker's clock. */
  visitedAt: number;
  /** Its stream bytes in and out at that visit. */
  bytes: number;
}

/**
 * Connections one slice reads at most, by default: small enough that a slice holds the event
 * loop up far less than a millisecond even on a slow shared core.
 */
export const DEFAULT_MAX_READS_PER_SLICE = 64;

/** The periodic migration check. */
export class MigrationWatcher {
  readonly #tracker: ConnectionTracker;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #watched = new Map<TrackedConnection, Watched>();
  /** Where the current round stands; a Map iterator also visits entries added after it began. */
  #round: MapIterator<[TrackedConnection, Watched]> | undefined;
  #timer: unknown;
  #running = false;
  /** When reads were last counted as owed, on `#clock`. */
  #accruedAt = 0;
  /** Reads owed (fractional: time accrues them continuously), at most one round. */
  #owed = 0;
  #schedule: SliceSchedule;
  #maxReadsPerSlice: number;
  readonly #maxReadsPerSecond: number;
  /** How long a round over all connections takes now: the interval, or longer past the budget. */
  #roundMs: number;
  readonly #quietIntervalMs: number;
  /** Rounds completed so far, each visiting every watched connection once (for tests). */
  rounds = 0;
  /** Addresses read so far (for tests and benchmarks). */
  reads = 0;
  /** Slices run so far, by the timer or a nudge (for tests). */
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
    this.#maxReadsPerSecond = options.maxReadsPerSecond ?? Infinity;
    this.#quietIntervalMs = Math.max(intervalMs, options.quietIntervalMs ?? intervalMs);
    this.#roundMs = intervalMs;
    this.#schedule = sliceRounds(0, intervalMs, this.#maxReadsPerSlice);
  }

  /**
   * A slice's share of reads at most. It may be changed while running (a benchmark compares
   * slicing with one pass per interval): a value at least the connections open makes a round
   * one slice, and then nudges leave every read to the timer's one pass.
   */
  get maxReadsPerSlice(): number {
    return this.#maxReadsPerSlice;
  }

  set maxReadsPerSlice(reads: number) {
    this.#maxReadsPerSlice = reads;
    this.#reschedule();
  }

  /**
   * Milliseconds a round over all watched connections takes now: the interval, or
   * `connections ÷ maxReadsPerSecond` seconds when that is longer. The longest an idle
   * connection's move goes unseen.
   */
  get roundMs(): number {
    return this.#roundMs;
  }

  /**
   * Milliseconds a quiet connection's address goes unconfirmed at most: the quiet interval, or
   * the round when that is longer.
   */
  get quietMs(): number {
    return Math.max(this.#quietIntervalMs, this.#roundMs);
  }

  /** Starts checking `source` for `conn` (and the timer, if it was not running). */
  watch(conn: TrackedConnection, source: AddressSource): void {
    this.#watched.set(conn, { source, visitedAt: this.#tracker.clock(), bytes: streamBytes(conn) });
    this.#reschedule();
    if (!this.#running) this.start();
  }

  /** Stops checking `conn`; the timer stops when nothing is left to watch. */
  unwatch(conn: TrackedConnection): void {
    this.#watched.delete(conn);
    this.#reschedule();
    if (this.#watched.size === 0) this.stop();
  }

  /** Runs the rounds on the timer (again, after `stop`); `watch` calls it by itself. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#accruedAt = this.#clock.now();
    this.#owed = 0;
    this.#arm();
  }

  /**
   * Tells the watcher the event loop is awake anyway (a request came in): if a slice spacing
   * has passed since reads were last counted, reads what is owed now, at most twice a slice's
   * share. Cheap when nothing is due: one clock read. Call it after the request's own address
   * check, so the slice does not delay that.
   */
  nudge(): void {
    // A round of one slice (few connections) has nothing to spread: the timer reads it.
    if (!this.#running || this.#schedule.slices === 1) return;
    const at = this.#clock.now();
    if (at - this.#accruedAt < this.#schedule.spacingMs) return;
    this.#slice(at, 2 * this.#schedule.readsPerSlice);
  }

  /** One check of every watched connection at once; the rounds go on as they were. */
  check(): void {
    const now = this.#tracker.clock(); // one clock read per pass, not per connection
    for (const [conn, watched] of this.#watched) this.#read(conn, watched.source, now);
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

  #reschedule(): void {
    const size = this.#watched.size;
    this.#roundMs = Math.max(this.#intervalMs, (size * 1000) / this.#maxReadsPerSecond);
    this.#schedule = sliceRounds(size, this.#roundMs, this.#maxReadsPerSlice);
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) return;
      // Whatever the nudges left: on an idle server, an interval's share of the round (the
      // whole round unless the read budget stretches it).
      this.#slice(this.#clock.now(), this.#watched.size);
      if (this.#running) this.#arm();
    }, this.#intervalMs);
  }

  /** Counts the reads owed for the time up to `at`, and makes at most `most` of them. */
  #slice(at: number, most: number): void {
    this.slices++;
    const size = this.#watched.size;
    this.#owed = Math.min(size, this.#owed + (size * (at - this.#accruedAt)) / this.#roundMs);
    this.#accruedAt = at;
    const reads = Math.min(most, Math.floor(this.#owed + 1e-9)); // 62.5 + 62.5 make 125
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
      this.#visit(next.value[0], next.value[1], now);
    }
    this.#tracker.tick();
  }

  /** One connection's turn in the round: reads its address unless that would tell nothing new. */
  #visit(conn: TrackedConnection, watched: Watched, now: number): void {
    const seenSince = conn.lastObservedMs > watched.visitedAt; // by a request
    const bytes = streamBytes(conn);
    const moved = bytes !== watched.bytes;
    watched.visitedAt = now;
    watched.bytes = bytes;
    if (seenSince) return;
    // Quiet: read at the last visit before its address would go unconfirmed past the interval.
    if (!moved && now - conn.lastObservedMs + this.#roundMs <= this.#quietIntervalMs) return;
    this.#read(conn, watched.source, now);
  }

  #read(conn: TrackedConnection, source: AddressSource, now: number): void {
    this.reads++;
    let addr: string;
    try {
      addr = source.remoteAddr();
    } catch {
      return; // the connection is closing; its close is reported elsewhere
    }
    this.#tracker.observe(conn, addr, now);
  }
}

/** Stream bytes in and out so far: a change between two visits means the connection is in use. */
function streamBytes(conn: TrackedConnection): number {
  const counters = conn.counters;
  return counters === undefined ? 0 : counters.bytesIn + counters.bytesOut;
}

/** The watcher's figures in Prometheus text, for `/metrics`. */
export function watcherMetrics(watcher: MigrationWatcher): string {
  return [
    "# HELP quic_migration_watcher_round_seconds How long one round over every open QUIC connection takes now: the longest the move of a connection carrying stream data goes unseen (--watch-interval, longer when --watch-max-reads stretches it).",
    "# TYPE quic_migration_watcher_round_seconds gauge",
    `quic_migration_watcher_round_seconds ${watcher.roundMs / 1000}`,
    "# HELP quic_migration_watcher_quiet_seconds Longest a quiet QUIC connection's address goes unconfirmed now (no request and no stream data since the watcher's last look; --watch-quiet-interval, or the round when longer).",
    "# TYPE quic_migration_watcher_quiet_seconds gauge",
    `quic_migration_watcher_quiet_seconds ${watcher.quietMs / 1000}`,
  ].join("\n");
}
