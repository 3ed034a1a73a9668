/**
 * The HTTP/3 server side of one QUIC connection (RFC 9114): our control stream with SETTINGS,
 * the peer's control and QPACK streams, and every request stream turned into a Web `Request`
 * for a `fetch`-style handler, whose `Response` goes back as HEADERS and streamed DATA (the
 * request streams themselves are served by `request_stream.ts`). Timeouts run on the `clock`
 * option, the process's by default.
 *
 * ```ts
 * const h3 = new H3ServerConnection(quicConn, (req) => new Response("hi"), {});
 * await h3.serve(); // returns when the connection is gone; never rejects
 * ```
 * @module
 */

import { DEFAULT_LIMITS } from "../limits.ts";
import { H3_NO_ERROR, H3Error } from "./errors.ts";
import { type Clock, systemClock } from "./clock.ts";
import { encodeGoaway } from "./frame.ts";
import { readDeadlinesFor } from "./header_deadlines.ts";
import { PeerStreams } from "./peer_streams.ts";
import { type H3Handler, RequestStreams } from "./request_stream.ts";
import { openControlStream } from "./uni_stream.ts";
import type { QuicCloseInfo, QuicConnection } from "./transport.ts";

export type { H3Handler } from "./request_stream.ts";

/** Limits and hooks for one HTTP/3 server connection. */
export interface H3ServerOptions {
  /** SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce (default: `lib/limits.ts`). */
  maxFieldSectionSize?: number;
  /** Largest request body accepted; larger gets 413 (default: `lib/limits.ts`). */
  maxRequestBodySize?: number;
  /**
   * Milliseconds a request stream may take to deliver its header section (default:
   * `lib/limits.ts`); a
   * stream that sends too little too slowly (slowloris) is answered 408 and its reading stopped.
   */
  headerTimeoutMs?: number;
  /**
   * Milliseconds a request body may go without bytes while the server waits for them (default:
   * `lib/limits.ts`); a stalled body fails with 408 if no response was sent
   * yet, and the stream's reading is stopped.
   */
  bodyTimeoutMs?: number;
  /**
   * The clock and timers for the deadlines and shutdown's waits (default: the process's).
   * Tests inject a fake one to reach a timeout without waiting for it.
   */
  clock?: Clock;
  /** Called for protocol errors worth logging; never on the hot path of a good request. */
  onProtocolError?: (error: H3Error, where: "stream" | "connection") => void;
}

/**
 * Serves HTTP/3 on one QUIC connection. Holds every stream it must keep open (our control
 * stream's writer above all: a collected one would be closed, and the peer would end the
 * connection with H3_CLOSED_CRITICAL_STREAM).
 */
export class H3ServerConnection<C> {
  readonly #conn: QuicConnection;
  readonly #maxFieldSectionSize: number;
  readonly #clock: Clock;
  readonly #onProtocolError: H3ServerOptions["onProtocolError"];
  readonly #requests: RequestStreams<C>;
  #controlWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** The peer's unidirectional streams (control, QPACK, others). */
  readonly #peerStreams = new PeerStreams();
  #acceptedRequests = 0;
  #activeRequests = 0;
  #draining = false;
  #idle: (() => void) | undefined;
  #closeInfo: QuicCloseInfo | undefined;
  /** Resolves with how the connection ended, whichever side ended it; never rejects. */
  readonly closed: Promise<QuicCloseInfo>;

  /** Wraps `conn`; call `serve()` to start. */
  constructor(
    conn: QuicConnection,
    handler: H3Handler<C>,
    context: C,
    options: H3ServerOptions = {},
  ) {
    this.#conn = conn;
    this.#maxFieldSectionSize = options.maxFieldSectionSize ?? DEFAULT_LIMITS.maxFieldSectionSize;
    this.#clock = options.clock ?? systemClock;
    this.#onProtocolError = options.onProtocolError;
    this.#requests = new RequestStreams({
      handler,
      context,
      maxFieldSectionSize: this.#maxFieldSectionSize,
      maxBody: options.maxRequestBodySize ?? DEFAULT_LIMITS.maxBodyBytes,
      headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_LIMITS.headerTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_LIMITS.bodyTimeoutMs,
      deadlines: readDeadlinesFor(this.#clock),
      onError: (error) => this.#streamOrConnectionError(error),
    });
    // `closed` rejects on idle timeout and transport errors: an unhandled rejection would kill
    // the process, so it is turned into a close info here, once.
    this.closed = conn.closed.then(
      (info) => (this.#closeInfo ??= info),
      (error) => (this.#closeInfo ??= {
        closeCode: -1,
        reason: error instanceof Error ? error.message : String(error),
      }),
    );
  }

  /** Request body bytes received on this connection. */
  get bytesIn(): number {
    return this.#requests.bytesIn;
  }

  /** Response body bytes sent on this connection. */
  get bytesOut(): number {
    return this.#requests.bytesOut;
  }

  /** Requests being served right now. */
  get activeRequests(): number {
    return this.#activeRequests;
  }

  /** Requests accepted on this connection so far. */
  get acceptedRequests(): number {
    return this.#acceptedRequests;
  }

  /**
   * Opens our control stream, then accepts the peer's streams until the connection ends.
   * Resolves when the connection is closed; never rejects.
   */
  async serve(): Promise<QuicCloseInfo> {
    try {
      this.#controlWriter = await openControlStream(this.#conn, this.#maxFieldSectionSize);
    } catch {
      return this.closed; // the connection went away during the handshake
    }
    this.#acceptUni().catch(() => {});
    await this.#acceptBidi().catch(() => {});
    return this.closed;
  }

  /**
   * Graceful shutdown (RFC 9114 §5.2): sends GOAWAY naming the first request stream we will not
   * serve, lets in-flight requests finish, then gives the peer the rest of `timeoutMs` (at
   * most `lingerMs`) to close the connection itself, and closes it with H3_NO_ERROR.
   *
   * The linger matters: a finished response may still sit in QUIC's send buffer, unacknowledged,
   * and closing at once would discard it. Deno does not tell us when it was acknowledged; a
   * client that has read everything closes the connection, which ends the wait.
   */
  async shutdown(timeoutMs: number, lingerMs = 1000): Promise<void> {
    if (this.#closeInfo) return;
    const clock = this.#clock;
    const deadline = clock.now() + timeoutMs;
    this.#draining = true;
    // Streams are accepted in order of their IDs, so the nth client bidirectional stream has
    // ID 4n (RFC 9000 §2.1), and the count gives the GOAWAY ID without asking each stream.
    const goaway = encodeGoaway(this.#acceptedRequests * 4);
    await this.#controlWriter?.write(goaway).catch(() => {});
    if (this.#activeRequests > 0) {
      await this.#waitFor(
        new Promise<void>((resolve) => (this.#idle = resolve)),
        deadline - clock.now(),
      );
    }
    await this.#waitFor(this.closed, Math.min(lingerMs, deadline - clock.now()));
    this.close(H3_NO_ERROR, "server shutting down");
  }

  async #waitFor(event: Promise<unknown>, ms: number): Promise<void> {
    if (ms <= 0) return;
    let timer: unknown;
    await Promise.race([
      event,
      new Promise<void>((resolve) => (timer = this.#clock.setTimeout(resolve, ms))),
    ]);
    this.#clock.clearTimeout(timer);
  }

  /** Closes the connection with an HTTP/3 error code. */
  close(code: number, reason: string): void {
    if (this.#closeInfo) return;
    this.#closeInfo = { closeCode: code, reason };
    try {
      this.#conn.close({ closeCode: code, reason });
    } catch {
      // already closed
    }
  }

  #connectionError(error: H3Error): void {
    this.#onProtocolError?.(error, "connection");
    this.close(error.code, error.message.slice(0, 100));
  }

  async #acceptBidi(): Promise<void> {
    const streams = this.#conn.incomingBidirectionalStreams.getReader();
    for (;;) {
      const { value, done } = await streams.read();
      if (done) return;
      this.#acceptedRequests++;
      if (this.#draining) {
        // After GOAWAY the request is refused; Deno cannot reset with H3_REQUEST_REJECTED, so the
        // stream is closed without a response and the client retries elsewhere (§5.2).
        value.writable.close().catch(() => {});
        value.readable.cancel().catch(() => {});
        continue;
      }
      this.#activeRequests++;
      // One reaction instead of an async wrapper per request; `serve` is not meant to reject.
      this.#requests.serve(value).then(this.#requestDone, this.#requestDone);
    }
  }

  readonly #requestDone = (): void => {
    if (--this.#activeRequests === 0 && this.#idle) this.#idle();
  };

  #streamOrConnectionError(error: H3Error): void {
    if (error.scope === "connection") this.#connectionError(error);
    else this.#onProtocolError?.(error, "stream");
  }

  async #acceptUni(): Promise<void> {
    const streams = this.#conn.incomingUnidirectionalStreams.getReader();
    for (;;) {
      const { value, done } = await streams.read();
      if (done) return;
      this.#peerStreams.serve(value).catch((error) => {
        if (error instanceof H3Error) this.#connectionError(error);
      });
    }
  }
}
