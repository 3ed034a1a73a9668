/**
 * Readers for the peer's QPACK encoder stream (RFC 9204 §4.3) and decoder stream (§4.4), for a
 * server that advertises SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0 and never inserts into the
 * peer's dynamic table. Sans-IO: feed each received chunk to `push`; it throws `H3Error` (a
 * connection error) on the first instruction that is not allowed.
 *
 * ```ts
 * const enc = new EncoderStreamReader();
 * enc.push(chunk); // throws H3Error(QPACK_ENCODER_STREAM_ERROR) on any insert
 * ```
 * @module
 */

import { H3Error, QPACK_DECODER_STREAM_ERROR, QPACK_ENCODER_STREAM_ERROR } from "../errors.ts";

/**
 * The peer's encoder stream. With a maximum capacity of 0 the only valid instruction is
 * Set Dynamic Table Capacity with capacity 0, the single byte `0x20`:
 * - Set Dynamic Table Capacity (`001` + 5-bit prefix) with a capacity above 0 exceeds our limit;
 *   a first byte other than `0x20` already implies a capacity ≥ 1 (any larger first byte) or
 *   ≥ 31 (`0x3f`);
 * - Insert With Name Reference (`1`), Insert With Literal Name (`01`): an entry (≥ 32 bytes)
 *   cannot fit a table of capacity 0;
 * - Duplicate (`000`): there is no entry to duplicate.
 *
 * Every instruction is thus decided by its first byte, so no partial instruction ever needs to
 * be buffered across chunks: the reader keeps no state beyond a failure flag.
 */
export class EncoderStreamReader {
  #failed: H3Error | undefined;

  /** Processes the next chunk of the encoder stream; throws on a forbidden instruction. */
  push(chunk: Uint8Array): void {
    if (this.#failed !== undefined) throw this.#failed;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0x20) continue; // Set Dynamic Table Capacity = 0
      let detail: string;
      if (b & 0x80) detail = "Insert With Name Reference with dynamic table capacity 0";
      else if (b & 0x40) detail = "Insert With Literal Name with dynamic table capacity 0";
      else if (b & 0x20) detail = "Set Dynamic Table Capacity above our maximum of 0";
      else detail = "Duplicate with an empty dynamic table";
      this.#failed = new H3Error(QPACK_ENCODER_STREAM_ERROR, "connection", detail);
      throw this.#failed;
    }
  }
}

/** Longest prefixed integer accepted for a stream ID: 1 + 8 bytes covers 2^53-1. */
const MAX_INT_BYTES = 9;

/**
 * The peer's decoder stream. Since we never send a field section with a non-zero Required
 * Insert Count and never insert anything:
 * - Section Acknowledgment (`1` + 7-bit stream ID) is an error;
 * - Insert Count Increment (`00` + 6-bit increment) is an error (0 is invalid, anything larger
 *   exceeds our 0 insertions);
 * - Stream Cancellation (`01` + 6-bit stream ID) is accepted and ignored, except for the
 *   optional `onStreamCancel` callback.
 *
 * A Stream Cancellation split across chunks is handled with O(1) state (the partial integer),
 * never a buffer; an integer longer than 9 bytes (above 2^53-1) is an error.
 */
export class DecoderStreamReader {
  readonly #onStreamCancel: ((streamId: number) => void) | undefined;
  #failed: H3Error | undefined;
  /** Bytes read so far of the Stream Cancellation integer in progress (0 = between). */
  #intBytes = 0;
  #value = 0;
  #mult = 1;

  /** `onStreamCancel`, if given, is called with each cancelled stream ID. */
  constructor(onStreamCancel?: (streamId: number) => void) {
    this.#onStreamCancel = onStreamCancel;
  }

  #fail(detail: string): never {
    this.#failed = new H3Error(QPACK_DECODER_STREAM_ERROR, "connection", detail);
    throw this.#failed;
  }

  #done(streamId: number): void {
    this.#intBytes = 0;
    this.#onStreamCancel?.(streamId);
  }

  /** Processes the next chunk of the decoder stream; throws on a forbidden instruction. */
  push(chunk: Uint8Array): void {
    if (this.#failed !== undefined) throw this.#failed;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.#intBytes > 0) {
        // Continuation byte of a Stream Cancellation's stream ID.
        if (++this.#intBytes > MAX_INT_BYTES) this.#fail("stream ID exceeds 2^53-1");
        this.#value += (b & 0x7f) * this.#mult;
        this.#mult *= 128;
        if ((b & 0x80) === 0) {
          if (this.#value > Number.MAX_SAFE_INTEGER) this.#fail("stream ID exceeds 2^53-1");
          this.#done(this.#value);
        }
      } else if (b & 0x80) {
        this.#fail("Section Acknowledgment, but no section referenced the dynamic table");
      } else if ((b & 0x40) === 0) {
        this.#fail("Insert Count Increment, but nothing was inserted");
      } else if ((b & 0x3f) < 0x3f) {
        this.#done(b & 0x3f);
      } else {
        this.#intBytes = 1;
        this.#value = 0x3f;
        this.#mult = 1;
      }
    }
  }
}
