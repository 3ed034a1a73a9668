/**
 * One tracked connection: mutable state the tracker updates on the hot path (plain numbers,
 * no allocation per request), and `toJSON()` producing the API's `ConnectionInfo`.
 * @module
 */

import { RequestActivity, type RequestActivityInfo } from "./request_activity.ts";
import type { ConnectionInfo, MigrationEvent, Protocol } from "./types.ts";

/** A live source of byte counts, such as an HTTP/3 connection's stream counters. */
export interface ByteCounters {
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** A connection as the tracker holds it. Fields are updated only by the tracker. */
export class TrackedConnection {
  state: "open" | "closed" = "open";
  lastSeenMs: number;
  /** When the current remote address was last confirmed (by a request or the watcher). */
  lastObservedMs: number;
  requestCount = 0;
  migrationCount = 0;
  readonly events: MigrationEvent[] = [];
  eventsDropped = 0;
  closeReason: string | null = null;
  /** The migration inside its validation window, if any. */
  pending: MigrationEvent | undefined;
  pendingUntil = 0;
  /** Request body bytes received when the pending migration was detected (see `counters`). */
  pendingBytesIn = 0;
  /** Where byte counts come from, if the listener provides them. */
  counters: ByteCounters | undefined;
  /** Requests per second lately; created by the first request. */
  activity: RequestActivity | undefined;

  /** Created by `ConnectionTracker.open`. */
  constructor(
    readonly id: string,
    /** Opening order, for stable paging. */
    readonly seq: number,
    readonly protocol: Protocol,
    public remoteAddr: string,
    readonly localAddr: string,
    readonly serverName: string | null,
    readonly startMs: number,
  ) {
    this.lastSeenMs = startMs;
    this.lastObservedMs = startMs;
  }

  #startTime: string | undefined;
  /** `startMs` as ISO 8601, formatted once (formatting is not free, and `/api/test` shows it). */
  get startTime(): string {
    return this.#startTime ??= new Date(this.startMs).toISOString();
  }

  /** Counts a request at `nowMs` in the per-second activity ring (hot path: no allocation). */
  countActivity(nowMs: number): void {
    (this.activity ??= new RequestActivity()).count(nowMs);
  }

  /** Requests per second over the last two minutes (for one connection's detail, not lists). */
  requestActivity(): RequestActivityInfo | null {
    return this.activity?.toJSON(this.startMs) ?? null;
  }

  /** The API's view of this connection. */
  toJSON(): ConnectionInfo {
    return {
      connection_id: this.id,
      protocol: this.protocol,
      state: this.state,
      remote_addr: this.remoteAddr,
      local_addr: this.localAddr,
      server_name: this.serverName,
      start_time: this.startTime,
      last_seen: new Date(this.lastSeenMs).toISOString(),
      request_count: this.requestCount,
      bytes_in: this.counters?.bytesIn ?? 0,
      bytes_out: this.counters?.bytesOut ?? 0,
      migration_count: this.migrationCount,
      migration_events: this.events.map((e) => ({ ...e })),
      migration_events_dropped: this.eventsDropped,
      close_reason: this.closeReason,
    };
  }
}
