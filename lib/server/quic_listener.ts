/**
 * Accepts QUIC connections on a `Deno.QuicEndpoint`, registers each with the tracker, and
 * serves HTTP/3 on it through the Hono app.
 * @module
 */

import { DEFAULT_LIMITS } from "../limits.ts";
import { H3ServerConnection } from "../h3/server.ts";
import type { H3Handler, H3ServerOptions } from "../h3/server.ts";
import { errorName, H3_NO_ERROR } from "../h3/errors.ts";
import { formatAddr } from "../addr.ts";
import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import type { MigrationWatcher } from "./migration_watcher.ts";
import type { ConnectionEnv } from "../connection_env.ts";
import { UdpReceiveBuffer } from "../udp_receive_buffer.ts";

/** Options for the QUIC listener. */
export interface QuicListenerOptions extends H3ServerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  fetch: H3Handler<ConnectionEnv>;
  tracker: ConnectionTracker;
  watcher: MigrationWatcher;
  /** Milliseconds of silence before a connection is closed (quinn's default is 30 s). */
  maxIdleTimeout?: number;
  /** Request streams a client may have open at once (default: `lib/limits.ts`). */
  maxConcurrentStreams?: number;
  /** Connections open or in their handshake at once; further ones are refused. */
  maxConnections?: number;
  /** Called when a connection is refused because of `maxConnections`. */
  onRefused?: () => void;
  /**
   * Advertise the bound address as the QUIC preferred address (RFC 9000 §9.6), so clients that
   * honour it leave a load balancer for this node right after the handshake. The bound address
   * must be a specific IP: quinn answers from the address a connection arrived on.
   */
  advertisePreferredAddress?: boolean;
  /** The socket's receive buffer in bytes (default: `lib/limits.ts`); 0 keeps the kernel's. */
  udpReceiveBufferBytes?: number;
}

/** A running QUIC listener. */
export interface QuicListenerHandle {
  /** The UDP address actually bound. */
  readonly addr: Deno.NetAddr;
  /** The socket's receive buffer (asked, given, why not more) and its drop count. */
  readonly socketBuffer: UdpReceiveBuffer;
  /** GOAWAY to every connection, wait up to `timeoutMs` for requests, close. */
  shutdown(timeoutMs: number): Promise<void>;
}

/** The `env` of a QUIC connection: its record and its live remote address. */
class QuicConnectionEnv implements ConnectionEnv {
  #host = "";
  #port = -1;
  #formatted = "";
  #readAt = -1;
  constructor(readonly connection: TrackedConnection, private readonly conn: Deno.QuicConn) {}
  /**
   * Asks quinn (the address is live) at most once per millisecond: a burst of requests on one
   * connection shares one reading, which costs an op call; a change is still seen by the first
   * request of the next millisecond. Formats only when the address changed.
   */
  remoteAddr(): string {
    const now = Date.now();
    if (now === this.#readAt) return this.#formatted;
    this.#readAt = now;
    const addr = this.conn.remoteAddr;
    if (addr.port !== this.#port || addr.hostname !== this.#host) {
      this.#host = addr.hostname;
      this.#port = addr.port;
      this.#formatted = formatAddr(addr);
    }
    return this.#formatted;
  }
}

/** Binds the endpoint and starts accepting. */
export function startQuicListener(options: QuicListenerOptions): QuicListenerHandle {
  const endpoint = new Deno.QuicEndpoint({ hostname: options.hostname, port: options.port });
  const bound = `${endpoint.addr.hostname}:${endpoint.addr.port}`;
  const socketBuffer = new UdpReceiveBuffer(
    endpoint.addr,
    options.udpReceiveBufferBytes ?? DEFAULT_LIMITS.udpReceiveBufferBytes,
  );
  const v6 = endpoint.addr.hostname.includes(":");
  const listener = endpoint.listen({
    ...(options.advertisePreferredAddress
      ? v6 ? { preferredAddressV6: `[${endpoint.addr.hostname}]:${endpoint.addr.port}` } : {
        preferredAddressV4: bound,
      }
      : {}),
    cert: options.cert,
    key: options.key,
    alpnProtocols: ["h3"],
    maxIdleTimeout: options.maxIdleTimeout,
    maxConcurrentBidirectionalStreams: options.maxConcurrentStreams ??
      DEFAULT_LIMITS.maxStreamsPerConnection,
  });
  const connections = new Set<H3ServerConnection<ConnectionEnv>>();
  const localAddr = formatAddr(endpoint.addr);
  const maxConnections = options.maxConnections ?? DEFAULT_LIMITS.maxConnections;
  let handshaking = 0;
  let stopping = false;
  // The event loop is awake for this request anyway: a watcher slice that is due runs now,
  // after the request's own address check (synchronous, in `everyRequest`), instead of the
  // watcher waking the process for it or reading every connection at once.
  const fetch: H3Handler<ConnectionEnv> = (request, env) => {
    const response = options.fetch(request, env);
    options.watcher.nudge();
    return response;
  };

  const serveConnection = async (incoming: Deno.QuicIncoming) => {
    let conn: Deno.QuicConn;
    handshaking++;
    try {
      conn = await incoming.accept();
    } catch {
      return; // handshake failed; quinn has already told the peer
    } finally {
      handshaking--;
    }
    const record = options.tracker.open(
      "h3",
      formatAddr(conn.remoteAddr),
      localAddr,
      conn.serverName ?? null,
    );
    const env = new QuicConnectionEnv(record, conn);
    const h3 = new H3ServerConnection<ConnectionEnv>(
      conn,
      fetch,
      env,
      {
        maxFieldSectionSize: options.maxFieldSectionSize,
        maxRequestBodySize: options.maxRequestBodySize,
        headerTimeoutMs: options.headerTimeoutMs,
        bodyTimeoutMs: options.bodyTimeoutMs,
        onProtocolError: options.onProtocolError,
      },
    );
    record.counters = h3;
    connections.add(h3);
    options.watcher.watch(record, env);
    const info = await h3.serve();
    // One last look at the address: a fallback to the old path just before the close would
    // otherwise go unseen, and the close would be judged on a path the connection had left.
    try {
      options.tracker.observe(record, env.remoteAddr());
    } catch {
      // the address is gone with the connection; the watcher's last look stands
    }
    options.watcher.unwatch(record);
    connections.delete(h3);
    const reason = info.closeCode === -1
      ? info.reason
      : `${errorName(info.closeCode)}${info.reason ? `: ${info.reason}` : ""}`;
    // `-1`: `closed` rejected (idle timeout, transport error); an application close with
    // H3_NO_ERROR, by either side, is the only normal ending.
    options.tracker.close(record, reason, info.closeCode === H3_NO_ERROR ? "normal" : "error");
  };

  (async () => {
    for await (const incoming of listener) {
      if (stopping) {
        incoming.refuse();
        continue;
      }
      if (connections.size + handshaking >= maxConnections) {
        // Refused before the handshake: no TLS work is spent on a connection we cannot keep.
        incoming.refuse();
        options.onRefused?.();
        continue;
      }
      serveConnection(incoming).catch(() => {});
    }
  })().catch(() => {});

  return {
    addr: endpoint.addr,
    socketBuffer,
    async shutdown(timeoutMs: number) {
      stopping = true;
      await Promise.all([...connections].map((c) => c.shutdown(timeoutMs)));
      listener.stop();
      socketBuffer.close();
      endpoint.close();
    },
  };
}
