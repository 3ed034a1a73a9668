/**
 * QPACK field section encoder (RFC 9204 §4.5) that never uses the dynamic table, so it needs no
 * encoder stream and never blocks a peer: the prefix is always Required Insert Count 0, Base 0.
 *
 * Per field it emits the shortest static-only representation:
 * - Indexed Field Line (static) when name and value match a static entry;
 * - Literal Field Line with (static) Name Reference when only the name matches;
 * - Literal Field Line with Literal Name otherwise.
 * Each string literal is Huffman-coded only when that is strictly shorter. Responses repeat the
 * same fields (a connection's id and address, content types, security policies), so the encoded
 * line of a field whose value is a few characters or more is kept in a small bounded cache and
 * copied; short values, and numbers (counters and lengths, new with every response), are coded
 * directly, since their cost is below a lookup's.
 *
 * Input is a flat `[name0, value0, name1, value1, …]` array of Latin-1 strings whose names are
 * already lowercase (not checked here). The exact size is computed first into a reusable scratch
 * plan, then everything is written into one `Uint8Array`.
 *
 * ```ts
 * const block = encodeFieldSection([":status", "200", "content-type", "application/json"]);
 * // 00 00 d9 ee — two static Indexed Field Lines
 * ```
 * @module
 */

import { huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
import { encodePrefixInt, prefixIntLength } from "./prefix_int.ts";
import { staticNameInfo } from "./static_table.ts";

const KIND_INDEXED = 0;
const KIND_NAME_REF = 1;
const KIND_LITERAL = 2;
/** A whole field line copied from the line cache. */
const KIND_CACHED_LINE = 3;

/**
 * Three int32 per field: (static index << 2) | kind, then for the name and the value string
 * (wire length << 1) | huffman flag. Reused across calls; grown on demand.
 */
let plan = new Int32Array(3 * 32);
/** The cached line bytes of each field planned as `KIND_CACHED_LINE`, by field number. */
let planLines: (Uint8Array | undefined)[] = new Array(32);
/** The plan of the one field line a cache miss encodes, apart from the section's plan. */
const linePlan = new Int32Array(3);

/** Values at least this long are looked up in, and added to, the line cache. */
const CACHED_MIN_LENGTH = 6;
/** …and at most this long (a long value is rare and would crowd the cache). */
const CACHED_MAX_LENGTH = 256;
/** Distinct field lines kept; the cache starts over when full. */
const CACHE_ENTRIES = 2048;
/** Encoded field lines by name, then value. */
const lineCache = new Map<string, Map<string, Uint8Array>>();
let cachedLines = 0;

/**
 * Whether `value`'s field line is worth caching: medium length and not a number. Numbers are
 * counters and lengths that change with every response; caching them would only churn.
 */
function cacheable(value: string): boolean {
  const n = value.length;
  if (n < CACHED_MIN_LENGTH || n > CACHED_MAX_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return true;
  }
  return false;
}

/** The encoded field line for `name: value`, made once and then copied. */
function cachedLine(name: string, value: string): Uint8Array {
  let byValue = lineCache.get(name);
  let line = byValue?.get(value);
  if (line !== undefined) return line;
  if (cachedLines >= CACHE_ENTRIES) {
    lineCache.clear();
    cachedLines = 0;
    byValue = undefined;
  }
  if (byValue === undefined) lineCache.set(name, byValue = new Map());
  line = new Uint8Array(planField(name, value, linePlan, 0));
  writeField(name, value, linePlan, 0, line, 0);
  byValue.set(value, line);
  cachedLines++;
  return line;
}

/** Wire length of `s` as a string literal, shifted left once, low bit = Huffman. */
function planString(s: string): number {
  const h = huffmanEncodedLength(s);
  return h < s.length ? (h << 1) | 1 : s.length << 1;
}

/** Plans one field line at `plan[k]` without the cache; returns its encoded size. */
function planField(name: string, value: string, plan: Int32Array, k: number): number {
  const info = staticNameInfo(name);
  if (info !== undefined) {
    const exact = info.values.get(value);
    if (exact !== undefined) {
      plan[k] = (exact << 2) | KIND_INDEXED;
      return prefixIntLength(exact, 6);
    }
    const v = planString(value);
    plan[k] = (info.nameIndex << 2) | KIND_NAME_REF;
    plan[k + 2] = v;
    return prefixIntLength(info.nameIndex, 4) + prefixIntLength(v >>> 1, 7) + (v >>> 1);
  }
  const n = planString(name);
  const v = planString(value);
  plan[k] = KIND_LITERAL;
  plan[k + 1] = n;
  plan[k + 2] = v;
  return prefixIntLength(n >>> 1, 3) + (n >>> 1) + prefixIntLength(v >>> 1, 7) + (v >>> 1);
}

/** Fills `plan` for `fields` and returns the exact encoded size in bytes. */
function planFieldSection(fields: readonly string[]): number {
  if ((fields.length & 1) !== 0) {
    throw new RangeError("fields must be a flat [name, value, …] array of even length");
  }
  const count = fields.length >>> 1;
  if (plan.length < 3 * count) {
    plan = new Int32Array(3 * Math.max(count, plan.length));
    planLines = new Array(plan.length / 3);
  }
  let size = 2; // Required Insert Count = 0, S = 0, Delta Base = 0
  for (let i = 0, k = 0; i < fields.length; i += 2, k += 3) {
    const value = fields[i + 1];
    if (cacheable(value)) {
      const line = cachedLine(fields[i], value);
      plan[k] = KIND_CACHED_LINE;
      planLines[k / 3] = line;
      size += line.length;
      continue;
    }
    size += planField(fields[i], value, plan, k);
  }
  return size;
}

/** Writes the string bytes of `s` as planned by `planString` (length already written). */
function writeStringBytes(s: string, planned: number, out: Uint8Array, p: number): number {
  if (planned & 1) return huffmanEncode(s, out, p);
  for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i);
  return p;
}

/** Writes one field line planned at `plan[k]` by `planField`. */
function writeField(
  name: string,
  value: string,
  plan: Int32Array,
  k: number,
  out: Uint8Array,
  p: number,
): number {
  const rep = plan[k];
  const kind = rep & 3;
  if (kind === KIND_INDEXED) return encodePrefixInt(rep >>> 2, 6, 0xc0, out, p);
  if (kind === KIND_NAME_REF) {
    p = encodePrefixInt(rep >>> 2, 4, 0x50, out, p);
  } else {
    const n = plan[k + 1];
    p = encodePrefixInt(n >>> 1, 3, (n & 1) !== 0 ? 0x28 : 0x20, out, p);
    p = writeStringBytes(name, n, out, p);
  }
  const v = plan[k + 2];
  p = encodePrefixInt(v >>> 1, 7, (v & 1) !== 0 ? 0x80 : 0, out, p);
  return writeStringBytes(value, v, out, p);
}

/** Writes the section planned by `planFieldSection(fields)` at `out[offset]`. */
function writeFieldSection(fields: readonly string[], out: Uint8Array, offset: number): number {
  let p = offset;
  out[p++] = 0;
  out[p++] = 0;
  for (let i = 0, k = 0; i < fields.length; i += 2, k += 3) {
    if (plan[k] === KIND_CACHED_LINE) {
      const line = planLines[k / 3]!;
      planLines[k / 3] = undefined; // not kept alive past this section
      out.set(line, p);
      p += line.length;
      continue;
    }
    p = writeField(fields[i], fields[i + 1], plan, k, out, p);
  }
  return p;
}

/**
 * Encodes a flat `[name0, value0, …]` field list (names lowercase) into a new encoded field
 * section: the HEADERS frame payload. Throws `RangeError` for an odd-length array.
 */
export function encodeFieldSection(fields: readonly string[]): Uint8Array {
  const out = new Uint8Array(planFieldSection(fields));
  writeFieldSection(fields, out, 0);
  return out;
}

/** Returns the exact byte length `encodeFieldSection(fields)` would produce. */
export function encodedFieldSectionLength(fields: readonly string[]): number {
  return planFieldSection(fields);
}

/**
 * Writes the field section last sized by `encodedFieldSectionLength(fields)` (same `fields`, no
 * other encoding in between) at `out[offset]`, without planning it again; returns the offset
 * after it. For callers that size the buffer first, as a frame writer must.
 */
export function encodePlannedFieldSectionInto(
  fields: readonly string[],
  out: Uint8Array,
  offset: number,
): number {
  return writeFieldSection(fields, out, offset);
}

/**
 * Encodes `fields` like `encodeFieldSection`, but into `out` at `offset` (e.g. after a frame
 * header reserved by the caller). Returns the offset after the section. Throws `RangeError` when
 * `out` is too small; use `encodedFieldSectionLength` to size it.
 */
export function encodeFieldSectionInto(
  fields: readonly string[],
  out: Uint8Array,
  offset: number,
): number {
  const size = planFieldSection(fields);
  if (offset < 0 || out.length - offset < size) {
    throw new RangeError(`need ${size} bytes at offset ${offset}, have ${out.length - offset}`);
  }
  return writeFieldSection(fields, out, offset);
}
