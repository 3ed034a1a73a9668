/**
 * The lab relay's (`udp_relay.ts`) options, their defaults, and its relay-wide counters.
 * @module
 */

/** Where the relay listens, where it forwards, and its limits. */
export interface UdpRelayOptions {
  /** The server's address, as an IP literal (`127.0.0.1`, `::1`). */
  targetHostname: string;
  targetPort: number;
  /** Where clients send to; default `127.0.0.1`. */
  listenHostname?: string;
  /**
   * More addresses to listen on, on the same port (e.g. `::1` beside `127.0.0.1`). One that
   * cannot be bound (no IPv6, port taken) is skipped and listed in `relay.unboundHostnames`.
   */
  alsoListenOn?: readonly string[];
  /** Default 0: a free port, read it back from `relay.port`. */
  listenPort?: number;
  /** Source address of new upstream mappings; default `127.0.0.1`. */
  upstreamHostname?: string;
  /**
   * Most concurrent sessions; datagrams from further client addresses are dropped (default:
   * `--lab-max-sessions` in `lib/limits.ts`).
   */
  maxSessions?: number;
  /**
   * Most concurrent sessions from one client IP (default: `--lab-max-sessions-per-address`).
   */
  maxSessionsPerAddress?: number;
  /** A session with no traffic either way for this long is closed. Default 60,000 ms. */
  idleTimeoutMs?: number;
  /**
   * A session the server has not answered this long after it opened is closed
   * (default {@link DEFAULT_UNANSWERED_TIMEOUT_MS}).
   */
  unansweredTimeoutMs?: number;
  /**
   * When the table is full, an answered session quiet for this long may give way to a new
   * client (default {@link DEFAULT_EVICTABLE_IDLE_MS}).
   */
  evictableIdleMs?: number;
  /** How many distinct client → server DCIDs a session records. Default 32. */
  maxDcidsSeen?: number;
}

/** Relay-wide counters. */
export interface UdpRelayStats {
  sessionsOpened: number;
  sessionsClosed: number;
  datagramsFromClients: number;
  datagramsFromServer: number;
  /**
   * Datagrams from unknown client addresses that were not a full-size QUIC Initial, dropped
   * without opening a session.
   */
  droppedNotInitial: number;
  /** Initials from new client addresses dropped: `maxSessions` open, none could give way. */
  droppedOverSessionCap: number;
  /** Initials dropped: their IP had `maxSessionsPerAddress` open, none could give way. */
  droppedOverAddressCap: number;
  /** Sessions closed to make room for a new client. */
  sessionsEvicted: number;
  /** Sessions closed because the server never answered them in time. */
  sessionsUnanswered: number;
  droppedOnOldMapping: number;
  /** Datagrams arriving on an upstream socket from anyone but the target. */
  droppedFromStranger: number;
  sendErrors: number;
  receiveErrors: number;
}

/**
 * How long a session may wait for the server's first answer. A real handshake is answered in
 * one round trip; junk never is.
 */
export const DEFAULT_UNANSWERED_TIMEOUT_MS = 5_000;

/** How long an answered session must be quiet before a newcomer may push it out of a full table. */
export const DEFAULT_EVICTABLE_IDLE_MS = 10_000;

/** Stats with every count at zero, for a new relay. */
export function emptyRelayStats(): UdpRelayStats {
  return {
    sessionsOpened: 0,
    sessionsClosed: 0,
    datagramsFromClients: 0,
    datagramsFromServer: 0,
    droppedNotInitial: 0,
    droppedOverSessionCap: 0,
    droppedOverAddressCap: 0,
    sessionsEvicted: 0,
    sessionsUnanswered: 0,
    droppedOnOldMapping: 0,
    droppedFromStranger: 0,
    sendErrors: 0,
    receiveErrors: 0,
  };
}
