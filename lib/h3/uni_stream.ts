/**
 * Reading the type that opens a peer's unidirectional stream (RFC 9114 §6.2), shared by the
 * server and the client. The only I/O here is awaiting the stream's first bytes.
 * @module
 */

import { decodeStreamType, type StreamKind } from "./stream_type.ts";

/** A stream's type and the bytes that followed it in the chunks read so far. */
export interface TypedUniStream {
  type: number;
  kind: StreamKind;
  rest: Uint8Array;
}

/**
 * Reads until the stream type varint is complete. Returns null when the stream ends first,
 * which the RFC allows and which needs no answer.
 */
export async function readUniStreamType(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<TypedUniStream | null> {
  let buffered: Uint8Array = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return null;
    // The type is at most 8 bytes, so a straddling one costs a tiny copy at most.
    let bytes: Uint8Array = value;
    if (buffered.length > 0) {
      bytes = new Uint8Array(buffered.length + value.length);
      bytes.set(buffered);
      bytes.set(value, buffered.length);
    }
    const header = decodeStreamType(bytes, 0);
    if (header !== null) {
      return { type: header.type, kind: header.kind, rest: bytes.subarray(header.headerSize) };
    }
    buffered = bytes;
  }
}
