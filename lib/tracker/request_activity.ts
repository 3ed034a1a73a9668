/**
 * When a connection's recent requests happened, cheaply: requests per second over the last
 * {@link ACTIVITY_SECONDS} seconds in a fixed ring of 16-bit counters (240 bytes), created on a
 * connection's first request. Counting a request allocates nothing and touches one counter
 * (plus, once per new second, the counters of the seconds skipped since the last request).
 *
 * ```ts
 * const activity = new RequestActivity();
 * activity.count(Date.now());
 * activity.toJSON(startMs); // { bucket_ms: 1000, start: "…", counts: [1] }
 * ```
 * @module
 */

/** Seconds of request history kept per connection. */
export const ACTIVITY_SECONDS = 120;
const MAX_COUNT = 0xffff;

/** Requests per second, as the API reports them: `counts[i]` is the second `start + i s`. */
export interface RequestActivityInfo {
  bucket_ms: number;
  /** Start of the first second in `counts` (ISO 8601). */
  start: string;
  /** Requests in each second, oldest first, up to the second of the newest request. */
  counts: number[];
}

/** Requests per second in a ring of {@link ACTIVITY_SECONDS} counters. */
export class RequestActivity {
  readonly #counts = new Uint16Array(ACTIVITY_SECONDS);
  /** The second (since the epoch) of the newest counted request. */
  #newestSecond = -1;

  /** Counts one request made at `nowMs`. */
  count(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second > this.#newestSecond) this.#advance(second);
    // A clock that stepped back counts into the newest second rather than rewriting history.
    const slot = Math.max(second, this.#newestSecond) % ACTIVITY_SECONDS;
    if (this.#counts[slot] < MAX_COUNT) this.#counts[slot]++;
  }

  #advance(second: number): void {
    if (this.#newestSecond < 0 || second - this.#newestSecond >= ACTIVITY_SECONDS) {
      this.#counts.fill(0);
    } else {
      for (let s = this.#newestSecond + 1; s <= second; s++) this.#counts[s % ACTIVITY_SECONDS] = 0;
    }
    this.#newestSecond = second;
  }

  /** The kept seconds that are not before `sinceMs` (the connection's start), oldest first. */
  toJSON(sinceMs: number): RequestActivityInfo | null {
    if (this.#newestSecond < 0) return null;
    const first = Math.max(
      this.#newestSecond - ACTIVITY_SECONDS + 1,
      Math.floor(sinceMs / 1000),
    );
    const counts: number[] = [];
    for (let s = first; s <= this.#newestSecond; s++) {
      counts.push(this.#counts[s % ACTIVITY_SECONDS]);
    }
    return { bucket_ms: 1000, start: new Date(first * 1000).toISOString(), counts };
  }
}
