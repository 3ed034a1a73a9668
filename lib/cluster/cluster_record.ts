/**
 * What the cluster stores, as text: a connection record (`ConnectionInfo` plus the `node` that
 * holds the connection) and an event stream entry (`node`, `type`, the event's JSON). Encoding
 * and decoding are pure, and decoding never trusts what it reads: a value another program wrote,
 * or a damaged one, decodes to undefined and is skipped.
 *
 * ```ts
 * const json = encodeRecord(conn.toJSON(), "n1");
 * decodeRecord(json)?.node; // "n1"
 * ```
 * @module
 */

import { isConnectionInfo } from "../store/_record.ts";
import { LOST_AT_RESTART } from "../tracker/restore.ts";
import type { ConnectionInfo, TrackerEvent } from "../tracker/types.ts";

/** A connection record as the cluster serves it: the tracker's view and the node holding it. */
export type ClusterConnectionInfo = ConnectionInfo & { node: string };

/**
 * The notice a node writes into the stream when its bounded queue had to drop events (Redis
 * was away too long): readers learn that `dropped` of that node's events are missing here.
 */
export interface EventsDroppedNotice {
  id: number;
  type: "events_dropped";
  node: string;
  dropped: number;
}

/** An event in the cluster's stream: a tracker event, or a node's notice of dropped events. */
export type ClusterEvent = TrackerEvent | EventsDroppedNotice;

/** One stream entry: its Redis stream id (the SSE id), the node that wrote it, the event. */
export interface ClusterStreamEntry {
  id: string;
  node: string;
  event: ClusterEvent;
}

const EVENT_TYPES = new Set([
  "connection_opened",
  "migration",
  "migration_outcome",
  "connection_closed",
  "events_dropped",
]);

/** The stored form of `info` held by `node`. */
export function encodeRecord(info: ConnectionInfo, node: string): string {
  return JSON.stringify({ ...info, node });
}

/** A stored record, or undefined when `json` is not one. */
export function decodeRecord(json: string | null | undefined): ClusterConnectionInfo | undefined {
  if (typeof json !== "string") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isConnectionInfo(value)) return undefined;
  const node = (value as { node?: unknown }).node;
  return typeof node === "string" ? value as ClusterConnectionInfo : undefined;
}

/**
 * The record of a connection that was open when its node's previous process ended: closed with
 * `lost_at_restart`, a migration still in its window settled `connection_lost` (the same rule
 * the local history applies at a restart; see `lib/tracker/restore.ts`).
 */
export function lostAtRestart(info: ClusterConnectionInfo): ClusterConnectionInfo {
  return {
    ...info,
    state: "closed",
    close_reason: LOST_AT_RESTART,
    migration_events: info.migration_events.map((event) =>
      event.outcome === "pending"
        ? { ...event, outcome: "connection_lost", validated: false }
        : event
    ),
  };
}

/** A node's migration totals as it writes them beside its records (`P:summary`). */
export interface NodeSummary {
  total_migrations: number;
  migrations_by_outcome: Record<string, number>;
}

/** The stored form of a node's totals, taken from its tracker's summary. */
export function encodeNodeSummary(summary: NodeSummary): string {
  return JSON.stringify({
    total_migrations: summary.total_migrations,
    migrations_by_outcome: summary.migrations_by_outcome,
  });
}

/**
 * The cluster's migration totals: the sum over every node's stored totals (values that are not
 * a node summary are skipped, so one bad entry cannot hide the others).
 */
export function sumNodeSummaries(stored: Iterable<string>): NodeSummary & { nodes: number } {
  const total: NodeSummary & { nodes: number } = {
    total_migrations: 0,
    migrations_by_outcome: {},
    nodes: 0,
  };
  for (const json of stored) {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      continue;
    }
    const summary = value as Partial<NodeSummary> | null;
    const byOutcome = summary?.migrations_by_outcome;
    if (
      typeof summary?.total_migrations !== "number" || typeof byOutcome !== "object" ||
      byOutcome === null
    ) continue;
    total.nodes++;
    total.total_migrations += summary.total_migrations;
    for (const [outcome, n] of Object.entries(byOutcome)) {
      if (typeof n !== "number") continue;
      total.migrations_by_outcome[outcome] = (total.migrations_by_outcome[outcome] ?? 0) + n;
    }
  }
  return total;
}

/** The JSON of a dropped-events notice. */
export function encodeDroppedNotice(node: string, dropped: number): string {
  const notice: EventsDroppedNotice = { id: 0, type: "events_dropped", node, dropped };
  return JSON.stringify(notice);
}

/**
 * A stream entry read back (`fields` as Redis returns them), or undefined when it is not one of
 * ours: missing fields, an unknown type, JSON that does not parse or does not match its type.
 */
export function decodeStreamEntry(
  id: string,
  fields: Record<string, string | undefined>,
): ClusterStreamEntry | undefined {
  const { node, type, json } = fields;
  if (node === undefined || type === undefined || json === undefined) return undefined;
  if (!EVENT_TYPES.has(type)) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof event !== "object" || event === null) return undefined;
  if ((event as { type?: unknown }).type !== type) return undefined;
  return { id, node, event: event as ClusterEvent };
}

/** The connection an event is about. */
export function eventConnectionId(event: TrackerEvent): string {
  return event.type === "migration" || event.type === "migration_outcome"
    ? event.connection_id
    : event.connection.connection_id;
}
