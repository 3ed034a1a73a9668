/**
 * Message bodies over HTTP/3 streams, shared by the server and the client: DATA frames in
 * become a Web `ReadableStream`, and a Web body goes out as DATA frames with backpressure.
 * @module
 */

import { BodyTooLargeError } from "../http_error.ts";
import { H3_MESSAGE_ERROR, H3Error } from "./errors.ts";
import { encodeFrameHeader, FRAME_DATA, FRAME_HEADERS, frameHeaderSize } from "./frame.ts";
import { encodedFieldSectionLength, encodeFieldSectionInto } from "./qpack/mod.ts";
import type { FrameReader } from "./frame_reader.ts";
import { parseTrailers } from "./message.ts";

/**
 * Pulls DATA frames from one QUIC stream and hands their payloads to a `ReadableStream`.
 * A class rather than closures, so a body costs one object. Checks the total against
 * `content-length` (RFC 9114 §4.1.2: a mismatch makes the message malformed) and `limit`.
 */
export class DataFrameSource implements UnderlyingDefaultSource<Uint8Array> {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #frames: FrameReader;
  #expected: number;
  #limit: number;
  #received = 0;
  #onData: ((bytes: number) => void) | undefined;
  /** Trailer fields, once the trailer section has been read. */
  trailers: [string, string][] | undefined;

  /**
   * @param reader the stream's reader, positioned after the header section
   * @param frames the stream's frame reader, which may already hold buffered bytes
   * @param expected the `content-length`, or -1
   * @param limit the largest body accepted, in bytes
   * @param decodeTrailers decodes a trailer field section into flat fields
   * @param onData called with each DATA payload's length as it arrives, so a byte counter is
   *   current while a long body is still coming (the tracker reads it as evidence of traffic)
   */
  constructor(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    frames: FrameReader,
    expected: number,
    limit: number,
    private readonly decodeTrailers: (block: Uint8Array) => string[],
    onData?: (bytes: number) => void,
  ) {
    this.#reader = reader;
    this.#frames = frames;
    this.#expected = expected;
    this.#limit = limit;
    this.#onData = onData;
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
            this.#onData?.(event.payload.length);
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
        const { value, done } = await this.#reader.read();
        if (done) {
          this.#frames.end();
          if (this.#expected !== -1 && this.#received !== this.#expected) {
            throw new H3Error(H3_MESSAGE_ERROR, "stream", "body shorter than content-length");
          }
          controller.close();
          return;
        }
        this.#frames.push(value);
      }
    } catch (error) {
      controller.error(error);
      this.#reader.cancel(error).catch(() => {});
    }
  }

  /** The consumer gave up on the body: stop reading the stream. */
  cancel(reason?: unknown): void {
    this.#reader.cancel(reason).catch(() => {});
  }
}

/**
 * Encodes a HEADERS frame for `fields` (flat name/value pairs) straight into one buffer, with
 * an optional DATA frame after it, so a small message is a single write and the field section
 * is never copied.
 */
export function encodeHeadersFrame(fields: readonly string[], data?: Uint8Array): Uint8Array {
  const blockLength = encodedFieldSectionLength(fields);
  const headersSize = frameHeaderSize(FRAME_HEADERS, blockLength) + blockLength;
  const dataSize = data === undefined ? 0 : frameHeaderSize(FRAME_DATA, data.length) + data.length;
  const out = new Uint8Array(headersSize + dataSize);
  const at = encodeFieldSectionInto(
    fields,
    out,
    encodeFrameHeader(FRAME_HEADERS, blockLength, out, 0),
  );
  if (data !== undefined) out.set(data, encodeFrameHeader(FRAME_DATA, data.length, out, at));
  return out;
}

/**
 * Writes a body as DATA frames, one per chunk, awaiting each write so a large body never
 * sits in memory (the QUIC stream's flow control is the backpressure). The DATA header is
 * queued without awaiting, then the chunk: the writer keeps them in order and the chunk is
 * not copied. `already` are chunks the caller read from `reader` before, sent first.
 */
export async function writeBody(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
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
    }
  }
}
