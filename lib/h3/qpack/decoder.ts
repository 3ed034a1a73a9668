/**
 * QPACK field section decoder (RFC 9204 §4.5) for a peer that was told
 * SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0: only the static table and literals can appear.
 *
 * The result is a flat array `[name0, value0, name1, value1, …]` of Latin-1 strings (one code
 * unit per octet, see `huffman.ts`), in wire order, duplicates kept. No per-field objects.
 *
 * ```ts
 * const fields = decodeFieldSection(headersFramePayload, 16384);
 * for (let i = 0; i < fields.length; i += 2) use(fields[i], fields[i + 1]);
 * ```
 * @module
 */

import { H3_MESSAGE_ERROR, H3Error, QPACK_DECOMPRESSION_FAILED } from "../errors.ts";
import { huffmanDecode, latin1String } from "./huffman.ts";
import { decodePrefixInt } from "./prefix_int.ts";
import { STATIC_TABLE_SIZE, staticName, staticValue } from "./static_table.ts";

/** Per-field overhead in the field section size (RFC 9114 §4.2.2, after RFC 7541 §4.1). */
export const FIELD_OVERHEAD = 32;

function malformed(detail: string): never {
  throw new H3Error(QPACK_DECOMPRESSION_FAILED, "connection", detail);
}

function truncated(): never {
  malformed("truncated field section");
}

function tooLarge(): never {
  throw new H3Error(H3_MESSAGE_ERROR, "stream", "field section too large", 431);
}

/** Offset after the last string or index read by `readString`/`staticIndex` (no result objects). */
let readEnd = 0;

/**
 * Reads a string literal whose first byte is `block[pos]`: Huffman flag at bit `prefixBits`,
 * length as a `prefixBits`-bit prefixed integer. `budget` is how many octets the string may
 * decode to before the field section exceeds its size limit. Sets `readEnd`.
 */
function readString(block: Uint8Array, pos: number, prefixBits: number, budget: number): string {
  if (pos >= block.length) truncated();
  const huffman = (block[pos] & (1 << prefixBits)) !== 0;
  const r = decodePrefixInt(block, pos, prefixBits);
  if (r === null) truncated();
  const len = r.value;
  const start = r.next;
  // All checks happen before anything is allocated: a huge length never reaches an allocation.
  if (len > block.length - start) truncated();
  // A Huffman octet string of len octets decodes to at least floor((8·len − 7) / 30) octets.
  if ((huffman ? Math.floor((8 * len - 7) / 30) : len) > budget) tooLarge();
  readEnd = start + len;
  if (!huffman) return latin1String(block, start, readEnd);
  const s = huffmanDecode(block, start, readEnd);
  if (s.length > budget) tooLarge();
  return s;
}

function checkLowercase(name: string): void {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      throw new H3Error(H3_MESSAGE_ERROR, "stream", "uppercase character in field name");
    }
  }
}

function staticIndex(block: Uint8Array, pos: number, prefixBits: number): number {
  const r = decodePrefixInt(block, pos, prefixBits);
  if (r === null) truncated();
  if (r.value >= STATIC_TABLE_SIZE) malformed(`static table index ${r.value} out of range`);
  readEnd = r.next;
  return r.value;
}

/**
 * Decodes one complete encoded field section (the payload of a HEADERS frame) into a flat
 * `[name0, value0, name1, value1, …]` array.
 *
 * `maxFieldSectionSize` is our SETTINGS_MAX_FIELD_SECTION_SIZE: the sum over fields of
 * name length + value length + 32 (RFC 9114 §4.2.2) may not exceed it.
 *
 * Throws `H3Error`:
 * - `QPACK_DECOMPRESSION_FAILED` ("connection") for a non-zero Required Insert Count, any
 *   dynamic-table or post-base reference, a static index ≥ 99, bad Huffman data, an integer
 *   above 2^53-1, or a block that ends inside a representation;
 * - `H3_MESSAGE_ERROR` ("stream") with detail "field section too large" when the size limit is
 *   exceeded (answer 431), or for a field name with an uppercase character.
 *
 * Pseudo-header rules and other field validity checks are left to the caller.
 */
export function decodeFieldSection(block: Uint8Array, maxFieldSectionSize: number): string[] {
  const end = block.length;
  // Encoded Field Section Prefix (RFC 9204 §4.5.1).
  const ric = decodePrefixInt(block, 0, 8);
  if (ric === null) truncated();
  if (ric.value !== 0) {
    malformed("non-zero Required Insert Count, but our dynamic table capacity is 0");
  }
  // Sign bit and Delta Base: meaningless without dynamic references, but must be well-formed.
  const base = decodePrefixInt(block, ric.next, 7);
  if (base === null) truncated();
  let pos = base.next;
  const fields: string[] = [];
  let size = 0;
  while (pos < end) {
    const b = block[pos];
    let name: string;
    let value: string;
    if (b & 0x80) {
      // Indexed Field Line: 1 T Index(6+).
      if ((b & 0x40) === 0) malformed("dynamic table reference with capacity 0");
      const idx = staticIndex(block, pos, 6);
      pos = readEnd;
      name = staticName(idx);
      value = staticValue(idx);
      size += name.length + value.length + FIELD_OVERHEAD;
      if (size > maxFieldSectionSize) tooLarge();
    } else if (b & 0x40) {
      // Literal Field Line with Name Reference: 0 1 N T NameIndex(4+), value (8-bit prefix).
      if ((b & 0x10) === 0) malformed("dynamic table name reference with capacity 0");
      const idx = staticIndex(block, pos, 4);
      name = staticName(idx);
      value = readString(
        block,
        readEnd,
        7,
        maxFieldSectionSize - size - FIELD_OVERHEAD - name.length,
      );
      pos = readEnd;
      size += name.length + value.length + FIELD_OVERHEAD;
    } else if (b & 0x20) {
      // Literal Field Line with Literal Name: 0 0 1 N H NameLen(3+), name, value.
      name = readString(block, pos, 3, maxFieldSectionSize - size - FIELD_OVERHEAD);
      checkLowercase(name);
      value = readString(
        block,
        readEnd,
        7,
        maxFieldSectionSize - size - FIELD_OVERHEAD - name.length,
      );
      pos = readEnd;
      size += name.length + value.length + FIELD_OVERHEAD;
    } else if (b & 0x10) {
      malformed("Indexed Field Line with Post-Base Index with capacity 0");
    } else {
      malformed("Literal Field Line with Post-Base Name Reference with capacity 0");
    }
    fields.push(name, value);
  }
  return fields;
}
