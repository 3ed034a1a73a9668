/**
 * The server's handling of the peer's unidirectional streams (RFC 9114 §6.2): its control stream
 * (SETTINGS first, validated by the frame reader), its QPACK encoder and decoder streams (RFC 9204
 * §4.2, with our dynamic table capacity of 0), a client push stream (an error), and unknown or
 * grease types (read and discarded). Each critical stream may exist once, and its end is
 * H3_CLOSED_CRITICAL_STREAM. Errors are thrown as connection-scope `H3Error`s for the caller to
 * close the connection with.
 * @module
 */

import { H3_CLOSED_CRITICAL_STREAM, H3_STREAM_CREATION_ERROR, H3Error } from "./errors.ts";
import { FrameReader } from "./frame_reader.ts";
import { DecoderStreamReader, EncoderStreamReader } from "./qpack/mod.ts";
import { readUniStreamType } from "./uni_stream.ts";

/** One connection's view of the peer's unidirectional streams. */
export class PeerStreams {
  /** The critical streams seen so far. */
  readonly #seen = new Set<string>();

  /** Dispatches a peer unidirectional stream by its type (RFC 9114 §6.2). */
  async serve(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    const typed = await readUniStreamType(reader);
    if (typed === null) return; // ended before its type: nothing to do (§6.2)
    switch (typed.kind) {
      case "control": {
        const frames = new FrameReader({ kind: "control", maxHeadersPayload: 0 });
        // SETTINGS, GOAWAY and MAX_PUSH_ID are validated by the reader; a client's GOAWAY names
        // push IDs, and we never push, so there is nothing further to do with the events.
        return await this.#critical("control", reader, typed.rest, (chunk) => {
          frames.push(chunk);
          while (frames.next() !== null) { /* validated by the reader */ }
        });
      }
      case "qpack_encoder": {
        const encoder = new EncoderStreamReader();
        return await this.#critical("encoder", reader, typed.rest, (c) => encoder.push(c));
      }
      case "qpack_decoder": {
        const decoder = new DecoderStreamReader();
        return await this.#critical("decoder", reader, typed.rest, (c) => decoder.push(c));
      }
      case "push":
        throw new H3Error(H3_STREAM_CREATION_ERROR, "connection", "push stream from a client");
      default:
        // Unknown and grease stream types are read and discarded (§6.2, §9).
        await pump(reader, typed.rest, () => {});
    }
  }

  /**
   * Reads one of the peer's critical streams: each may exist once (a second is
   * H3_STREAM_CREATION_ERROR), and its end is H3_CLOSED_CRITICAL_STREAM (§6.2.1, RFC 9204 §4.2).
   */
  async #critical(
    name: "control" | "encoder" | "decoder",
    reader: ReadableStreamDefaultReader<Uint8Array>,
    first: Uint8Array,
    onChunk: (chunk: Uint8Array) => void,
  ): Promise<never> {
    if (this.#seen.has(name)) {
      throw new H3Error(H3_STREAM_CREATION_ERROR, "connection", `second ${name} stream`);
    }
    this.#seen.add(name);
    await pump(reader, first, onChunk);
    throw new H3Error(H3_CLOSED_CRITICAL_STREAM, "connection", `peer closed its ${name} stream`);
  }
}

/** Feeds `first` and then every chunk of `reader` to `onChunk`, until the stream ends. */
async function pump(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  if (first.length > 0) onChunk(first);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}
