/**
 * Unidirectional stream plumbing shared by the server and the client (RFC 9114 §6.2): opening
 * our control stream with SETTINGS, and reading the type that opens a peer's stream.
 * @module
 */

import { defaultLocalSettings, encodeSettings } from "./settings.ts";
import { decodeStreamType, STREAM_TYPE_CONTROL, type StreamKind } from "./stream_type.ts";
import type { QuicConnection } from "./transport.ts";

/**
 * Opens our control stream and sends its type and SETTINGS in one write. The caller must keep
 * the returned writer for the connection's whole life: a collected stream is closed, and the
 * peer then ends the connection with H3_CLOSED_CRITICAL_STREAM.
 */
export async function openControlStream(
  conn: QuicConnection,
  maxFieldSectionSize: number,
): Promise<WritableStreamDefaultWriter<Uint8Array>> {
  const writer = (await conn.createUnidirectionalStream()).getWriter();
  const settings = encodeSettings(defaultLocalSettings({ maxFieldSectionSize }));
  const first = new Uint8Array(1 + settings.length);
  first[0] = STREAM_TYPE_CONTROL;
  first.set(settings, 1);
  await writer.write(first);
  return writer;
}

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
