/**
 * HTTPS over TCP for the same Hono app, adding `Alt-Svc` so curl and browsers discover HTTP/3 on
 * the same port. HTTP/1.1 by default; HTTP/2 as well with `http2: true`.
 *
 * HTTP/1.1 alone (the default) is served by our own HTTP/1.1 server on `node:tls`
 * (`h1_listener.ts`): `node:https` costs more per request than all the rest (see that module).
 * With HTTP/2 this module serves both protocols through Deno's `node:http2` (with `allowHTTP1`):
 * `Deno.serve` tells a handler neither the protocol ALPN chose nor where one TCP connection ends
 * and the next begins, so it could only guess both. Here each TLS connection is an object with
 * an ALPN protocol and a `close` event, which the tracker records as observed.
 *
 * Why HTTP/2 is off by default: in Deno 2.9.6, a peer's GOAWAY can abort the whole process inside
 * nghttp2 (`find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL'`,
 * denoland/deno#36788), before any JavaScript runs, so nothing here could catch it; `h2load`
 * triggers it within two runs.
 *
 * What one client may hold is bounded in both modes: connections (`maxConnections`, counted
 * before TLS), the time to a complete request head (an absolute deadline, not an idle timer that
 * each byte resets), the time a request body may stall, and memory (request bodies are read only
 * as fast as their answers can be written; see `tls_read_backpressure.ts` for `node:tls`).
 * Shutdown drains: in-flight answers finish, idle connections close, and whatever remains is cut
 * at the deadline.
 * @module
 */

import { DEFAULT_LIMITS } from "../limits.ts";
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import type { ConnectionTracker } from "../tracker/tracker.ts";
import type { ConnectionEnv } from "../connection_env.ts";
import { propagateReadStop } from "./tls_read_backpressure.ts";
import { closedWithin, countBeforeTls, listenOn, openTlsRecord } from "./tls_accept.ts";
import { answerAndClose, clientErrorAnswer, rawJsonAnswer } from "./tcp_guards.ts";
import { startH1Listener } from "./h1_listener.ts";
import { TcpConnectionSlots } from "./tcp_slots.ts";
import {
  type AnyRequest,
  type AnyResponse,
  type ExchangeSettings,
  serveRequest,
  type TcpEnv,
} from "./tcp_exchange.ts";

export { TcpConnectionSlots };

/** Options for the TCP listener. */
export interface TcpListenerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  fetch: (request: Request, env: ConnectionEnv) => Response | Promise<Response>;
  tracker: ConnectionTracker;
  /** The `Alt-Svc` value to advertise, e.g. `h3=":9443"; ma=86400`. */
  altSvc: string;
  /**
   * TCP connections open at once; further ones are closed at once, before TLS (default:
   * `lib/limits.ts`). Ignored when `slots` is given.
   */
  maxConnections?: number;
  /** A connection count shared with other listeners, so that one cap covers them all. */
  slots?: TcpConnectionSlots;
  /** Called when a connection is refused because of the connection cap. */
  onRefused?: () => void;
  /** Largest request body, in bytes; more gets 413 (default: `lib/limits.ts`). */
  maxBodyBytes?: number;
  /** Largest HTTP/1.1 request head, in bytes; more gets 431 (default: `lib/limits.ts`). */
  maxHeadBytes?: number;
  /** Offer HTTP/2 (ALPN h2) besides HTTP/1.1; off by default (see the module note). */
  http2?: boolean;
  /**
   * Milliseconds for the TLS handshake, and then from the handshake, or from the end of the last
   * response, to the next complete request head (default: `lib/limits.ts`). An absolute deadline:
   * a head trickled a byte at a time gets 408 and the connection closed; an idle one is closed.
   */
  headerTimeoutMs?: number;
  /** Milliseconds a request body may go without a byte while it is read (default: `lib/limits.ts`). */
  bodyTimeoutMs?: number;
  /** Milliseconds an answer may wait unread before the connection is closed (default: limits). */
  sendTimeoutMs?: number;
}

/** A running TCP listener. */
export interface TcpListenerHandle {
  readonly port: number;
  /**
   * Stops accepting, closes idle connections, lets answers in flight finish for up to
   * `timeoutMs` (closing each connection after its last one), then closes what is left.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

const ENV = Symbol("connectionEnv");
type Socket = TLSSocket & { [ENV]?: TcpEnv };

/** The listener's state shared by its connections. */
interface ListenerState extends ExchangeSettings {
  readonly headerTimeoutMs: number;
}

/** Binds the TCP port and starts serving. */
export async function startTcpListener(options: TcpListenerOptions): Promise<TcpListenerHandle> {
  if (!options.http2) {
    return startH1Listener({
      ...options,
      slots: options.slots ??
        new TcpConnectionSlots(options.maxConnections ?? DEFAULT_LIMITS.maxTcpConnections),
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
      maxHeadBytes: options.maxHeadBytes ?? DEFAULT_LIMITS.maxFieldSectionSize,
      headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_LIMITS.headerTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_LIMITS.bodyTimeoutMs,
      sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_LIMITS.sendTimeoutMs,
    });
  }
  const state: ListenerState = {
    fetch: options.fetch,
    altSvc: options.altSvc,
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_LIMITS.headerTimeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_LIMITS.bodyTimeoutMs,
    sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_LIMITS.sendTimeoutMs,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
    draining: false,
  };
  const onRequest = (req: AnyRequest, res: AnyResponse) => {
    handle(req, res, state).catch(() => {
      res.destroy?.();
    });
  };
  const tls = {
    cert: options.cert,
    key: options.key,
    // The TLS handshake gets the same bound as the request head that follows it.
    handshakeTimeout: state.headerTimeoutMs,
    maxHeaderSize: options.maxHeadBytes ?? DEFAULT_LIMITS.maxFieldSectionSize,
  };
  // HTTP/2, and HTTP/1.1 for clients that do not offer h2 (the HTTP/1.1-only mode is above).
  const server = http2.createSecureServer({ ...tls, allowHTTP1: true }, onRequest);
  const sockets = new Set<Socket>();
  const slots = options.slots ??
    new TcpConnectionSlots(options.maxConnections ?? DEFAULT_LIMITS.maxTcpConnections);
  let onAllClosed = () => {};
  const raw = countBeforeTls(server, slots, () => state.draining, options.onRefused);
  server.on("secureConnection", (socket: Socket) => {
    if (state.draining) {
      socket.destroy();
      return;
    }
    propagateReadStop(socket);
    const protocol = socket.alpnProtocol === "h2" ? "h2" : "http/1.1";
    const { record, remote, counters } = openTlsRecord(options.tracker, socket, protocol);
    const env: TcpEnv = {
      connection: record,
      remoteAddr: () => remote,
      counters,
      socket,
      http1: protocol === "http/1.1",
      active: 0,
      deadline: undefined,
      bytesAtDeadline: 0,
    };
    socket[ENV] = env;
    // Bytes counted from 0: request bytes that came with the handshake's last flight are read
    // (and counted) before this event.
    setHeadDeadline(env, state, 0);
    sockets.add(socket);
    socket.once("close", (hadError: boolean) => {
      clearTimeout(env.deadline);
      sockets.delete(socket);
      options.tracker.close(
        record,
        hadError ? "TCP connection closed on an error" : "TCP connection closed",
        hadError ? "error" : "normal",
      );
      if (sockets.size === 0) onAllClosed();
    });
  });
  // A request head node:http could not parse (malformed, or over `maxHeadBytes`): answered, as
  // far as HTTP/1.1 allows, then closed. Errors that are not about a request are just closed.
  server.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
    const answer = clientErrorAnswer(error.code);
    const env = socket[ENV];
    if (answer === undefined || (env !== undefined && (!env.http1 || env.active > 0))) {
      socket.destroy();
      return;
    }
    if (env !== undefined) clearTimeout(env.deadline);
    answerAndClose(socket, answer);
  });
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
    state.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) {
      if (socket[ENV]!.active === 0) socket.destroy();
    }
    if (sockets.size > 0) {
      await closedWithin((allClosed) => onAllClosed = allClosed, timeoutMs);
    }
    for (const socket of sockets) socket.destroy();
    for (const socket of raw) socket.destroy(); // handshakes still in progress
    await closed;
  }
}

/**
 * Starts (or restarts) `env`'s head deadline: from now, a complete request head is due. Bytes
 * read beyond `bytesRead` by then are a head begun.
 */
function setHeadDeadline(env: TcpEnv, state: ListenerState, bytesRead = env.socket.bytesRead) {
  clearTimeout(env.deadline);
  env.bytesAtDeadline = bytesRead;
  env.deadline = setTimeout(headDeadlinePassed, state.headerTimeoutMs, env, state);
}

function headDeadlinePassed(env: TcpEnv, state: ListenerState): void {
  env.deadline = undefined;
  if (env.active > 0) return;
  // A head was begun: it gets 408 (as over HTTP/3). An idle connection is closed silently, since
  // an unsolicited 408 would be read as the answer to the client's next request.
  if (env.http1 && env.socket.bytesRead > env.bytesAtDeadline) {
    answerAndClose(
      env.socket,
      rawJsonAnswer(
        408,
        "request_timeout",
        `no complete request head within ${state.headerTimeoutMs} ms`,
      ),
    );
  } else {
    env.socket.destroy();
  }
}

async function handle(req: AnyRequest, res: AnyResponse, state: ListenerState) {
  const env = (req.socket as Socket)[ENV];
  if (env === undefined) throw new Error("request on an untracked socket");
  // While a request is in progress the connection has no head deadline.
  if (env.active++ === 0) {
    clearTimeout(env.deadline);
    env.deadline = undefined;
  }
  try {
    await serveRequest(req, res, state, env);
  } finally {
    if (--env.active === 0) {
      if (!state.draining) setHeadDeadline(env, state);
      else env.socket.destroySoon(); // once its last answer is out (HTTP/1.1's said `close`)
    }
  }
}
