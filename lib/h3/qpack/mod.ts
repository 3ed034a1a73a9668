/**
 * QPACK (RFC 9204) for an HTTP/3 server that advertises SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0
 * and never uses the peer's dynamic table: static table, literals and Huffman only.
 *
 * Field lists are flat arrays `[name0, value0, name1, value1, …]` of Latin-1 strings.
 *
 * ```ts
 * const block = encodeFieldSection([":status", "200", "content-length", "42"]);
 * const fields = decodeFieldSection(block, 16384); // [":status", "200", "content-length", "42"]
 * ```
 * @module
 */

export { decodeFieldSection, FIELD_OVERHEAD } from "./decoder.ts";
export {
  encodedFieldSectionLength,
  encodeFieldSection,
  encodeFieldSectionInto,
  encodePlannedFieldSectionInto,
} from "./encoder.ts";
export { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
export { decodePrefixInt, encodePrefixInt, type PrefixInt, prefixIntLength } from "./prefix_int.ts";
export { findStatic, STATIC_TABLE_SIZE, type StaticEntry, staticEntry } from "./static_table.ts";
export { DecoderStreamReader, EncoderStreamReader } from "./streams.ts";
