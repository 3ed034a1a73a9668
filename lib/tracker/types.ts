/**
 * The shapes the tracker reports, exactly as the API serves them (snake_case JSON).
 * @module
 */

/** The protocol a connection speaks. */
export type Protocol = "h3" | "h2" | "http/1.1";

/**
 * How the peer's address changed:
 * - `port_change`: same IP, new port (a NAT rebinding);
 * - `address_change`: a new IP (a network switch, or a NAT with another public address);
 * - `preferred_address`: the hand-off from the load balancer's path to the client's own, when a
 *   client follows the preferred address this node advertised (RFC 9000 §9.6). The old address
 *   is the balancer's, the new one the client's. It is not a NAT migration: it is not counted in
 *   `migration_count`.
 */
export type MigrationKind = "port_change" | "address_change" | "preferred_address";

/**
 * What became of a migration. Every outcome but `pending` is final, and each says what the
 * server observed, nothing more:
 * - `pending`: detected, and its validation window is still running;
 * - `validated`: the new path demonstrably served the connection: a request arrived from the
 *   new address; or the new address still stood when the window ended; or the connection closed
 *   normally (no error, no timeout) on the new address after request body bytes arrived
 *   following the detection;
 * - `reverted`: the connection went back to the old address within the window (quinn falls
 *   back to the old path when validating the new one fails);
 * - `closed_before_validation`: the connection closed normally within the window, still on the
 *   new address, before any traffic on the new path was seen: it was not lost, and the new path
 *   was neither confirmed nor seen to fail;
 * - `connection_lost`: the connection ended within the window in an error or a timeout (idle
 *   timeout, transport or protocol error, or the server process ending while it was open).
 */
export type MigrationOutcome =
  | "pending"
  | "validated"
  | "reverted"
  | "closed_before_validation"
  | "connection_lost";

/**
 * How a connection ended, as its listener saw it: `normal` is a close by either side without
 * an error (HTTP/3 H3_NO_ERROR, a TCP close without error); `error` is everything else (an idle
 * timeout, a transport error, a close with an error code).
 */
export type ConnectionEnding = "normal" | "error";

/** One observed change of a connection's remote address. */
export interface MigrationEvent {
  /** When it was detected (ISO 8601). */
  timestamp: string;
  old_addr: string;
  new_addr: string;
  kind: MigrationKind;
  /** Which check saw it first: a request on the connection, or the periodic watcher. */
  detected_by: "request" | "watcher";
  /**
   * Milliseconds between the last time the old address was observed and the detection: an
   * upper bound on how long the change went unnoticed (the server cannot see the moment itself).
   */
  detection_window_ms: number;
  validated: boolean;
  outcome: MigrationOutcome;
}

/** What the API reports about one connection. */
export interface ConnectionInfo {
  /** Random, assigned by the server when the connection was accepted; never an address. */
  connection_id: string;
  protocol: Protocol;
  state: "open" | "closed";
  remote_addr: string;
  local_addr: string;
  /** TLS server name (SNI) the client asked for, if any. */
  server_name: string | null;
  start_time: string;
  last_seen: string;
  request_count: number;
  /** HTTP payload bytes on this connection's streams (not UDP or TCP bytes). */
  bytes_in: number;
  bytes_out: number;
  migration_count: number;
  /** The most recent migrations, oldest first (at most the configured cap). */
  migration_events: MigrationEvent[];
  /** Migrations not kept in `migration_events` because of the cap. */
  migration_events_dropped: number;
  close_reason: string | null;
}

/** An event the tracker emits; `id` increases by one per event, for resumable streams. */
export type TrackerEvent =
  | { id: number; type: "connection_opened"; connection: ConnectionInfo }
  | {
    id: number;
    type: "migration";
    connection_id: string;
    migration: MigrationEvent;
    connection: ConnectionInfo;
  }
  | {
    id: number;
    type: "migration_outcome";
    connection_id: string;
    migration: MigrationEvent;
  }
  | { id: number; type: "connection_closed"; connection: ConnectionInfo };

/** A subscriber; it must not throw. */
export type TrackerListener = (event: TrackerEvent) => void;
