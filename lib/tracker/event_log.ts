/**
 * A bounded ring of tracker events with increasing ids, so a live stream can resume from
 * `Last-Event-ID` after a reconnect.
 * @module
 */

import type { TrackerEvent } from "./types.ts";

/** Keeps the newest `capacity` events. */
export class EventLog {
  readonly #ring: (TrackerEvent | undefined)[];
  #lastId = 0;

  /** @param capacity events kept */
  constructor(capacity: number) {
    this.#ring = new Array(Math.max(1, capacity));
  }

  /** The id of the newest event, 0 before any. */
  get lastId(): number {
    return this.#lastId;
  }

  /** Assigns the next id to `event` and stores it, overwriting the oldest when full. */
  append(event: TrackerEvent): void {
    event.id = ++this.#lastId;
    this.#ring[event.id % this.#ring.length] = event;
  }

  /**
   * Events with ids above `lastId`, oldest first; null when some of them were already
   * overwritten (the caller then knows it missed events and should reload). An id above the
   * newest one came from an earlier process (ids restart with the server): null too, since
   * that client's view predates the restart.
   */
  since(lastId: number): TrackerEvent[] | null {
    if (lastId > this.#lastId) return null;
    if (lastId === this.#lastId) return [];
    const oldest = Math.max(1, this.#lastId - this.#ring.length + 1);
    if (lastId + 1 < oldest) return null;
    const out: TrackerEvent[] = [];
    for (let id = lastId + 1; id <= this.#lastId; id++) {
      out.push(this.#ring[id % this.#ring.length]!);
    }
    return out;
  }
}
