/**
 * The server's resource limits in one place, with their defaults. Every limit is configurable
 * (see `lib/cli_limits.ts` for the flags); each exists so that one peer cannot take what belongs
 * to all.
 * @module
 */

/** Limits the server enforces. */
export interface ServerLimits {
  /** Open QUIC connections at once; further handshakes are refused. TCP has its own count. */
  maxConnections: number;
  /** Request streams one QUIC connection may have open at once (QUIC stream credit). */
  maxStreamsPerConnection: number;
  /** Largest request header section, in bytes (advertised as SETTINGS_MAX_FIELD_SECTION_SIZE). */
  maxFieldSectionSize: number;
  /** Largest request body, in bytes; more gets 413. */
  maxBodyBytes: number;
  /** Requests per second one connection may make to mutating endpoints; more gets 429. */
  mutatingRequestsPerSecond: number;
  /**
   * Milliseconds a request stream may take to deliver its header section; a stream that sends
   * nothing (slowloris) is answered 408 and its reading stopped when it runs out. Over TCP, the
   * time a connection may go without a request in progress before it is closed.
   */
  headerTimeoutMs: number;
  /** Concurrent client sessions in the migration lab's relay. */
  labMaxSessions: number;
}

/** The limits with nothing configured. */
export function defaultLimits(): ServerLimits {
  return {
    maxConnections: 10_000,
    maxStreamsPerConnection: 256,
    maxFieldSectionSize: 16 * 1024,
    maxBodyBytes: 64 * 1024 * 1024,
    mutatingRequestsPerSecond: 5,
    headerTimeoutMs: 10_000,
    labMaxSessions: 1024,
  };
}
