/**
 * The server's request streams (RFC 9114 §4.1): each one's header section read under a
 * deadline, turned into a Web `Request` for a `fetch`-style handler, and the handler's
 * `Response` written back; a request that cannot be served gets the error response
 * `errorResponse` builds.
 *
 * A request body is the handler's to read, so its failures surface there first: a body that
 * is malformed (RFC 9114 §4.1.2: `content-length` disagreeing with the DATA received), too
 * large (413) or stalled (no body bytes for `bodyTimeoutMs` while we wait for them: 408) errors
 * the body stream the handler reads. Once the handler has settled, thrown or returned, the
 * server looks at the body: if it failed, the client gets the error response (400 naming
 * H3_MESSAGE_ERROR, 413 or 408) and the handler's own response is discarded, as it was made
 * from a broken request. If the handler had already answered and the response is under way
 * (say, one streaming the body back), the header section has gone out and cannot be taken
 * back: the stream is aborted instead, and the error reported through `onError`. A broken frame
 * sequence inside a body (DATA after trailers, §4.1) is a connection error, as anywhere else.
 *
 * After a complete response, a body the handler left unread is no longer read (§4.1 allows it):
 * a client that stopped sending cannot hold the stream open.
 * @module
 */

import { type BodyReadWatch, DataFrameSource } from "./body.ts";
import { errorResponse, sendResponse } from "./response_writer.ts";
import { H3_INTERNAL_ERROR, H3_MESSAGE_ERROR, H3_REQUEST_INCOMPLETE, H3Error } from "./errors.ts";
import {
  BodyTimeoutError,
  BodyTooLargeError,
  errorAnswer,
  HeaderTimeoutError,
  HttpError,
} from "../http_error.ts";
import type { ReadDeadlines } from "./header_deadlines.ts";
import { FrameReader } from "./frame_reader.ts";
import { buildRequest, parseRequestHead } from "./message.ts";
import { decodeFieldSection } from "./qpack/mod.ts";
import type { QuicBidiStream } from "./transport.ts";
import { RequestHeadCache } from "./request_head_cache.ts";

/** A `fetch`-style handler. `context` is the object given to the server connection. */
export type H3Handler<C> = (request: Request, context: C) => Response | Promise<Response>;

/** What serving request streams needs, fixed for a connection's life. */
export interface RequestStreamsConfig<C> {
  handler: H3Handler<C>;
  context: C;
  maxFieldSectionSize: number;
  maxBody: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Where header and body read deadlines are registered. */
  deadlines: ReadDeadlines;
  /** A protocol error: reported when of stream scope, the connection closed when not. */
  onError: (error: H3Error) => void;
}

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

/** One connection's request streams, with their body byte counters. */
export class RequestStreams<C> implements BodyReadWatch {
  readonly #config: RequestStreamsConfig<C>;
  readonly #deadlines: ReadDeadlines;
  /** Request body bytes received. */
  bytesIn = 0;
  /** Response body bytes sent. */
  bytesOut = 0;
  // Bound once per connection rather than created per request.
  readonly #bodyDone = (failure: unknown) => {
    if (failure instanceof H3Error) this.#config.onError(failure);
  };
  readonly #decodeTrailers = (block: Uint8Array) =>
    decodeFieldSection(block, this.#config.maxFieldSectionSize);
  readonly #decodeHead = (block: Uint8Array) =>
    parseRequestHead(decodeFieldSection(block, this.#config.maxFieldSectionSize));
  readonly #heads = new RequestHeadCache();

  /** @param config the handler, limits and error sink */
  constructor(config: RequestStreamsConfig<C>) {
    this.#config = config;
    this.#deadlines = config.deadlines;
  }

  /** Body bytes arrived (see `BodyReadWatch`). */
  received(bytes: number): void {
    this.bytesIn += bytes;
  }

  /** A body read starts waiting for the peer (see `BodyReadWatch`). */
  waiting(reader: ReadableStreamDefaultReader<Uint8Array>): void {
    this.#deadlines.add(reader, this.#config.bodyTimeoutMs);
  }

  /** A body read returned (see `BodyReadWatch`). */
  returned(reader: ReadableStreamDefaultReader<Uint8Array>): Error | undefined {
    this.#deadlines.delete(reader);
    return this.#deadlines.expired(reader)
      ? new BodyTimeoutError(this.#config.bodyTimeoutMs)
      : undefined;
  }

  /** Serves one request stream to its end; never rejects. */
  async serve(stream: QuicBidiStream): Promise<void> {
    const config = this.#config;
    // A BYOB reader with small buffers: the default reader allocates 64 KiB per read, and a GET
    // takes two reads (its HEADERS, then FIN), which made garbage collection a top cost.
    const reader = stream.readable.getReader({ mode: "byob" });
    const writer = stream.writable.getWriter();
    const frames = new FrameReader({
      kind: "request",
      maxHeadersPayload: config.maxFieldSectionSize,
    });
    let request: Request;
    let method: string;
    let source: DataFrameSource | undefined;
    this.#deadlines.add(reader, config.headerTimeoutMs);
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
          if (this.#deadlines.expired(reader)) throw new HeaderTimeoutError(config.headerTimeoutMs);
          frames.end();
          throw new H3Error(H3_REQUEST_INCOMPLETE, "stream", "stream ended before HEADERS");
        }
        frames.push(value);
        last = value;
      }
      this.#deadlines.delete(reader);
      const head = this.#heads.headFor(block, this.#decodeHead);
      // The header section is now strings; the buffer is free unless more frames sit in it.
      if (!frames.holdsChunks) returnReadBuffer(last);
      method = head.method;
      if (head.contentLength > config.maxBody) throw new BodyTooLargeError(config.maxBody);
      let body: ReadableStream<Uint8Array> | null = null;
      if (NO_BODY_METHODS.has(method)) {
        this.#drain(reader, frames);
      } else {
        // The BYOB reader used for the header section hands over to a default reader, whose
        // chunks the body's consumer may keep.
        reader.releaseLock();
        source = new DataFrameSource(
          stream.readable.getReader(),
          frames,
          head.contentLength,
          config.maxBody,
          this.#decodeTrailers,
          this.#bodyDone,
          this,
        );
        body = new ReadableStream(source);
      }
      request = buildRequest(head, body);
    } catch (error) {
      this.#deadlines.delete(reader);
      // RFC 9114 §4.1.1: stop reading (STOP_SENDING), answer, and finish our side.
      if (source !== undefined) source.stopReading();
      else reader.cancel().catch(ignore);
      await this.#reject(error, writer);
      return;
    }
    let response: Response;
    try {
      response = await config.handler(request, config.context);
    } catch (error) {
      response = errorAnswer(error);
    }
    if (source === undefined) {
      await sendResponse(writer, response, method === "HEAD", this);
      return;
    }
    const failure = source.failure;
    if (failure !== undefined) {
      // Answered for the broken body instead (see the module documentation); already reported.
      response.body?.cancel().catch(ignore);
      if (failure instanceof H3Error && failure.scope === "connection") return;
      await sendResponse(writer, errorResponse(failure), false, this);
      return;
    }
    await sendResponse(writer, response, method === "HEAD", this);
    source.stopReading();
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
      if (error instanceof H3Error) this.#config.onError(error);
    }
  }

  /**
   * Answers a request that could not be parsed, its reading already stopped. A connection error
   * closes the connection; a stream error gets the response `errorResponse` builds (see there
   * why not a reset).
   */
  async #reject(error: unknown, writer: WritableStreamDefaultWriter<Uint8Array>): Promise<void> {
    if (error instanceof H3Error) {
      this.#config.onError(error);
      if (error.scope === "connection") return;
      if (error.code === H3_REQUEST_INCOMPLETE) {
        writer.close().catch(ignore);
        return;
      }
    } else if (!(error instanceof HttpError)) {
      this.#config.onError(new H3Error(H3_INTERNAL_ERROR, "stream", String(error)));
    }
    // Clients must not discard a complete response because their request was cut short.
    await sendResponse(writer, errorResponse(error), false, this);
  }
}

/** For promises whose failure is already handled or meaningless. */
function ignore(): void {}
