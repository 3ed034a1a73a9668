/**
 * Message bodies over HTTP/3 streams, shared by the server and the client: DATA frames in
 * become a Web `ReadableStream`, and a Web body goes out as DATA frames with backpressure.
 * @module
 */

import { BodyTooLargeError } from "../http_error.ts";
import { H3_MESSAGE_ERROR, H3Error } from "./errors.ts";
import { encodeFrameHeader, FRAME_DATA, FRAME_HEADERS, frameHeaderSize } from "./frame.ts";
import { encodedFieldSectionLength, encodePlannedFieldSectionInto } from "./qpack/mod.ts";
import type { FrameReader } from "./frame_reader.ts";
import { parseTrailers } from "./message.ts";

/**
 * Watches a body's bytes and the reads that wait on the peer (the server's byte counter and
 * body timeout). One object serves every body of a connection, so a body costs no extra object.
 */
export interface BodyReadWatch {
  /**
   * `bytes` of body arrived: called as each DATA payload arrives, so a counter is current while
   * a long body is still coming (the tracker reads it as evidence of traffic on a new path).
   */
  received(bytes: number): void;
  /** A read of `reader` is about to wait for the peer. */
  waiting(reader: ReadableStreamDefaultReader<Uint8Array>): void;
  /** The read returned: the error to fail the body with when the watch cut it short, else undefined. */
  returned(reader: ReadableStreamDefaultReader<Uint8Array>): Error | undefined;
}

/**
 * Pulls DATA frames from one QUIC stream and hands their payloads to a `ReadableStream`.
 * A class rather than closures, so a body costs one object. Checks the total against
 * `content-length` (RFC 9114 §4.1.2: a mismatch makes the message malformed) and `limit`.
 *
 * A body that fails (malformed, too large, cut short by the watch) errors the stream its
 * consumer reads, and keeps the error in {@linkcode DataFrameSource.failure}, so the code that
 * gave the body to an application can still answer for it once the application is done.
 */
export class DataFrameSource implements UnderlyingDefaultSource<Uint8Array> {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #frames: FrameReader;
  #expected: number;
  #limit: number;
  #received = 0;
  #onDone: ((failure: unknown, bytes: number) => void) | undefined;
  #watch: BodyReadWatch | undefined;
  #ended = false;
  #failure: unknown;
  /** Trailer fields, once the trailer section has been read. */
  trailers: [string, string][] | undefined;

  /**
   * @param reader the stream's reader, positioned after the header section
   * @param frames the stream's frame reader, which may already hold buffered bytes
   * @param expected the `content-length`, or -1
   * @param limit the largest body accepted, in bytes
   * @param decodeTrailers decodes a trailer field section into flat fields
   * @param onDone called once when the body ends, with the error if the peer's body failed
   *   (undefined when it ended well or its consumer cancelled it) and the bytes read
   * @param watch watches reads that wait on the peer
   */
  constructor(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    frames: FrameReader,
    expected: number,
    limit: number,
    private readonly decodeTrailers: (block: Uint8Array) => string[],
    onDone?: (failure: unknown, bytes: number) => void,
    watch?: BodyReadWatch,
  ) {
    this.#reader = reader;
    this.#frames = frames;
    this.#expected = expected;
    this.#limit = limit;
    this.#onDone = onDone;
    this.#watch = watch;
  }

  /** Why the peer's body failed, or undefined (so far). */
  get failure(): unknown {
    return this.#failure;
  }

  /** True once the body has ended: read to its end, failed, cancelled or stopped. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Enqueues the next DATA payload, or closes the stream at FIN. */
  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const event = this.#frames.next();
        if (event !== null) {
          if (event.type === "data") {
            if (event.payload.length === 0) continue;
            this.#received += event.payload.length;
            this.#watch?.received(event.payload.length);
            if (this.#received > this.#limit) throw new BodyTooLargeError(this.#limit);
            if (this.#expected !== -1 && this.#received > this.#expected) {
              throw new H3Error(H3_MESSAGE_ERROR, "stream", "body longer than content-length");
            }
            controller.enqueue(event.payload);
            return;
          }
          if (event.type === "headers") {
            this.trailers = parseTrailers(this.decodeTrailers(event.payload));
          }
          continue;
        }
        this.#watch?.waiting(this.#reader);
        const { value, done } = await this.#reader.read();
        const cutShort = this.#watch?.returned(this.#reader);
        if (cutShort !== undefined) throw cutShort;
        if (this.#ended) { // stopped or cancelled while the read waited: the rest is unwanted
          controller.error(new Error("request body no longer read"));
          return;
        }
        if (done) {
          this.#frames.end();
          if (this.#expected !== -1 && this.#received !== this.#expected) {
            throw new H3Error(H3_MESSAGE_ERROR, "stream", "body shorter than content-length");
          }
          controller.close();
          this.#finish();
          return;
        }
        this.#frames.push(value);
      }
    } catch (error) {
      if (!this.#ended) this.#failure = error;
      controller.error(error);
      this.#reader.cancel(error).catch(() => {});
      this.#finish();
    }
  }

  /** The consumer gave up on the body: stop reading the stream. */
  cancel(reason?: unknown): void {
    this.#reader.cancel(reason).catch(() => {});
    this.#finish();
  }

  /**
   * Stops reading the peer's stream (STOP_SENDING) because the rest of the body is not wanted,
   * as after a complete response (RFC 9114 §4.1). A read still waiting fails the body.
   */
  stopReading(): void {
    if (this.#ended) return;
    this.#finish();
    this.#reader.cancel().catch(() => {});
  }

  #finish(): void {
    this.#ended = true;
    const done = this.#onDone;
    this.#onDone = undefined;
    done?.(this.#failure, this.#received);
  }
}

/**
 * Encodes a HEADERS frame for `fields` (flat name/value pairs) straight into one buffer, with
 * an optional DATA frame after it, so a small message is a single write and the field section
 * is never copied.
 */
export function encodeHeadersFrame(fields: readonly string[], data?: Uint8Array): Uint8Array {
  const size = planHeadersFrame(fields, data?.length ?? 0);
  const out = new Uint8Array(size);
  writePlannedHeadersFrame(fields, data, data?.length ?? 0, out);
  return out;
}

/**
 * The size of a HEADERS frame for `fields` plus, when `dataLength` > 0, a DATA frame of that
 * many bytes after it; plans the field section, to be written by the next
 * {@link writePlannedHeadersFrame} call (same `fields`, no other encoding in between). For a
 * writer that brings its own buffer.
 */
export function planHeadersFrame(fields: readonly string[], dataLength: number): number {
  const blockLength = encodedFieldSectionLength(fields);
  plannedBlockLength = blockLength;
  const headersSize = frameHeaderSize(FRAME_HEADERS, blockLength) + blockLength;
  return headersSize + (dataLength > 0 ? frameHeaderSize(FRAME_DATA, dataLength) + dataLength : 0);
}

const encoder = new TextEncoder();
/** The field section length of the last {@link planHeadersFrame}. */
let plannedBlockLength = 0;

/**
 * Writes the frames {@link planHeadersFrame} sized into `out` (at least that long): the HEADERS
 * frame, then the DATA frame of `data` when `dataLength` > 0. Text data is encoded as UTF-8
 * straight into `out`; `dataLength` must be its UTF-8 length.
 */
export function writePlannedHeadersFrame(
  fields: readonly string[],
  data: Uint8Array | string | undefined,
  dataLength: number,
  out: Uint8Array,
): void {
  const blockLength = plannedBlockLength;
  const at = encodePlannedFieldSectionInto(
    fields,
    out,
    encodeFrameHeader(FRAME_HEADERS, blockLength, out, 0),
  );
  if (data === undefined || dataLength === 0) return;
  const body = encodeFrameHeader(FRAME_DATA, dataLength, out, at);
  if (typeof data === "string") encoder.encodeInto(data, out.subarray(body, body + dataLength));
  else out.set(data, body);
}

/** A running count of body bytes sent, such as a connection's (see {@link writeBody}). */
export interface SentBytes {
  bytesOut: number;
}

/**
 * Writes a body as DATA frames, one per chunk, awaiting each write so a large body never
 * sits in memory (the QUIC stream's flow control is the backpressure). The DATA header is
 * queued without awaiting, then the chunk: the writer keeps them in order and the chunk is
 * not copied. `already` are chunks the caller read from `reader` before, sent first. Each chunk
 * written is added to `counter` at once, so a long download's bytes show while it runs.
 */
export async function writeBody(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  counter?: SentBytes,
  ...already: Uint8Array[]
): Promise<number> {
  let total = 0;
  let chunk: Uint8Array | undefined;
  for (let i = 0;; i++) {
    if (i < already.length) chunk = already[i];
    else {
      const next = await reader.read();
      if (next.done) return total;
      chunk = next.value;
    }
    if (chunk.length > 0) {
      const header = new Uint8Array(frameHeaderSize(FRAME_DATA, chunk.length));
      encodeFrameHeader(FRAME_DATA, chunk.length, header, 0);
      writer.write(header).catch(() => {}); // its failure surfaces on the next await
      await writer.write(chunk);
      total += chunk.length;
      if (counter !== undefined) counter.bytesOut += chunk.length;
    }
  }
}
