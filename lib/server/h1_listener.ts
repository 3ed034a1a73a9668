/**
 * The TCP listener's HTTP/1.1-only mode (the default): TLS and the connection's life from
 * `node:tls`, HTTP/1.1 from our own small server (`h1_connection.ts`) instead of `node:http`.
 *
 * Why not `node:https`: in the profile of the TCP path (bench/results/2026-11-28-tcp-profile.md)
 * `node:http`'s parser, `IncomingMessage`/`ServerResponse` and its two-buffer writes cost more
 * than everything else a small request does. Why not `Deno.listenTls`, which is cheaper still:
 * in Deno 2.9.6 a `TlsConn` closed during its handshake keeps the socket open inside the runtime
 * until the handshake ends, so neither the connection cap (enforced before TLS) nor the handshake
 * deadline could close anything; `node:tls` closes the raw socket at once.
 * HTTP/2 (opt-in) stays on `node:http2` in `tcp_listener.ts`: ALPN picks the protocol there.
 *
 * Each TLS socket is its own object from accept to close, so the tracker's record stands for
 * exactly one TCP connection (never one derived from its address). Connections are counted
 * against the cap before TLS; the handshake must complete within the head timeout. Shutdown
 * drains: idle connections close at once, exchanges in flight finish (their answers say
 * `connection: close`), and whatever remains is cut at the deadline.
 * @module
 */

import tls, { type TLSSocket } from "node:tls";
import type { ConnectionEnv } from "../connection_env.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";
import { H1Connection, type H1Env } from "./h1_connection.ts";
import { ConnectionIO } from "./h1_io.ts";
import type { TcpConnectionSlots } from "./tcp_slots.ts";
import { propagateReadStop } from "./tls_read_backpressure.ts";
import { closedWithin, countBeforeTls, listenOn, openTlsRecord } from "./tls_accept.ts";

/** What the HTTP/1.1 listener is configured with (resolved defaults, see `tcp_listener.ts`). */
export interface H1ListenerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  fetch: (request: Request, env: ConnectionEnv) => Response | Promise<Response>;
  tracker: ConnectionTracker;
  altSvc: string;
  slots: TcpConnectionSlots;
  onRefused?: () => void;
  maxBodyBytes: number;
  maxHeadBytes: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  sendTimeoutMs: number;
}

/** A running HTTP/1.1 listener. */
export interface H1ListenerHandle {
  readonly port: number;
  /** Drains (see the module note) for up to `timeoutMs`, then closes what is left. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Binds the TCP port and serves HTTP/1.1 over TLS. Rejects when the port cannot be bound. */
export async function startH1Listener(options: H1ListenerOptions): Promise<H1ListenerHandle> {
  const settings = {
    fetch: options.fetch,
    altSvc: options.altSvc,
    maxHeadBytes: options.maxHeadBytes,
    maxBodyBytes: options.maxBodyBytes,
    headerTimeoutMs: options.headerTimeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs,
    draining: false,
  };
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ALPNProtocols: ["http/1.1"],
    // The TLS handshake gets the same bound as the request head that follows it.
    handshakeTimeout: settings.headerTimeoutMs,
  });
  const serving = new Map<ConnectionIO, H1Connection>();
  let onAllClosed = () => {};
  const raw = countBeforeTls(
    server,
    options.slots,
    () => settings.draining,
    options.onRefused,
    (open) => {
      if (open === 0) onAllClosed();
    },
  );
  server.on("secureConnection", (socket: TLSSocket) => {
    if (settings.draining) {
      socket.destroy();
      return;
    }
    propagateReadStop(socket);
    const { record, remote, counters } = openTlsRecord(options.tracker, socket, "http/1.1");
    const env: H1Env = { connection: record, remoteAddr: () => remote, counters };
    const io = new ConnectionIO(socket, options.sendTimeoutMs);
    const connection = new H1Connection(io, settings, env);
    serving.set(io, connection);
    socket.once("close", () => {
      serving.delete(io);
      options.tracker.close(
        record,
        io.failed ? "TCP connection closed on an error" : "TCP connection closed",
        io.failed ? "error" : "normal",
      );
    });
    connection.serve()
      .then(() => io.closeGracefully())
      .catch(() => io.close());
  });
  // A handshake that failed or took too long: closed, nothing to answer. (With a listener here,
  // node:tls leaves the closing to it.)
  server.on("tlsClientError", (_error: Error, socket: TLSSocket) => socket.destroy());
  const port = await listenOn(server, options.port, options.hostname);
  let stopped: Promise<void> | undefined;
  return {
    port,
    shutdown(timeoutMs = 5000) {
      stopped ??= drain(timeoutMs);
      return stopped;
    },
  };

  async function drain(timeoutMs: number): Promise<void> {
    settings.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [io, connection] of serving) if (!connection.active) io.close();
    if (raw.size > 0) {
      await closedWithin((allClosed) => onAllClosed = allClosed, timeoutMs);
    }
    for (const socket of raw) socket.destroy(); // what is left, handshakes included
    await closed;
  }
}
