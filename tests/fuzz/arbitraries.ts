/**
 * fast-check generators and helpers shared by the HTTP/3 property suite: varint values, frame
 * sequences, settings, QPACK field lists, byte mutations and a normalising frame-reader driver.
 * @module
 */

import { concat } from "../support/h3_assert.ts";
import fc from "fast-check";
import { H3Error } from "../../lib/h3/errors.ts";
import { encodeFrame, encodeGoaway, FRAME_DATA, FRAME_HEADERS } from "../../lib/h3/frame.ts";
import { encodeCancelPush, encodeMaxPushId } from "../../lib/h3/frame.ts";
import {
  type FrameEvent,
  FrameReader,
  type FrameReaderOptions,
} from "../../lib/h3/frame_reader.ts";
import { encodeSettings, isReservedHttp2Setting } from "../../lib/h3/settings.ts";
import { STATIC_TABLE_SIZE, staticEntry } from "../../lib/h3/qpack/mod.ts";
import { VARINT_MAX_1, VARINT_MAX_2, VARINT_MAX_4, VARINT_MAX_SAFE } from "../../lib/h3/varint.ts";

/** Any varint value a `number` holds exactly, each encoded length equally likely, bounds often. */
export const varintValue: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    VARINT_MAX_1,
    VARINT_MAX_1 + 1,
    VARINT_MAX_2,
    VARINT_MAX_2 + 1,
    VARINT_MAX_4,
    VARINT_MAX_4 + 1,
    VARINT_MAX_SAFE,
  ),
  fc.integer({ min: 0, max: VARINT_MAX_1 }),
  fc.integer({ min: VARINT_MAX_1 + 1, max: VARINT_MAX_2 }),
  fc.integer({ min: VARINT_MAX_2 + 1, max: VARINT_MAX_4 }),
  fc.integer({ min: VARINT_MAX_4 + 1, max: VARINT_MAX_SAFE }),
);

/** A grease value 0x1f * N + 0x21 (RFC 9114 §7.2.8) that stays an exact number. */
export const greaseValue: fc.Arbitrary<number> = fc
  .integer({ min: 0, max: 0xffffffff })
  .map((n) => 0x1f * n + 0x21);

const KNOWN_FRAME_TYPES = new Set([
  0x00,
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x06,
  0x07,
  0x08,
  0x09,
  0x0d,
]);

/** A frame type no HTTP/3 rule gives meaning to: skipped by every reader. */
export const unknownFrameType: fc.Arbitrary<number> = fc
  .oneof(greaseValue, varintValue)
  .filter((t) => !KNOWN_FRAME_TYPES.has(t));

/** Random bytes, short most of the time. */
export const smallBytes = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ maxLength });

/** Unique, sendable settings: no reserved HTTP/2 identifier, no duplicate identifier. */
export const settingsEntries: fc.Arbitrary<Array<[number, number]>> = fc.uniqueArray(
  fc.tuple(
    fc.oneof(
      fc.constantFrom(0x01, 0x06, 0x07, 0x08, 0x33),
      greaseValue,
      varintValue.filter((id) => !isReservedHttp2Setting(id)),
    ),
    varintValue,
  ),
  { selector: (e) => e[0], maxLength: 8 },
);

/** A valid request stream: HEADERS, then DATA and unknown frames, then maybe trailers. */
export const requestStream: fc.Arbitrary<Uint8Array[]> = fc
  .tuple(
    fc.uint8Array({ minLength: 1, maxLength: 64 }),
    fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 96 }).map((p) => encodeFrame(FRAME_DATA, p)),
        fc.tuple(unknownFrameType, smallBytes(32)).map(([t, p]) => encodeFrame(t, p)),
      ),
      { maxLength: 6 },
    ),
    fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 })),
  )
  .map(([head, body, trailers]) => [
    encodeFrame(FRAME_HEADERS, head),
    ...body,
    ...(trailers === null ? [] : [encodeFrame(FRAME_HEADERS, trailers)]),
  ]);

/**
 * A valid control stream: SETTINGS, then GOAWAY, MAX_PUSH_ID, CANCEL_PUSH and unknown frames,
 * with GOAWAY IDs never growing and MAX_PUSH_ID never shrinking (RFC 9114 §5.2, §7.2.7).
 */
export const controlStream: fc.Arbitrary<Uint8Array[]> = fc
  .tuple(
    settingsEntries,
    fc.array(
      fc.oneof(
        varintValue.map((id) => ({ goaway: id })),
        varintValue.map((id) => ({ maxPushId: id })),
        varintValue.map(encodeCancelPush),
        fc.tuple(unknownFrameType, smallBytes(32)).map(([t, p]) => encodeFrame(t, p)),
      ),
      { maxLength: 6 },
    ),
  )
  .map(([settings, rest]) => {
    let goaway = Infinity;
    let maxPushId = 0;
    const frames = rest.map((frame) => {
      if (frame instanceof Uint8Array) return frame;
      if ("goaway" in frame) return encodeGoaway(goaway = Math.min(goaway, frame.goaway));
      return encodeMaxPushId(maxPushId = Math.max(maxPushId, frame.maxPushId));
    });
    return [encodeSettings(settings), ...frames];
  });

/** Cut points (any numbers; reduced modulo the input length) for {@linkcode split}. */
export const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 12 });

/** Splits `bytes` at `points` (taken modulo its length + 1) into chunks, empty ones included. */
export function split(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const at = points.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** One edit of a byte string; positions are reduced modulo the length when applied. */
export type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "duplicate"; at: number; len: number; to: number };

/** Bit flips, truncations, insertions and duplicated ranges. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
    fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 9 }),
        // A maximal 8-byte varint: the "huge declared length" case.
        fc.constant(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
      ),
    }),
    fc.record({
      op: fc.constant("duplicate" as const),
      at: fc.nat(),
      len: fc.nat({ max: 40 }),
      to: fc.nat(),
    }),
  ),
  { minLength: 1, maxLength: 4 },
);

/** Applies `edits` to a copy of `input`. */
export function mutate(input: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = input.slice();
  for (const m of edits) {
    const at = m.at % (b.length + 1);
    switch (m.op) {
      case "flip":
        if (b.length !== 0) b[m.at % b.length] ^= 1 << m.bit;
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "insert":
        b = concat(b.subarray(0, at), m.bytes, b.subarray(at));
        break;
      case "duplicate": {
        const range = b.slice(at, at + m.len);
        const to = m.to % (b.length + 1);
        b = concat(b.subarray(0, to), range, b.subarray(to));
      }
    }
  }
  return b;
}

/** Plain-data form of a reader's events, consecutive DATA joined, and how it ended. */
export interface Outcome {
  events: string[];
  error: string | null;
  maxBuffered: number;
}

function describe(ev: FrameEvent): string {
  switch (ev.type) {
    case "headers":
      return `headers ${ev.trailers} ${ev.payload.join(",")}`;
    case "data":
      return `data ${ev.payload.join(",")}`;
    case "settings": {
      const s = ev.settings;
      const unknown = [...s.unknown].sort((a, b) => a[0] - b[0]).join(";");
      return `settings ${s.qpackMaxTableCapacity} ${s.maxFieldSectionSize} ` +
        `${s.qpackBlockedStreams} ${unknown}`;
    }
    default:
      return `${ev.type} ${ev.id}`;
  }
}

/**
 * Feeds `chunks` to a new reader, draining `next()` after each, then calls `end()`. Returns the
 * events and the H3Error (code and scope) it stopped with; rethrows any other error, so a
 * property using it fails on anything but an H3Error.
 */
export function feed(opts: FrameReaderOptions, chunks: readonly Uint8Array[]): Outcome {
  const r = new FrameReader(opts);
  const events: string[] = [];
  let maxBuffered = 0;
  const add = (ev: FrameEvent) => {
    const d = describe(ev);
    const last = events.length - 1;
    if (ev.type === "data" && last >= 0 && events[last].startsWith("data ")) {
      events[last] += (events[last].length > 5 && d.length > 5 ? "," : "") + d.slice(5);
    } else events.push(d);
  };
  try {
    for (const c of chunks) {
      r.push(c);
      maxBuffered = Math.max(maxBuffered, r.bufferedBytes);
      for (let ev = r.next(); ev !== null; ev = r.next()) {
        add(ev);
        maxBuffered = Math.max(maxBuffered, r.bufferedBytes);
      }
      maxBuffered = Math.max(maxBuffered, r.bufferedBytes);
    }
    r.end();
  } catch (e) {
    if (!(e instanceof H3Error)) throw e;
    return { events, error: `${e.code} ${e.scope}`, maxBuffered };
  }
  return { events, error: null, maxBuffered };
}

const TOKEN_CHARS = [..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"];
const STATIC_NAMES: string[] = [];
const STATIC_VALUES: string[] = [];
for (let i = 0; i < STATIC_TABLE_SIZE; i++) {
  const e = staticEntry(i);
  if (e !== undefined) {
    STATIC_NAMES.push(e.name);
    STATIC_VALUES.push(e.value);
  }
}

/** A lowercase token, as RFC 9110 field names are once lowercased. */
export const tokenName: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...TOKEN_CHARS),
  maxLength: 24,
});

/** Any Latin-1 string (one code unit per octet, 0x00..0xff). */
export const latin1 = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

/** A field name: a static-table name (pseudo-headers included) or a lowercase token. */
export const fieldName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...STATIC_NAMES),
  tokenName,
);

/**
 * A field value: static-table values (indexed lines), Huffman-friendly text (Huffman chosen),
 * high Latin-1 octets (Huffman longer, so raw), or anything Latin-1, sometimes long.
 */
export const fieldValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...STATIC_VALUES),
  fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-/."), maxLength: 80 }),
  fc.string({
    unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    maxLength: 40,
  }),
  latin1(48),
  latin1(400),
);

/** A flat `[name0, value0, …]` field list for the QPACK encoder. */
export const fieldList: fc.Arbitrary<string[]> = fc
  .array(fc.tuple(fieldName, fieldValue), { maxLength: 12 })
  .map((pairs) => pairs.flat());

const PSEUDO = [":method", ":scheme", ":authority", ":path", ":status", ":protocol", ":", ":x"];
const REGULAR = ["host", "content-length", "te", "connection", "accept", "x-y", "Upper", "a b"];
const VALUES = [
  "GET",
  "POST",
  "CONNECT",
  "OPTIONS",
  "get",
  "G E T",
  "https",
  "http",
  "ftp",
  "",
  "localhost",
  "localhost:9443",
  "127.0.0.1",
  "[::1]:443",
  "a@b",
  "/",
  "*",
  "/a?b#c",
  "//x",
  "trailers",
  "0",
  "1, 1",
  "1,2",
  " x",
  "x\r\n",
  "9999999999999999",
];

/** Field lists for `parseRequestHead`: plausible and implausible names, values, pseudo-headers. */
export const requestFields: fc.Arbitrary<string[]> = fc
  .tuple(
    fc.boolean(),
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...PSEUDO), fc.constantFrom(...REGULAR), latin1(8)),
        fc.oneof(fc.constantFrom(...VALUES), latin1(12), fc.string({ maxLength: 12 })),
      ),
      { maxLength: 8 },
    ),
    fc.constantFrom(...VALUES),
    fc.constantFrom(...VALUES),
  )
  .map(([base, pairs, authority, path]) => [
    ...(base ? [":method", "GET", ":scheme", "https", ":authority", authority, ":path", path] : []),
    ...pairs.flat(),
  ]);
