/**
 * RFC 7541 §5.1 prefixed integers, as used unmodified by QPACK (RFC 9204 §4.1.1).
 *
 * Sans-IO: decoding works on a byte array and an offset and reports "need more" as `null`.
 * Values are JavaScript numbers, so the largest value accepted is 2^53-1
 * (`Number.MAX_SAFE_INTEGER`). RFC 9204 asks decoders to handle 62-bit integers; every value
 * this server acts on (lengths, indices, capacities, stream IDs) is far below 2^53, so a larger
 * one is rejected as an error instead of being silently rounded.
 *
 * ```ts
 * const out = new Uint8Array(3);
 * encodePrefixInt(1337, 5, 0, out, 0); // out = 1f 9a 0a
 * decodePrefixInt(out, 0, 5); // { value: 1337, next: 3 }
 * ```
 * @module
 */

import { H3Error, QPACK_DECOMPRESSION_FAILED } from "../errors.ts";

/** The result of decoding one prefixed integer. */
export interface PrefixInt {
  /** The decoded value (at most 2^53-1). */
  value: number;
  /** The offset just after the integer's last byte. */
  next: number;
}

/**
 * The most continuation bytes a value up to 2^53-1 can need: 8 × 7 = 56 bits. Bounding the loop
 * by this also rejects endless runs of `0x80` padding in constant time.
 */
const MAX_CONTINUATION_BYTES = 8;

/**
 * Decodes a prefixed integer whose first byte is `buf[offset]`, using its low `prefixBits` bits
 * (1–8). The flag bits above the prefix are ignored; read them from `buf[offset]` yourself.
 *
 * Returns `null` when `buf` ends before the integer does (the caller needs more bytes).
 * Throws `H3Error(errorCode, "connection")` (by default `QPACK_DECOMPRESSION_FAILED`) when the
 * value exceeds 2^53-1.
 */
export function decodePrefixInt(
  buf: Uint8Array,
  offset: number,
  prefixBits: number,
  errorCode: number = QPACK_DECOMPRESSION_FAILED,
): PrefixInt | null {
  if (offset >= buf.length) return null;
  const max = (1 << prefixBits) - 1;
  let value = buf[offset] & max;
  let pos = offset + 1;
  if (value < max) return { value, next: pos };
  let mult = 1;
  for (let n = 0; n < MAX_CONTINUATION_BYTES; n++) {
    if (pos >= buf.length) return null;
    const b = buf[pos++];
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) {
      if (value > Number.MAX_SAFE_INTEGER) break;
      return { value, next: pos };
    }
    mult *= 128;
  }
  throw new H3Error(errorCode, "connection", "prefixed integer exceeds 2^53-1");
}

/**
 * Number of bytes `encodePrefixInt` writes for `value` (a non-negative safe integer) with a
 * `prefixBits`-bit prefix.
 */
export function prefixIntLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let rest = value - max;
  let n = 2;
  while (rest >= 128) {
    rest = Math.floor(rest / 128);
    n++;
  }
  return n;
}

/**
 * Writes `value` (a non-negative safe integer) as a prefixed integer at `out[offset]`, OR-ing
 * `firstByteFlags` (the bits above the prefix) into the first byte. The caller guarantees room
 * for `prefixIntLength(value, prefixBits)` bytes. Returns the offset after the integer.
 */
export function encodePrefixInt(
  value: number,
  prefixBits: number,
  firstByteFlags: number,
  out: Uint8Array,
  offset: number,
): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[offset] = firstByteFlags | value;
    return offset + 1;
  }
  out[offset++] = firstByteFlags | max;
  let rest = value - max;
  if (rest <= 0x7fffffff) {
    while (rest >= 128) {
      out[offset++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
  } else {
    while (rest >= 128) {
      out[offset++] = (rest % 128) | 0x80;
      rest = Math.floor(rest / 128);
    }
  }
  out[offset++] = rest;
  return offset;
}
