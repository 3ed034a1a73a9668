/**
 * HTTP/3 frame layout (RFC 9114 §7): frame type codes, the `Type (i) Length (i)` frame header,
 * and the payloads that are a single varint (CANCEL_PUSH, GOAWAY, MAX_PUSH_ID).
 *
 * DATA and HEADERS payloads are opaque here: write their header with
 * {@linkcode encodeFrameHeader} (or {@linkcode dataFrameHeader}) and send the body bytes after
 * it, so a body is never copied just to be framed.
 *
 * ```ts
 * const head = dataFrameHeader(body.length); // 2..9 bytes
 * stream.write(head); stream.write(body);
 * const h = decodeFrameHeader(buf, 0, buf.length); // null until the header is complete
 * ```
 * @module
 */

import { H3_FRAME_ERROR, H3Error } from "./errors.ts";
import { encodeVarint, readVarint, varintLength, varintSize } from "./varint.ts";

/** DATA frame type (§7.2.1). */
export const FRAME_DATA = 0x00;
/** HEADERS frame type (§7.2.2). */
export const FRAME_HEADERS = 0x01;
/** CANCEL_PUSH frame type (§7.2.3). */
export const FRAME_CANCEL_PUSH = 0x03;
/** SETTINGS frame type (§7.2.4). */
export const FRAME_SETTINGS = 0x04;
/** PUSH_PROMISE frame type (§7.2.5). */
export const FRAME_PUSH_PROMISE = 0x05;
/** GOAWAY frame type (§7.2.6). */
export const FRAME_GOAWAY = 0x07;
/** MAX_PUSH_ID frame type (§7.2.7). */
export const FRAME_MAX_PUSH_ID = 0x0d;

/** Largest possible frame header: two 8-byte varints. */
export const MAX_FRAME_HEADER_SIZE = 16;

/**
 * Whether `type` is an HTTP/2 frame type with no HTTP/3 counterpart (0x02, 0x06, 0x08, 0x09).
 * Receiving one is a connection error of type H3_FRAME_UNEXPECTED (§7.2.8, §11.2.1).
 */
export function isReservedHttp2FrameType(type: number): boolean {
  return type === 0x02 || type === 0x06 || type === 0x08 || type === 0x09;
}

/**
 * Whether `value` has the reserved "grease" form 0x1f * N + 0x21 used for frame types (§7.2.8),
 * settings (§7.2.4.1), stream types (§6.2.3) and error codes (§8.1). Exact for values up to
 * 2^53-1.
 */
export function isGreaseValue(value: number): boolean {
  return value >= 0x21 && (value - 0x21) % 0x1f === 0;
}

/**
 * Returns a random grease value 0x1f * N + 0x21 with N below 2^32, so the value stays an exact
 * number (at most 8-byte varint).
 */
export function randomGreaseValue(): number {
  const n = crypto.getRandomValues(new Uint32Array(1))[0];
  return 0x1f * n + 0x21;
}

/** The RFC name of a frame type, or its hex form for an unknown type. */
export function frameTypeName(type: number): string {
  switch (type) {
    case FRAME_DATA:
      return "DATA";
    case FRAME_HEADERS:
      return "HEADERS";
    case FRAME_CANCEL_PUSH:
      return "CANCEL_PUSH";
    case FRAME_SETTINGS:
      return "SETTINGS";
    case FRAME_PUSH_PROMISE:
      return "PUSH_PROMISE";
    case FRAME_GOAWAY:
      return "GOAWAY";
    case FRAME_MAX_PUSH_ID:
      return "MAX_PUSH_ID";
    default:
      return `0x${type.toString(16)}`;
  }
}

/** A decoded frame header. */
export interface FrameHeader {
  /** Frame type (rounded above 2^53-1, see varint.ts). */
  type: number;
  /** Payload length in bytes (rounded above 2^53-1, see varint.ts). */
  length: number;
  /** Bytes the type and length fields took (2..16). */
  headerSize: number;
}

/**
 * Decodes the frame header at `offset`, reading no byte at or past `end` (default
 * `buf.length`). Returns null when the header is not complete yet; never throws. The payload
 * is not looked at: it starts at `offset + headerSize`.
 */
export function decodeFrameHeader(
  buf: Uint8Array,
  offset: number,
  end: number = buf.length,
): FrameHeader | null {
  if (offset >= end) return null;
  const typeSize = varintLength(buf[offset]);
  const lengthAt = offset + typeSize;
  if (lengthAt >= end) return null;
  const headerSize = typeSize + varintLength(buf[lengthAt]);
  if (offset + headerSize > end) return null;
  return { type: readVarint(buf, offset), length: readVarint(buf, lengthAt), headerSize };
}

/** Bytes {@linkcode encodeFrameHeader} writes for this type and length. */
export function frameHeaderSize(type: number, length: number): number {
  return varintSize(type) + varintSize(length);
}

/**
 * Writes a frame header (type, then payload length) at `offset` and returns the offset just
 * past it, where the payload goes. Throws a RangeError if `out` is too short.
 */
export function encodeFrameHeader(
  type: number,
  length: number,
  out: Uint8Array,
  offset: number,
): number {
  return encodeVarint(length, out, encodeVarint(type, out, offset));
}

/** Returns a new array holding just a frame header for `type` and a `length`-byte payload. */
export function frameHeader(type: number, length: number): Uint8Array {
  const out = new Uint8Array(frameHeaderSize(type, length));
  encodeFrameHeader(type, length, out, 0);
  return out;
}

/** Writes a DATA frame header for a `length`-byte body at `offset`; returns the new offset. */
export function encodeDataFrameHeader(length: number, out: Uint8Array, offset: number): number {
  return encodeFrameHeader(FRAME_DATA, length, out, offset);
}

/** Returns a new array holding the DATA frame header for a `length`-byte body. */
export function dataFrameHeader(length: number): Uint8Array {
  return frameHeader(FRAME_DATA, length);
}

/** Returns a new array holding the HEADERS frame header for a `length`-byte field section. */
export function headersFrameHeader(length: number): Uint8Array {
  return frameHeader(FRAME_HEADERS, length);
}

/** Returns a whole frame (header and a copy of `payload`) in one new array. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderSize(type, payload.length) + payload.length);
  out.set(payload, encodeFrameHeader(type, payload.length, out, 0));
  return out;
}

function encodeIdFrame(type: number, id: number): Uint8Array {
  const size = varintSize(id);
  const out = new Uint8Array(frameHeaderSize(type, size) + size);
  encodeVarint(id, out, encodeFrameHeader(type, size, out, 0));
  return out;
}

/** Returns a whole CANCEL_PUSH frame for push ID `pushId`. */
export function encodeCancelPush(pushId: number): Uint8Array {
  return encodeIdFrame(FRAME_CANCEL_PUSH, pushId);
}

/** Returns a whole GOAWAY frame carrying a stream ID (from a server) or push ID (client). */
export function encodeGoaway(id: number): Uint8Array {
  return encodeIdFrame(FRAME_GOAWAY, id);
}

/** Returns a whole MAX_PUSH_ID frame for push ID `pushId`. */
export function encodeMaxPushId(pushId: number): Uint8Array {
  return encodeIdFrame(FRAME_MAX_PUSH_ID, pushId);
}

/**
 * Decodes a payload that must be exactly one varint. §7.1: a payload with bytes missing or
 * left over is a connection error of type H3_FRAME_ERROR.
 */
function decodeIdPayload(payload: Uint8Array, type: number): number {
  if (payload.length === 0 || varintLength(payload[0]) !== payload.length) {
    throw new H3Error(
      H3_FRAME_ERROR,
      "connection",
      `${frameTypeName(type)} payload of ${payload.length} bytes is not exactly one varint`,
    );
  }
  return readVarint(payload, 0);
}

/** Decodes a complete CANCEL_PUSH payload to its push ID; H3_FRAME_ERROR if malformed. */
export function decodeCancelPush(payload: Uint8Array): number {
  return decodeIdPayload(payload, FRAME_CANCEL_PUSH);
}

/** Decodes a complete GOAWAY payload to its stream or push ID; H3_FRAME_ERROR if malformed. */
export function decodeGoaway(payload: Uint8Array): number {
  return decodeIdPayload(payload, FRAME_GOAWAY);
}

/** Decodes a complete MAX_PUSH_ID payload to its push ID; H3_FRAME_ERROR if malformed. */
export function decodeMaxPushId(payload: Uint8Array): number {
  return decodeIdPayload(payload, FRAME_MAX_PUSH_ID);
}

/** Returns a whole PUSH_PROMISE frame: push ID, then the encoded field section (copied). */
export function encodePushPromise(pushId: number, fieldSection: Uint8Array): Uint8Array {
  const idSize = varintSize(pushId);
  const length = idSize + fieldSection.length;
  const out = new Uint8Array(frameHeaderSize(FRAME_PUSH_PROMISE, length) + length);
  const at = encodeVarint(pushId, out, encodeFrameHeader(FRAME_PUSH_PROMISE, length, out, 0));
  out.set(fieldSection, at);
  return out;
}

/**
 * Splits a complete PUSH_PROMISE payload into its push ID and a view of its field section.
 * A payload too short for the push ID is an H3_FRAME_ERROR (§7.1).
 */
export function decodePushPromise(
  payload: Uint8Array,
): { pushId: number; fieldSection: Uint8Array } {
  if (payload.length === 0 || varintLength(payload[0]) > payload.length) {
    throw new H3Error(H3_FRAME_ERROR, "connection", "PUSH_PROMISE payload ends inside the push ID");
  }
  const size = varintLength(payload[0]);
  return { pushId: readVarint(payload, 0), fieldSection: payload.subarray(size) };
}
