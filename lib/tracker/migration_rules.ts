/**
 * The tracker's rules, as pure functions: a connection's id, what kind of change an address
 * change is, and what a migration still pending at a close became. No state, no clock.
 *
 * ```ts
 * changeKind("198.18.0.1:4000", "198.18.7.2:5000", new Set(["198.18.0.1"])); // "preferred_address"
 * ```
 * @module
 */

import type { TrackedConnection } from "./tracked_connection.ts";
import type { ConnectionEnding, MigrationKind, MigrationOutcome } from "./types.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A random 64-bit connection id as 16 hex digits. */
export function newConnectionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (let i = 0; i < 8; i++) id += HEX[bytes[i]];
  return id;
}

/**
 * What a migration still pending when `conn` ended became. An error or a timeout lost the
 * connection. A normal close on the new address is not a loss: the migration is validated if
 * request body bytes arrived after it was detected (quinn moves a connection to a new address
 * only on a packet newer than any before it, so what follows came by the new path), and
 * otherwise nothing about the new path was seen either way.
 *
 * Body bytes validate only at a close, not while the window runs: a path whose validation is
 * failing still carries the client's packets until quinn falls back, and a fallback inside the
 * window must be recorded as `reverted`. Once the connection has closed normally, no fallback
 * can follow.
 */
export function outcomeAtClose(
  conn: TrackedConnection,
  ending: ConnectionEnding,
): Exclude<MigrationOutcome, "pending"> {
  if (ending === "error") return "connection_lost";
  const bytesIn = conn.counters?.bytesIn ?? 0;
  return bytesIn > conn.pendingBytesIn ? "validated" : "closed_before_validation";
}

/** The host part of `ip:port` or `[ipv6]:port`, without brackets. */
export function hostOf(addr: string): string {
  const host = addr.slice(0, addr.lastIndexOf(":"));
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

/**
 * What kind of change a move from `old` to `addr` is (see `MigrationKind`): leaving one of the
 * load balancer's addresses for one that is not is the preferred-address hand-off; otherwise the
 * same host is a port change and another host an address change.
 */
export function changeKind(
  old: string,
  addr: string,
  balancerSources: ReadonlySet<string>,
): MigrationKind {
  const from = hostOf(old);
  const to = hostOf(addr);
  if (balancerSources.has(from) && !balancerSources.has(to)) return "preferred_address";
  return from === to ? "port_change" : "address_change";
}
