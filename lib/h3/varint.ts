/**
 * QUIC variable-length integers (RFC 9000 §16), the integer encoding every HTTP/3 frame,
 * setting and stream header uses.
 *
 * The two high bits of the first byte give the length (1, 2, 4 or 8 bytes); the other 6, 14,
 * 30 or 62 bits hold the value in network byte order.
 *
 * Values are plain `number`s. They are exact up to `Number.MAX_SAFE_INTEGER` (2^53-1); a
 * larger 62-bit value is returned rounded to the nearest double. Rounding is monotonic and
 * never brings such a value down to 2^53-1 or below, so comparisons against any limit this
 * code uses (frame lengths, sizes, identifiers) still give the right answer. Callers that need
 * the exact value of a huge integer use {@linkcode readVarintBig}.
 *
 * ```ts
 * const out = new Uint8Array(8);
 * const end = encodeVarint(15293, out, 0); // 2 bytes: 0x7b 0xbd
 * const v = decodeVarint(out, 0, end); // 15293, or -1 if the input were cut short
 * const used = varintLength(out[0]); // 2
 * ```
 * @module
 */

/** Largest value of a 1-byte varint. */
export const VARINT_MAX_1 = 63;
/** Largest value of a 2-byte varint. */
export const VARINT_MAX_2 = 16383;
/** Largest value of a 4-byte varint. */
export const VARINT_MAX_4 = 1073741823;
/** Largest value of an 8-byte varint and of any varint: 2^62-1, exactly, as a bigint. */
export const VARINT_MAX_BIG = (1n << 62n) - 1n;
/** Largest value {@linkcode encodeVarint} accepts: the largest exact integer a number holds. */
export const VARINT_MAX_SAFE = Number.MAX_SAFE_INTEGER;

const TWO_POW_32 = 4294967296;

/**
 * Returns the encoded length (1, 2, 4 or 8) of the varint whose first byte is `firstByte`.
 * Only the two high bits are read.
 */
export function varintLength(firstByte: number): 1 | 2 | 4 | 8 {
  return (1 << (firstByte >> 6)) as 1 | 2 | 4 | 8;
}

/**
 * Reads the varint at `offset`, assuming `buf` holds all of its bytes (check with
 * {@linkcode varintLength} first, or use {@linkcode decodeVarint}). Values above 2^53-1 are
 * rounded (see the module notes).
 */
export function readVarint(buf: Uint8Array, offset: number): number {
  const b0 = buf[offset];
  switch (b0 >> 6) {
    case 0:
      return b0;
    case 1:
      return ((b0 & 0x3f) << 8) | buf[offset + 1];
    case 2:
      // 30 bits: the result of the bitwise ORs is always a non-negative int32.
      return ((b0 & 0x3f) << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) |
        buf[offset + 3];
    default: {
      const hi = ((b0 & 0x3f) << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) |
        buf[offset + 3];
      const lo = ((buf[offset + 4] << 24) | (buf[offset + 5] << 16) | (buf[offset + 6] << 8) |
        buf[offset + 7]) >>> 0;
      // hi * 2^32 is exact; the one addition rounds to nearest, which keeps ordering.
      return hi * TWO_POW_32 + lo;
    }
  }
}

/**
 * Decodes the varint at `offset`, reading no byte at or past `end` (default `buf.length`).
 * Returns the value, or -1 when the input ends before the varint does ("need more"); it never
 * throws. The number of bytes used is `varintLength(buf[offset])`.
 */
export function decodeVarint(buf: Uint8Array, offset: number, end: number = buf.length): number {
  if (offset >= end) return -1;
  if (offset + varintLength(buf[offset]) > end) return -1;
  return readVarint(buf, offset);
}

/**
 * Reads the varint at `offset` exactly, as a bigint, assuming `buf` holds all of its bytes.
 * For tests and for the rare caller that needs all 62 bits.
 */
export function readVarintBig(buf: Uint8Array, offset: number): bigint {
  const len = varintLength(buf[offset]);
  let v = BigInt(buf[offset] & 0x3f);
  for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(buf[offset + i]);
  return v;
}

/**
 * Returns how many bytes {@linkcode encodeVarint} uses for `value`: the shortest encoding.
 * Throws a RangeError for a value that is negative, not an integer or above 2^53-1.
 */
export function varintSize(value: number): 1 | 2 | 4 | 8 {
  if (!Number.isInteger(value) || value < 0 || value > VARINT_MAX_SAFE) throw badValue(value);
  if (value <= VARINT_MAX_1) return 1;
  if (value <= VARINT_MAX_2) return 2;
  if (value <= VARINT_MAX_4) return 4;
  return 8;
}

/**
 * Writes `value` at `offset` in its shortest encoding and returns the offset just past it.
 * Throws a RangeError when `value` is not an integer in [0, 2^53-1] (use
 * {@linkcode encodeVarintBig} above that) or when `out` is too short.
 */
export function encodeVarint(value: number, out: Uint8Array, offset: number): number {
  const size = varintSize(value);
  if (offset < 0 || offset + size > out.length) {
    throw new RangeError(`no room for a ${size}-byte varint at offset ${offset}`);
  }
  switch (size) {
    case 1:
      out[offset] = value;
      return offset + 1;
    case 2:
      out[offset] = 0x40 | (value >> 8);
      out[offset + 1] = value & 0xff;
      return offset + 2;
    case 4:
      out[offset] = 0x80 | (value >>> 24);
      out[offset + 1] = (value >>> 16) & 0xff;
      out[offset + 2] = (value >>> 8) & 0xff;
      out[offset + 3] = value & 0xff;
      return offset + 4;
    default: {
      const hi = Math.floor(value / TWO_POW_32);
      const lo = value >>> 0; // ToUint32 is the value modulo 2^32, exact for safe integers
      out[offset] = 0xc0 | (hi >>> 24);
      out[offset + 1] = (hi >>> 16) & 0xff;
      out[offset + 2] = (hi >>> 8) & 0xff;
      out[offset + 3] = hi & 0xff;
      out[offset + 4] = lo >>> 24;
      out[offset + 5] = (lo >>> 16) & 0xff;
      out[offset + 6] = (lo >>> 8) & 0xff;
      out[offset + 7] = lo & 0xff;
      return offset + 8;
    }
  }
}

/**
 * Writes a bigint `value` in [0, 2^62-1] at `offset` in its shortest encoding and returns the
 * offset just past it. Throws a RangeError when the value is out of range or `out` too short.
 */
export function encodeVarintBig(value: bigint, out: Uint8Array, offset: number): number {
  if (value < 0n || value > VARINT_MAX_BIG) throw badValue(value);
  if (value <= BigInt(VARINT_MAX_4)) return encodeVarint(Number(value), out, offset);
  if (offset < 0 || offset + 8 > out.length) {
    throw new RangeError(`no room for an 8-byte varint at offset ${offset}`);
  }
  for (let i = 7; i >= 0; i--) {
    out[offset + i] = Number(value & 0xffn);
    value >>= 8n;
  }
  out[offset] |= 0xc0;
  return offset + 8;
}

function badValue(value: number | bigint): RangeError {
  return new RangeError(`${value} cannot be encoded as a QUIC varint here`);
}
