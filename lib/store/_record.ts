/**
 * Private helpers of the history store: checking a stored record before trusting it, and
 * keeping a record inside Deno KV's value size limit.
 * @module
 */

import type { ConnectionInfo, MigrationEvent } from "../tracker/types.ts";

const PROTOCOLS = new Set(["h3", "h2", "http/1.1"]);
const KINDS = new Set(["port_change", "address_change", "preferred_address"]);
const DETECTORS = new Set(["request", "watcher"]);
const OUTCOMES = new Set([
  "pending",
  "validated",
  "reverted",
  "closed_before_validation",
  "connection_lost",
]);

/**
 * Deno KV refuses values above 64 KiB (V8-serialized). The JSON length is close to the
 * serialized size for ASCII text, and a non-Latin-1 string serializes at two bytes per
 * character, so half the limit leaves room for both.
 */
export const MAX_VALUE_ESTIMATE = 32 * 1024;

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function isTime(value: unknown): value is string {
  return isString(value) && !Number.isNaN(Date.parse(value));
}

function isMigrationEvent(value: unknown): value is MigrationEvent {
  const e = value as Record<string, unknown> | null;
  return typeof e === "object" && e !== null && isTime(e.timestamp) && isString(e.old_addr) &&
    isString(e.new_addr) && KINDS.has(e.kind as string) && DETECTORS.has(e.detected_by as string) &&
    isCount(e.detection_window_ms) && typeof e.validated === "boolean" &&
    OUTCOMES.has(e.outcome as string);
}

/**
 * Whether `value` read from the store is a `ConnectionInfo` the tracker can restore. A record
 * that is not (written by another program, or damaged) is skipped rather than trusted.
 */
export function isConnectionInfo(value: unknown): value is ConnectionInfo {
  const c = value as Record<string, unknown> | null;
  return typeof c === "object" && c !== null && isString(c.connection_id) &&
    PROTOCOLS.has(c.protocol as string) && (c.state === "open" || c.state === "closed") &&
    isString(c.remote_addr) && isString(c.local_addr) &&
    (c.server_name === null || isString(c.server_name)) && isTime(c.start_time) &&
    isTime(c.last_seen) && isCount(c.request_count) && isCount(c.bytes_in) &&
    isCount(c.bytes_out) && isCount(c.migration_count) && Array.isArray(c.migration_events) &&
    c.migration_events.every(isMigrationEvent) && isCount(c.migration_events_dropped) &&
    (c.close_reason === null || isString(c.close_reason));
}

/**
 * `info` as it will be stored, and its estimated size in bytes. A record too large for one KV
 * value (only with a migration event cap far above the default 100) keeps its newest
 * migration events and counts the others as dropped, as the tracker does past its cap.
 */
export function fitForStorage(info: ConnectionInfo): { value: ConnectionInfo; size: number } {
  let value = info;
  let size = JSON.stringify(value).length;
  while (size > MAX_VALUE_ESTIMATE && value.migration_events.length > 0) {
    const keep = Math.floor(value.migration_events.length / 2);
    const dropped = value.migration_events.length - keep;
    value = {
      ...value,
      migration_events: value.migration_events.slice(dropped),
      migration_events_dropped: value.migration_events_dropped + dropped,
    };
    size = JSON.stringify(value).length;
  }
  if (size > MAX_VALUE_ESTIMATE && value.close_reason !== null) {
    // Only a peer's close reason text is left to be that long.
    value = { ...value, close_reason: value.close_reason.slice(0, 1024) };
    size = JSON.stringify(value).length;
  }
  return { value, size };
}
