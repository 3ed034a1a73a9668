/**
 * Turns `ConnectionInfo` records saved by an earlier process back into closed
 * `TrackedConnection`s, for `ConnectionTracker.restore`. Pure: no I/O, no clock.
 *
 * A record saved while its connection was still open describes a connection that died with
 * the process: it comes back closed with {@link LOST_AT_RESTART}, and a migration still inside
 * its validation window is settled `connection_lost`: the connection ended within the window,
 * and not normally (the server process ended under it, and its peer never saw a close).
 * @module
 */

import { TrackedConnection } from "./tracked_connection.ts";
import type { ConnectionInfo } from "./types.ts";

/** The close reason of a connection that was open when the previous process ended. */
export const LOST_AT_RESTART = "lost_at_restart";

/**
 * A closed `TrackedConnection` equal to `info` as the API reported it (same id, counts,
 * migration events and close reason), with opening sequence number `seq`. An open `info`
 * becomes closed with {@link LOST_AT_RESTART}; its `last_seen` is kept (the moment of death
 * is unknown).
 */
export function connectionFromInfo(info: ConnectionInfo, seq: number): TrackedConnection {
  const conn = new TrackedConnection(
    info.connection_id,
    seq,
    info.protocol,
    info.remote_addr,
    info.local_addr,
    info.server_name,
    Date.parse(info.start_time),
  );
  conn.state = "closed";
  conn.lastSeenMs = Date.parse(info.last_seen);
  conn.lastObservedMs = conn.lastSeenMs;
  conn.requestCount = info.request_count;
  conn.migrationCount = info.migration_count;
  conn.eventsDropped = info.migration_events_dropped;
  conn.closeReason = info.state === "open" ? LOST_AT_RESTART : info.close_reason;
  // The byte counts are final: nothing will ever add to them again.
  conn.counters = { bytesIn: info.bytes_in, bytesOut: info.bytes_out };
  for (const event of info.migration_events) {
    const copy = { ...event };
    if (copy.outcome === "pending") {
      copy.outcome = "connection_lost";
      copy.validated = false;
    }
    conn.events.push(copy);
  }
  return conn;
}

/** Orders records by opening time (then id, so equal times order the same way every run). */
export function byStartTime(a: ConnectionInfo, b: ConnectionInfo): number {
  return Date.parse(a.start_time) - Date.parse(b.start_time) ||
    (a.connection_id < b.connection_id ? -1 : a.connection_id > b.connection_id ? 1 : 0);
}
