/**
 * RFC 7541 Appendix B Huffman coding of string literals, as used by QPACK (RFC 9204 §4.1.2).
 *
 * Strings are treated as Latin-1 byte strings: field names and values are octet sequences
 * (RFC 9110 §5.5), so encoding takes `charCodeAt(i) & 0xff` of each code unit and decoding makes
 * one code unit (U+0000–U+00FF) per octet with `String.fromCharCode`. Bytes round-trip exactly;
 * a UTF-8 value arrives as its bytes read as Latin-1, and a string holding code units above U+00FF
 * is not representable (only its low byte is kept). Header values outside ASCII are rare and
 * the Fetch `Headers` class refuses such strings anyway.
 *
 * Decoding is driven by a 4-bit state machine built once at module load from the generated code
 * table: each state is an internal node of the code tree and each input nibble maps to a
 * (next state, emitted octet?, failure?) triple in one typed-array lookup. Every code is at least
 * 5 bits long, so a nibble emits at most one octet.
 * @module
 */

import { H3Error, QPACK_DECOMPRESSION_FAILED } from "../errors.ts";
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./_huffman_data.ts";

const EOS = 256;
const EMIT = 0x10000;
const FAIL = 0x20000;

/** Transition for (state << 4 | nibble): next state | octet << 8 | EMIT | FAIL. */
const TRANSITIONS = new Uint32Array(256 * 16);
/** 1 for states where the input may end: the root, or 1–7 bits of an all-ones prefix. */
const ACCEPTING = new Uint8Array(256);

function buildDecoder(): void {
  const UNSET = 0x7fffffff;
  // child[node * 2 + bit]: >= 0 an internal node, < 0 the leaf -(symbol + 1).
  const child = new Int32Array(256 * 2).fill(UNSET);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym];
    const len = HUFFMAN_LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const slot = node * 2 + ((code >>> i) & 1);
      if (i === 0) {
        if (child[slot] !== UNSET) throw new Error(`Huffman table is not prefix-free at ${sym}`);
        child[slot] = -(sym + 1);
      } else {
        if (child[slot] === UNSET) {
          if (nodes === 256) throw new Error("Huffman table has too many internal nodes");
          child[slot] = nodes++;
        } else if (child[slot] < 0) {
          throw new Error(`Huffman table is not prefix-free at ${sym}`);
        }
        node = child[slot];
      }
    }
  }
  if (nodes !== 256) throw new Error("Huffman table is not complete");
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const c = child[node * 2 + ((nibble >>> i) & 1)];
        if (c === UNSET) throw new Error("Huffman table is not complete");
        if (c >= 0) {
          node = c;
        } else if (-c - 1 === EOS) {
          entry |= FAIL;
          node = 0;
        } else {
          entry |= EMIT | ((-c - 1) << 8);
          node = 0;
        }
      }
      TRANSITIONS[(state << 4) | nibble] = entry | node;
    }
  }
  for (let node = 0, depth = 0; depth <= 7 && node >= 0; depth++) {
    ACCEPTING[node] = 1;
    node = child[node * 2 + 1];
  }
}
buildDecoder();

let scratch = new Uint8Array(256);

/**
 * Makes a Latin-1 string from `bytes[start..end)`: one code unit per octet.
 * Used for both Huffman output and raw string literals.
 */
export function latin1String(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 16) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  if (n <= 4096) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    const sub = bytes.subarray(i, Math.min(end, i + 4096));
    s += String.fromCharCode.apply(null, sub as unknown as number[]);
  }
  return s;
}

function fail(detail: string): never {
  throw new H3Error(QPACK_DECOMPRESSION_FAILED, "connection", detail);
}

/**
 * Decodes the Huffman-coded octets `buf[start..end)` into a Latin-1 string.
 *
 * Throws `H3Error(QPACK_DECOMPRESSION_FAILED, "connection")` when the input contains the EOS
 * symbol, or ends with padding that is longer than 7 bits or not all ones (RFC 7541 §5.2).
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  // Every code is at least 5 bits, so n input octets decode to at most 8n/5 octets.
  const cap = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < cap) scratch = new Uint8Array(Math.max(cap, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    let t = TRANSITIONS[(state << 4) | (b >>> 4)];
    if (t & FAIL) fail("Huffman EOS symbol in string literal");
    if (t & EMIT) out[n++] = t >>> 8;
    t = TRANSITIONS[((t & 0xff) << 4) | (b & 0x0f)];
    if (t & FAIL) fail("Huffman EOS symbol in string literal");
    if (t & EMIT) out[n++] = t >>> 8;
    state = t & 0xff;
  }
  if (ACCEPTING[state] === 0) fail("invalid Huffman padding");
  return latin1String(out, 0, n);
}

/** Number of octets `huffmanEncode` writes for `str` (Latin-1: `charCodeAt & 0xff`). */
export function huffmanEncodedLength(str: string): number {
  let bits = 0;
  for (let i = 0; i < str.length; i++) bits += HUFFMAN_LENGTHS[str.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/**
 * Huffman-codes `str` (Latin-1: `charCodeAt & 0xff`) into `out` at `offset`, padding the last
 * octet with ones. The caller guarantees room for `huffmanEncodedLength(str)` octets.
 * Returns the offset after the last octet written.
 */
export function huffmanEncode(str: string, out: Uint8Array, offset: number): number {
  let acc = 0; // pending bits, always fewer than 8 between symbols
  let n = 0;
  let p = offset;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i) & 0xff;
    let code = HUFFMAN_CODES[c];
    let len = HUFFMAN_LENGTHS[c];
    if (len > 24) {
      // Keep the accumulator within 31 bits: emit the high part of long codes first.
      const hi = len - 16;
      acc = (acc << hi) | (code >>> 16);
      n += hi;
      while (n >= 8) {
        n -= 8;
        out[p++] = acc >>> n;
      }
      acc &= (1 << n) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    n += len;
    while (n >= 8) {
      n -= 8;
      out[p++] = acc >>> n;
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[p++] = (acc << (8 - n)) | (0xff >>> n);
  return p;
}
