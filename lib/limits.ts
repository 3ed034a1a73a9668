/**
 * The server's resource limits, each defined once: its default, its range, its flag and
 * environment variable, and its help text. The command line (`lib/cli/`), the listeners and the
 * HTTP/3 code take their defaults from here, and the README's option table is generated from the
 * same entries (`deno task docs`), so no number is written twice. Each limit exists so that one
 * peer cannot take what belongs to all.
 *
 * ```ts
 * const limits = { ...DEFAULT_LIMITS, maxConnections: 100 };
 * ```
 * @module
 */

/** Limits the server enforces. */
export interface ServerLimits {
  /** Open QUIC connections at once; further handshakes are refused. TCP has its own count. */
  maxConnections: number;
  /** Open TCP connections at once (HTTPS and the lab's HTTPS together); more are closed at once. */
  maxTcpConnections: number;
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
   * nothing (slowloris) is answered 408 and its reading stopped when it runs out. Over TCP, an
   * absolute deadline from the handshake (or the end of the last response) to a complete request
   * head; the TLS handshake itself has the same bound.
   */
  headerTimeoutMs: number;
  /**
   * Milliseconds a request body may go without a byte arriving while it is being read; a stalled
   * body is answered 408 (or its connection cut when the answer has begun).
   */
  bodyTimeoutMs: number;
  /**
   * Milliseconds an answer may wait, unread, for a TCP client to take more of it; then the
   * connection is closed. A client that stops reading (or is gone without the server seeing it,
   * while its socket is paused for backpressure) holds nothing longer than this.
   */
  sendTimeoutMs: number;
  /** Concurrent client sessions in the migration lab's relay. */
  labMaxSessions: number;
  /**
   * Concurrent lab relay sessions from one client IP; beyond it, a new Initial from that IP
   * takes the place of one of its unanswered or quiet sessions, or is dropped.
   */
  labMaxSessionsPerAddress: number;
  /** Largest JSON request body (`POST /api/simulate-migration`), in bytes; more gets 413. */
  maxJsonBodyBytes: number;
  /** Live `/api/events` streams at once, all clients together; more get 503 + Retry-After. */
  maxEventStreams: number;
  /**
   * Bytes of events queued for one `/api/events` client that is not reading; beyond them its
   * stream is ended (the client resumes with `Last-Event-ID`).
   */
  eventStreamBufferBytes: number;
  /**
   * Bytes of datagrams the kernel may queue for the QUIC socket (and the lab relay's) while the
   * server is busy (the receive buffer); a burst beyond it is dropped and each client waits out a retransmission
   * timeout. 0 leaves the kernel's default.
   */
  udpReceiveBufferBytes: number;
  /**
   * Connection addresses the migration watcher reads per second at most: past it, a check of
   * every connection takes longer than the interval instead of taking more of the event loop.
   */
  watchMaxReadsPerSecond: number;
}

/** One limit's definition: everything the command line, the help and the README say of it. */
export interface LimitDefinition {
  /** The field of {@link ServerLimits} it sets. */
  readonly field: keyof ServerLimits;
  /** Long flag, e.g. `--max-connections`. */
  readonly flag: string;
  /** Environment variable, e.g. `QUIC_MAX_CONNECTIONS`. */
  readonly envVar: string;
  /** What it bounds and what happens beyond it (help text, without the range). */
  readonly description: string;
  readonly min: number;
  readonly max: number;
  readonly defaultValue: number;
  /** How the default is shown when the bare number says too little (e.g. `64 MiB`). */
  readonly defaultNote?: string;
}

/** Every limit, in help order. */
export const LIMIT_DEFINITIONS: readonly LimitDefinition[] = [
  {
    field: "maxConnections",
    flag: "--max-connections",
    envVar: "QUIC_MAX_CONNECTIONS",
    description:
      "QUIC connections open at once (TCP counted apart); more are refused before the handshake",
    min: 1,
    max: 1_000_000,
    defaultValue: 10_000,
  },
  {
    field: "maxTcpConnections",
    flag: "--max-tcp-connections",
    envVar: "QUIC_MAX_TCP_CONNECTIONS",
    description:
      "TCP connections open at once (HTTPS and the lab's HTTPS together); more are closed before the TLS handshake",
    min: 1,
    max: 1_000_000,
    defaultValue: 1024,
  },
  {
    field: "maxStreamsPerConnection",
    flag: "--max-streams",
    envVar: "QUIC_MAX_STREAMS",
    description: "request streams one QUIC connection may have open at once",
    min: 1,
    max: 100_000,
    defaultValue: 256,
  },
  {
    field: "maxFieldSectionSize",
    flag: "--max-field-section",
    envVar: "QUIC_MAX_FIELD_SECTION",
    description: "largest request header section in bytes (advertised in SETTINGS); more gets 431",
    min: 1024,
    max: 1024 * 1024,
    defaultValue: 16 * 1024,
  },
  {
    field: "maxBodyBytes",
    flag: "--max-body",
    envVar: "QUIC_MAX_BODY",
    description:
      "largest request body in bytes; more gets 413 (or the stream is cut once an answer has begun)",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    defaultValue: 64 * 1024 * 1024,
    defaultNote: "64 MiB",
  },
  {
    field: "mutatingRequestsPerSecond",
    flag: "--mutating-rps",
    envVar: "QUIC_MUTATING_RPS",
    description:
      "requests per second per connection to POST /api/simulate-migration; more gets 429 + Retry-After",
    min: 1,
    max: 10_000,
    defaultValue: 5,
  },
  {
    field: "headerTimeoutMs",
    flag: "--header-timeout",
    envVar: "QUIC_HEADER_TIMEOUT",
    description:
      "ms for a request head (slowloris), from a stream's start or a TCP connection's handshake or last response; then 408 and, over TCP, the connection closed",
    min: 100,
    max: 600_000,
    defaultValue: 10_000,
  },
  {
    field: "bodyTimeoutMs",
    flag: "--body-timeout",
    envVar: "QUIC_BODY_TIMEOUT",
    description:
      "ms a request body may go without a byte while it is read; then 408 (or the exchange cut once the answer has begun)",
    min: 100,
    max: 600_000,
    defaultValue: 10_000,
  },
  {
    field: "sendTimeoutMs",
    flag: "--send-timeout",
    envVar: "QUIC_SEND_TIMEOUT",
    description:
      "ms a TCP client may leave an answer unread (its socket full); then the connection is closed",
    min: 100,
    max: 3_600_000,
    defaultValue: 30_000,
  },
  {
    field: "labMaxSessions",
    flag: "--lab-max-sessions",
    envVar: "QUIC_LAB_MAX_SESSIONS",
    description:
      "concurrent client sessions in the lab relay; when full, unanswered and quiet sessions give way to a new client, else its Initial is dropped",
    min: 1,
    max: 65_536,
    defaultValue: 1024,
  },
  {
    field: "labMaxSessionsPerAddress",
    flag: "--lab-max-sessions-per-address",
    envVar: "QUIC_LAB_MAX_SESSIONS_PER_ADDRESS",
    description:
      "lab relay sessions from one client IP; beyond it, one of that IP's unanswered or quiet sessions gives way, else the Initial is dropped",
    min: 1,
    max: 65_536,
    defaultValue: 64,
  },
  {
    field: "maxJsonBodyBytes",
    flag: "--max-json-body",
    envVar: "QUIC_MAX_JSON_BODY",
    description:
      "largest JSON request body in bytes (POST /api/simulate-migration); more gets 413, checked before it is read",
    min: 64,
    max: 16 * 1024 * 1024,
    defaultValue: 64 * 1024,
    defaultNote: "64 KiB",
  },
  {
    field: "maxEventStreams",
    flag: "--max-event-streams",
    envVar: "QUIC_MAX_EVENT_STREAMS",
    description:
      "live /api/events streams at once, all clients together; more get 503 + Retry-After",
    min: 1,
    max: 100_000,
    defaultValue: 256,
  },
  {
    field: "eventStreamBufferBytes",
    flag: "--event-stream-buffer",
    envVar: "QUIC_EVENT_STREAM_BUFFER",
    description:
      "bytes of events queued for one /api/events client that does not read; beyond that its stream is ended (it resumes with Last-Event-ID)",
    min: 4096,
    max: 256 * 1024 * 1024,
    defaultValue: 1024 * 1024,
    defaultNote: "1 MiB",
  },
  {
    field: "udpReceiveBufferBytes",
    flag: "--udp-receive-buffer",
    envVar: "QUIC_UDP_RECEIVE_BUFFER",
    description:
      "receive buffer in bytes of the QUIC socket and the lab relay's (Linux, needs --allow-ffi; past net.core.rmem_max only as root); datagrams beyond it are dropped by the kernel; 0 keeps the kernel default",
    min: 0,
    max: 1024 * 1024 * 1024,
    defaultValue: 8 * 1024 * 1024,
    defaultNote: "8 MiB",
  },
  {
    field: "watchMaxReadsPerSecond",
    flag: "--watch-max-reads",
    envVar: "QUIC_WATCH_MAX_READS",
    description:
      "connection addresses the migration watcher reads per second at most; with more QUIC connections than --watch-interval allows at this rate, one check of all of them takes connections ÷ this (quic_migration_watcher_round_seconds in /metrics), so idle connections cannot take the event loop from requests",
    min: 100,
    max: 10_000_000,
    defaultValue: 20_000,
  },
];

/** The limits with nothing configured, built from {@link LIMIT_DEFINITIONS}. */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze(
  Object.fromEntries(LIMIT_DEFINITIONS.map((limit) => [limit.field, limit.defaultValue])),
) as Readonly<ServerLimits>;

/** A fresh, mutable copy of {@link DEFAULT_LIMITS}. */
export function defaultLimits(): ServerLimits {
  return { ...DEFAULT_LIMITS };
}
