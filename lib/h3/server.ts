/**
 * The HTTP/3 server side of one QUIC connection (RFC 9114): our control stream with SETTINGS,
 * the peer's control and QPACK streams, and every request stream turned into a Web `Request`
 * for a `fetch`-style handler, whose `Response` goes back as HEADERS and streamed DATA.
 *
 * ```ts
 * const h3 = new H3ServerConnection(quicConn, (req) => new Response("hi"), {});
 * await h3.serve(); // returns when the connection is gone; never rejects
 * ```
 * @module
 */

import { DEFAULT_LIMITS } from "../limits.ts";
import { DataFrameSource } from "./body.ts";
import { BodyTooLargeError, errorAnswer, HeaderTimeoutError, HttpError } from "../http_error.ts";
import { errorResponse, sendResponse } from "./response_writer.ts";
import {
  H3_INTERNAL_ERROR,
  H3_MESSAGE_ERROR,
  H3_NO_ERROR,
  H3_REQUEST_INCOMPLETE,
  H3Error,
} from "./errors.ts";
import { encodeGoaway } from "./frame.ts";
import { headerDeadlines } from "./header_deadlines.ts";
import { FrameReader } from "./frame_reader.ts";
import { buildRequest, parseRequestHead } from "./message.ts";
import { decodeFieldSection } from "./qpack/mod.ts";
import { PeerStreams } from "./peer_streams.ts";
import { openControlStream } from "./uni_stream.ts";
import type { QuicBidiStream, QuicCloseInfo, QuicConnection } from "./transport.ts";

/** Limits and hooks for one HTTP/3 server connection. */
export interface H3ServerOptions {
  /** SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce (default: `lib/limits.ts`). */
  maxFieldSectionSize?: number;
  /** Largest request body accepted; larger gets 413 (default: `lib/limits.ts`). */
  maxRequestBodySize?: number;
  /**
   * Milliseconds a request stream may take to deliver its header section (default: `lib/limits.ts`); a
   * stream that sends too little too slowly (slowloris) is answered 408 and its reading stopped.
   */
  headerTimeoutMs?: number;
  /** Called for protocol errors worth logging; never on the hot path of a good request. */
  onProtocolError?: (error: H3Error, where: "stream" | "connection") => void;
}

/** A `fetch`-style handler. `connection` is the object passed as `context` to the server. */
export type H3Handler<C> = (request: Request, context: C) => Response | Promise<Response>;

const NO_BODY_METHODS = new Set(["GET", "HEAD"]);
/** Bytes read for a request's first chunk; a larger header section simply takes more reads. */
const HEAD_READ_SIZE = 4096;
/**
 * Read buffers for header sections and FINs, reused: a BYOB read hands the bytes back in the
 * same memory, and a fresh zeroed 4 KiB per request was a visible share of allocation and
 * garbage collection under load. A buffer returns here only once nothing refers to it.
 */
const readBuffers: ArrayBuffer[] = [];
const MAX_POOLED_READ_BUFFERS = 256;

function takeReadBuffer(): Uint8Array {
  const pooled = readBuffers.pop();
  return pooled === undefined ? new Uint8Array(HEAD_READ_SIZE) : new Uint8Array(pooled);
}

function returnReadBuffer(view: Uint8Array | undefined): void {
  const buffer = view?.buffer;
  if (
    buffer instanceof ArrayBuffer && buffer.byteLength === HEAD_READ_SIZE &&
    readBuffers.length < MAX_POOLED_READ_BUFFERS
  ) readBuffers.push(buffer);
}

/**
 * Serves HTTP/3 on one QUIC connection. Holds every stream it must keep open (our control
 * stream's writer above all: a collected one would be closed, and the peer would end the
 * connection with H3_CLOSED_CRITICAL_STREAM).
 */
export class H3ServerConnection<C> {
  readonly #conn: QuicConnection;
  readonly #handler: H3Handler<C>;
  readonly #context: C;
  readonly #maxFieldSectionSize: number;
  readonly #maxBody: number;
  readonly #headerTimeoutMs: number;
  readonly #onProtocolError: H3ServerOptions["onProtocolError"];
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
    this.#handler = handler;
    this.#context = context;
    this.#maxFieldSectionSize = options.maxFieldSectionSize ?? DEFAULT_LIMITS.maxFieldSectionSize;
    this.#maxBody = options.maxRequestBodySize ?? DEFAULT_LIMITS.maxBodyBytes;
    this.#headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_LIMITS.headerTimeoutMs;
    this.#onProtocolError = options.onProtocolError;
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

  /** Request body bytes received on this connection so far (counted as each DATA frame arrives). */
  bytesIn = 0;
  /** Response body bytes sent on this connection. */
  bytesOut = 0;
  // Bound once per connection rather than created per request.
  readonly #countBodyIn = (bytes: number) => {
    this.bytesIn += bytes;
  };
  readonly #decodeTrailers = (block: Uint8Array) =>
    decodeFieldSection(block, this.#maxFieldSectionSize);

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
    const deadline = Date.now() + timeoutMs;
    this.#draining = true;
    // Streams are accepted in order of their IDs, so the nth client bidirectional stream has
    // ID 4n (RFC 9000 §2.1), and the count gives the GOAWAY ID without asking each stream.
    const goaway = encodeGoaway(this.#acceptedRequests * 4);
    await this.#controlWriter?.write(goaway).catch(() => {});
    if (this.#activeRequests > 0) {
      await this.#waitFor(
        new Promise<void>((resolve) => (this.#idle = resolve)),
        deadline - Date.now(),
      );
    }
    await this.#waitFor(this.closed, Math.min(lingerMs, deadline - Date.now()));
    this.close(H3_NO_ERROR, "server shutting down");
  }

  async #waitFor(event: Promise<unknown>, ms: number): Promise<void> {
    if (ms <= 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([event, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
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
      this.#serveRequest(value).catch(ignore);
    }
  }

  #requestDone(): void {
    if (--this.#activeRequests === 0 && this.#idle) this.#idle();
  }

  async #serveRequest(stream: QuicBidiStream): Promise<void> {
    try {
      await this.#serveRequestStream(stream);
    } finally {
      this.#requestDone();
    }
  }

  async #serveRequestStream(stream: QuicBidiStream): Promise<void> {
    // A BYOB reader with small buffers: the default reader allocates 64 KiB per read, and a GET
    // takes two reads (its HEADERS, then FIN), which made garbage collection a top cost.
    const reader = stream.readable.getReader({ mode: "byob" });
    const writer = stream.writable.getWriter();
    const frames = new FrameReader({
      kind: "request",
      maxHeadersPayload: this.#maxFieldSectionSize,
    });
    let request: Request;
    let method: string;
    headerDeadlines.add(reader, this.#headerTimeoutMs);
    try {
      let block: Uint8Array | undefined;
      let last: Uint8Array | undefined;
      while (block === undefined) {
        const event = frames.next();
        if (event !== null) {
          if (event.type === "headers") block = event.payload;
          continue;
        }
        const { value, done } = await reader.read(takeReadBuffer());
        if (done) {
          returnReadBuffer(value);
          if (headerDeadlines.expired(reader)) throw new HeaderTimeoutError(this.#headerTimeoutMs);
          frames.end();
          throw new H3Error(H3_REQUEST_INCOMPLETE, "stream", "stream ended before HEADERS");
        }
        frames.push(value);
        last = value;
      }
      headerDeadlines.delete(reader);
      const head = parseRequestHead(decodeFieldSection(block, this.#maxFieldSectionSize));
      // The header section is now strings; the buffer is free unless more frames sit in it.
      if (!frames.holdsChunks) returnReadBuffer(last);
      method = head.method;
      if (head.contentLength > this.#maxBody) throw new BodyTooLargeError(this.#maxBody);
      let body: ReadableStream<Uint8Array> | null = null;
      if (NO_BODY_METHODS.has(method)) {
        this.#drain(reader, frames);
      } else {
        body = new ReadableStream(
          new DataFrameSource(
            bodyReader(reader, stream),
            frames,
            head.contentLength,
            this.#maxBody,
            this.#decodeTrailers,
            this.#countBodyIn,
          ),
        );
      }
      request = buildRequest(head, body);
    } catch (error) {
      headerDeadlines.delete(reader);
      await this.#rejectRequest(error, reader, writer);
      return;
    }
    let response: Response;
    try {
      response = await this.#handler(request, this.#context);
    } catch (error) {
      response = errorAnswer(error);
    }
    this.bytesOut += await sendResponse(writer, response, method === "HEAD");
  }

  /**
   * Reads a bodiless request to its end, checking that nothing but unknown frames follow.
   * Never rejects: a protocol error is reported and the stream's reading stopped.
   */
  async #drain(reader: ReadableStreamBYOBReader, frames: FrameReader) {
    let last: Uint8Array | undefined;
    try {
      for (;;) {
        const event = frames.next();
        if (event !== null) {
          if (event.type === "data" && event.payload.length > 0) {
            throw new H3Error(H3_MESSAGE_ERROR, "stream", "body on a GET or HEAD request");
          }
          continue;
        }
        if (!frames.holdsChunks) returnReadBuffer(last);
        const { value, done } = await reader.read(takeReadBuffer());
        if (done) {
          returnReadBuffer(value);
          return frames.end();
        }
        frames.push(value);
        last = value;
      }
    } catch (error) {
      reader.cancel().catch(ignore);
      if (error instanceof H3Error) this.#streamOrConnectionError(error);
    }
  }

  #streamOrConnectionError(error: H3Error): void {
    if (error.scope === "connection") this.#connectionError(error);
    else this.#onProtocolError?.(error, "stream");
  }

  /**
   * Answers a request that could not be parsed. A connection error closes the connection; a
   * stream error gets the response `errorResponse` builds (see there why not a reset).
   */
  async #rejectRequest(
    error: unknown,
    reader: { cancel(): Promise<void> },
    writer: WritableStreamDefaultWriter<Uint8Array>,
  ): Promise<void> {
    // RFC 9114 §4.1.1: stop reading (STOP_SENDING), answer, and finish our side; clients
    // must not discard a complete response because their request was cut short.
    reader.cancel().catch(() => {});
    if (error instanceof H3Error) {
      this.#streamOrConnectionError(error);
      if (error.scope === "connection") return;
      if (error.code === H3_REQUEST_INCOMPLETE) {
        writer.close().catch(() => {});
        return;
      }
    } else if (!(error instanceof HttpError)) {
      this.#onProtocolError?.(new H3Error(H3_INTERNAL_ERROR, "stream", String(error)), "stream");
    }
    this.bytesOut += await sendResponse(writer, errorResponse(error), false);
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

/** For promises whose failure is already handled or meaningless. */
function ignore(): void {}

/**
 * Hands a request body over to the default reader (whose chunks the body's consumer may keep):
 * the BYOB reader used for the header section is released first.
 */
function bodyReader(
  byob: ReadableStreamBYOBReader,
  stream: QuicBidiStream,
): ReadableStreamDefaultReader<Uint8Array> {
  byob.releaseLock();
  return stream.readable.getReader();
}
