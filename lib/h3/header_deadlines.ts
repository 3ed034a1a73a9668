/**
 * Deadlines for request streams still waiting for their header section (slowloris defence).
 *
 * One sweep timer serves every connection in the process rather than a timer per request: a
 * request registers its reader when it starts and removes it when its HEADERS arrived, two map
 * operations on the hot path. The sweep runs only while something is registered and never keeps
 * the process alive.
 * @module
 */

/** What the sweep cancels when a deadline passes: a stream's reader. */
export interface ExpiringReader {
  cancel(): Promise<void>;
}

/** How often the sweep looks, at most; a deadline is enforced within this much of its time. */
const SWEEP_INTERVAL_MS = 250;

/** Registered readers with their deadlines, swept on one shared timer. */
export class HeaderDeadlines {
  readonly #deadlines = new Map<ExpiringReader, number>();
  readonly #expired = new WeakSet<ExpiringReader>();
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #now: () => number;

  /** @param now the clock (injectable for tests) */
  constructor(now: () => number = performance.now.bind(performance)) {
    this.#now = now;
  }

  /** Readers currently waiting. */
  get size(): number {
    return this.#deadlines.size;
  }

  /** Starts `reader`'s clock: it has `timeoutMs` to deliver its header section. */
  add(reader: ExpiringReader, timeoutMs: number): void {
    this.#deadlines.set(reader, this.#now() + timeoutMs);
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Stops `reader`'s clock (its header section arrived, or the stream ended). */
  delete(reader: ExpiringReader): void {
    this.#deadlines.delete(reader);
  }

  /** True once `reader` was cancelled because its deadline passed. */
  expired(reader: ExpiringReader): boolean {
    return this.#expired.has(reader);
  }

  /** Cancels every reader whose deadline has passed; stops the timer when none is left. */
  sweep(): void {
    const now = this.#now();
    for (const [reader, deadline] of this.#deadlines) {
      if (deadline > now) continue;
      this.#deadlines.delete(reader);
      this.#expired.add(reader);
      // A pending read then resolves as done; the request loop asks `expired()` to tell why.
      reader.cancel().catch(() => {});
    }
    if (this.#deadlines.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** The process-wide instance the HTTP/3 server uses. */
export const headerDeadlines: HeaderDeadlines = new HeaderDeadlines();
