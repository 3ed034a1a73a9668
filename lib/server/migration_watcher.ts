/**
 * Looks at every open QUIC connection's remote address on a short interval, so a connection
 * that migrates while idle is caught too (a busy one is caught by its next request first), and
 * ends validation windows that have run out.
 *
 * `Deno.QuicConn.remoteAddr` is live: quinn updates it when it switches the connection to a
 * new path. Reading it is one call into the runtime per connection per tick, so the watcher's
 * cost grows with the connections open and shrinks with a longer interval; the `idle`
 * benchmark measures its share of a core (`bench/results/`). The interval bounds an idle
 * connection's detection delay. A connection carrying requests is caught by its next request,
 * well before.
 * @module
 */

import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";

/** Anything with a live remote address: `ip:port` now (it may throw once the connection is gone). */
export interface AddressSource {
  remoteAddr(): string;
}

/** The periodic migration check. */
export class MigrationWatcher {
  readonly #tracker: ConnectionTracker;
  readonly #intervalMs: number;
  readonly #watched = new Map<TrackedConnection, AddressSource>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Ticks run so far (for tests and metrics). */
  ticks = 0;

  /** @param intervalMs milliseconds between checks */
  constructor(tracker: ConnectionTracker, intervalMs: number) {
    this.#tracker = tracker;
    this.#intervalMs = intervalMs;
  }

  /** Starts checking `source` for `conn`. */
  watch(conn: TrackedConnection, source: AddressSource): void {
    this.#watched.set(conn, source);
    this.#timer ??= setInterval(() => this.check(), this.#intervalMs);
  }

  /** Stops checking `conn`; the timer stops when nothing is left to watch. */
  unwatch(conn: TrackedConnection): void {
    this.#watched.delete(conn);
    if (this.#watched.size === 0) this.stop();
  }

  /** One check of every watched connection; also called by the timer. */
  check(): void {
    this.ticks++;
    const now = this.#tracker.clock(); // one clock read per tick, not per connection
    for (const [conn, source] of this.#watched) {
      let addr: string;
      try {
        addr = source.remoteAddr();
      } catch {
        continue; // the connection is closing; its close is reported elsewhere
      }
      this.#tracker.observe(conn, addr, now);
    }
    this.#tracker.tick();
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
