/**
 * Unidirectional stream types (RFC 9114 §6.2): the varint every unidirectional stream starts
 * with, telling what the rest of the stream carries.
 *
 * ```ts
 * const st = decodeStreamType(chunk, 0); // null until the whole varint has arrived
 * if (st?.kind === "control") reader = new FrameReader({ kind: "control", ... });
 * const rest = chunk.subarray(st.headerSize);
 * ```
 * @module
 */

import { isGreaseValue } from "./frame.ts";
import { encodeVarint, readVarint, varintLength, varintSize } from "./varint.ts";

/** Control stream (§6.2.1): one per peer, starts with SETTINGS. */
export const STREAM_TYPE_CONTROL = 0x00;
/** Push stream (§6.2.2): followed by a push ID; only servers open them. */
export const STREAM_TYPE_PUSH = 0x01;
/** QPACK encoder stream (RFC 9204 §4.2). */
export const STREAM_TYPE_QPACK_ENCODER = 0x02;
/** QPACK decoder stream (RFC 9204 §4.2). */
export const STREAM_TYPE_QPACK_DECODER = 0x03;

/**
 * What a stream type means to us. "grease" is a reserved 0x1f * N + 0x21 type (§6.2.3) and
 * "unknown" any other unsupported type; both are read and discarded, or reading is aborted
 * with H3_STREAM_CREATION_ERROR, and neither is ever a connection error (§6.2).
 */
export type StreamKind =
  | "control"
  | "push"
  | "qpack_encoder"
  | "qpack_decoder"
  | "grease"
  | "unknown";

/** A decoded unidirectional stream header. */
export interface StreamTypeHeader {
  /** The stream type value (rounded above 2^53-1, see varint.ts). */
  type: number;
  /** What the type means. */
  kind: StreamKind;
  /** Bytes the type took (1, 2, 4 or 8); the stream's content starts after them. */
  headerSize: number;
}

/** Classifies a stream type value. */
export function streamKind(type: number): StreamKind {
  switch (type) {
    case STREAM_TYPE_CONTROL:
      return "control";
    case STREAM_TYPE_PUSH:
      return "push";
    case STREAM_TYPE_QPACK_ENCODER:
      return "qpack_encoder";
    case STREAM_TYPE_QPACK_DECODER:
      return "qpack_decoder";
    default:
      return isGreaseValue(type) ? "grease" : "unknown";
  }
}

/**
 * Decodes the stream type at `offset`, reading no byte at or past `end` (default
 * `buf.length`). Returns null when the varint is not complete yet; never throws.
 */
export function decodeStreamType(
  buf: Uint8Array,
  offset: number,
  end: number = buf.length,
): StreamTypeHeader | null {
  if (offset >= end) return null;
  const headerSize = varintLength(buf[offset]);
  if (offset + headerSize > end) return null;
  const type = readVarint(buf, offset);
  return { type, kind: streamKind(type), headerSize };
}

/** Returns the bytes that open a unidirectional stream of the given type. */
export function encodeStreamType(type: number): Uint8Array {
  const out = new Uint8Array(varintSize(type));
  encodeVarint(type, out, 0);
  return out;
}
