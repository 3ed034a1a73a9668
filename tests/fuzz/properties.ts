/**
 * Property definitions for the sans-IO HTTP/3 codec, parameterised by run count and seed so the
 * same properties run briefly in `fuzz_test.ts` and for millions of cases in a longer fuzz run.
 *
 * ```ts
 * for (const p of PROPERTIES) p.check({ numRuns: 1000, seed: 0x5eed });
 * ```
 * @module
 */

import fc from "fast-check";
import { strict as assert } from "node:assert";
import { H3_EXCESSIVE_LOAD, H3_MESSAGE_ERROR, H3Error } from "../../lib/h3/errors.ts";
import {
  decodeFrameHeader,
  FRAME_HEADERS,
  FRAME_SETTINGS,
  frameHeader,
} from "../../lib/h3/frame.ts";
import type { FrameReaderKind, FrameReaderOptions } from "../../lib/h3/frame_reader.ts";
import { buildRequest, parseRequestHead } from "../../lib/h3/message.ts";
import { decodeFieldSection, encodeFieldSection, FIELD_OVERHEAD } from "../../lib/h3/qpack/mod.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "../../lib/h3/qpack/mod.ts";
import { decodeSettings, encodeSettings } from "../../lib/h3/settings.ts";
import {
  decodeVarint,
  encodeVarint,
  encodeVarintBig,
  readVarint,
  readVarintBig,
  VARINT_MAX_BIG,
  varintLength,
  varintSize,
} from "../../lib/h3/varint.ts";
import { concat } from "../support/h3_assert.ts";
import {
  controlStream,
  cuts,
  feed,
  fieldList,
  latin1,
  mutate,
  mutations,
  requestFields,
  requestStream,
  settingsEntries,
  smallBytes,
  split,
  varintValue,
} from "./arbitraries.ts";

/** How one run of a property is configured. */
export interface RunOptions {
  /** Number of generated cases. */
  numRuns: number;
  /** Seed for the generator: the same seed gives the same cases. */
  seed: number;
}

/** A named property; `weight` is its share of a suite's total case budget. */
export interface FuzzProperty {
  /** Test name. */
  name: string;
  /** Relative share of the case budget. */
  weight: number;
  /** Runs the property; throws (with the shrunk counterexample) when it fails. */
  check(options: RunOptions): void;
}

function define<T>(
  name: string,
  weight: number,
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => void,
): FuzzProperty {
  return {
    name,
    weight,
    check: ({ numRuns, seed }) => fc.assert(fc.property(arb, predicate), { numRuns, seed }),
  };
}

/** Runs `fn`; an H3Error is fine (and returned), any other error fails the property. */
function onlyH3Error(fn: () => void): H3Error | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof H3Error) return e;
    throw e;
  }
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

const varintRoundTrip = define("varint: encode → decode round trip", 2, varintValue, (v) => {
  const out = new Uint8Array(9);
  const end = encodeVarint(v, out, 1);
  assert.equal(end - 1, varintSize(v));
  assert.equal(varintLength(out[1]), end - 1);
  assert.equal(decodeVarint(out, 1, end), v);
  assert.equal(decodeVarint(out, 1, end - 1), -1);
  assert.equal(readVarintBig(out, 1), BigInt(v));
});

const varintBigRoundTrip = define(
  "varint: 62-bit bigint round trip, rounded number read",
  1,
  fc.bigInt({ min: 0n, max: VARINT_MAX_BIG }),
  (v) => {
    const out = new Uint8Array(8);
    const end = encodeVarintBig(v, out, 0);
    assert.equal(readVarintBig(out, 0), v);
    assert.equal(varintLength(out[0]), end);
    assert.equal(readVarint(out, 0), Number(v));
  },
);

const varintRandom = define(
  "varint: decodeVarint on random bytes never throws",
  2,
  fc.tuple(smallBytes(12), fc.nat(), fc.nat()),
  ([buf, o, e]) => {
    const offset = o % (buf.length + 2);
    const end = e % (buf.length + 1);
    const v = decodeVarint(buf, offset, end);
    if (offset >= end || offset + varintLength(buf[offset]) > end) assert.equal(v, -1);
    else {
      const exact = readVarintBig(buf, offset);
      if (exact <= SAFE_MAX) assert.equal(v, Number(exact));
      else assert.ok(v > Number.MAX_SAFE_INTEGER);
    }
  },
);

const REQUEST: FrameReaderOptions = { kind: "request", maxHeadersPayload: 64 };
const CONTROL: FrameReaderOptions = {
  kind: "control",
  maxHeadersPayload: 64,
  maxControlPayload: 128,
};

function sameSplitOrWhole(opts: FrameReaderOptions, frames: Uint8Array[], points: number[]) {
  const whole = concat(...frames);
  const a = feed(opts, [whole]);
  const b = feed(opts, split(whole, points));
  assert.deepEqual(b.events, a.events);
  assert.equal(b.error, a.error);
  return a;
}

const framesRequestSplit = define(
  "frames: request stream, split = whole, no error",
  3,
  fc.tuple(requestStream, cuts),
  ([frames, points]) => {
    const r = sameSplitOrWhole(REQUEST, frames, points);
    assert.equal(r.error, null);
    assert.ok(r.events.length >= 1);
  },
);

const framesControlSplit = define(
  "frames: control stream, split = whole, ends with H3_CLOSED_CRITICAL_STREAM",
  3,
  fc.tuple(controlStream, cuts),
  ([frames, points]) => {
    const r = sameSplitOrWhole(CONTROL, frames, points);
    assert.equal(r.error, "260 connection"); // 0x104 at end(): a control stream must not close
    assert.ok(r.events[0].startsWith("settings "));
  },
);

const KINDS: FrameReaderKind[] = ["request", "response", "control"];

function readerOptions(kind: FrameReaderKind, limit: number): FrameReaderOptions {
  return { kind, maxHeadersPayload: limit, maxControlPayload: limit, role: "server" };
}

function checkHostile(kind: FrameReaderKind, limit: number, bytes: Uint8Array, points: number[]) {
  const opts = readerOptions(kind, limit);
  const whole = feed(opts, [bytes]);
  const parts = feed(opts, split(bytes, points));
  assert.deepEqual(parts.events, whole.events);
  assert.equal(parts.error, whole.error);
  // A partial frame header (≤ 16 bytes) or a payload within the limit: nothing larger is kept.
  const bound = Math.max(16, limit);
  assert.ok(whole.maxBuffered <= bound && parts.maxBuffered <= bound, `buffered > ${bound}`);
}

const hostileSetup = fc.tuple(fc.constantFrom(...KINDS), fc.integer({ min: 1, max: 256 }), cuts);

const framesRandom = define(
  "frames: random bytes throw only H3Error, buffer within limits",
  4,
  fc.tuple(hostileSetup, smallBytes(200)),
  ([[kind, limit, points], bytes]) => checkHostile(kind, limit, bytes, points),
);

const framesMutated = define(
  "frames: mutated valid streams throw only H3Error, buffer within limits",
  6,
  fc.tuple(hostileSetup, fc.oneof(requestStream, controlStream), mutations),
  ([[kind, limit, points], frames, edits]) =>
    checkHostile(kind, limit, mutate(concat(...frames), edits), points),
);

const framesHugeLength = define(
  "frames: an oversized HEADERS/SETTINGS length is refused from its header alone",
  1,
  fc.tuple(
    fc.constantFrom("request" as const, "control" as const),
    fc.integer({ min: 1, max: 4096 }),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  ),
  ([kind, limit, extra]) => {
    const length = Math.min(limit + extra, Number.MAX_SAFE_INTEGER);
    const type = kind === "request" ? FRAME_HEADERS : FRAME_SETTINGS;
    const r = feed(readerOptions(kind, limit), [frameHeader(type, length), new Uint8Array(3)]);
    assert.equal(r.error, `${H3_EXCESSIVE_LOAD} ${kind === "request" ? "stream" : "connection"}`);
    assert.equal(r.maxBuffered, 0);
  },
);

const settingsRandom = define(
  "settings: decodeSettings on random or mutated payloads throws only H3Error",
  3,
  fc.oneof(
    smallBytes(64),
    fc.tuple(settingsEntries, mutations).map(([e, m]) => mutate(settingsPayload(e), m)),
  ),
  (payload) => void onlyH3Error(() => decodeSettings(payload)),
);

function settingsPayload(entries: Array<[number, number]>): Uint8Array {
  const frame = encodeSettings(entries);
  const h = decodeFrameHeader(frame, 0);
  assert.ok(h !== null);
  return frame.subarray(h.headerSize);
}

const settingsRoundTrip = define(
  "settings: encode → decode round trip",
  2,
  settingsEntries,
  (entries) => {
    const s = decodeSettings(settingsPayload(entries));
    const get = (id: number, dflt: number) => entries.find((e) => e[0] === id)?.[1] ?? dflt;
    assert.equal(s.qpackMaxTableCapacity, get(0x01, 0));
    assert.equal(s.maxFieldSectionSize, get(0x06, Infinity));
    assert.equal(s.qpackBlockedStreams, get(0x07, 0));
    const isGrease = (id: number) => id >= 0x21 && (id - 0x21) % 0x1f === 0;
    const unknown = entries.filter(([id]) => id !== 1 && id !== 6 && id !== 7 && !isGrease(id));
    assert.deepEqual(
      [...s.unknown].sort((a, b) => a[0] - b[0]),
      unknown.sort((a, b) => a[0] - b[0]),
    );
  },
);

function sectionSize(fields: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < fields.length; i += 2) {
    size += fields[i].length + fields[i + 1].length + FIELD_OVERHEAD;
  }
  return size;
}

const qpackRoundTrip = define(
  "qpack: encode → decode round trip, limit exact",
  5,
  fieldList,
  (fields) => {
    const block = encodeFieldSection(fields);
    const size = sectionSize(fields);
    assert.deepEqual(decodeFieldSection(block, size), fields);
    if (fields.length !== 0) {
      const e = onlyH3Error(() => decodeFieldSection(block, size - 1));
      assert.equal(e?.code, H3_MESSAGE_ERROR);
    }
  },
);

const qpackHostile = define(
  "qpack: random and mutated blocks throw only H3Error, result within the limit",
  6,
  fc.tuple(
    fc.oneof(
      smallBytes(200),
      fc.tuple(fieldList, mutations).map(([f, m]) => mutate(encodeFieldSection(f), m)),
    ),
    fc.integer({ min: 0, max: 4096 }),
  ),
  ([block, limit]) => {
    let fields: string[] = [];
    onlyH3Error(() => void (fields = decodeFieldSection(block, limit)));
    assert.equal(fields.length % 2, 0);
    assert.ok(sectionSize(fields) <= limit);
  },
);

const huffmanRandom = define(
  "huffman: decode of random bytes throws only H3Error; encode → decode round trip",
  3,
  fc.tuple(smallBytes(64), latin1(64)),
  ([bytes, s]) => {
    onlyH3Error(() => void huffmanDecode(bytes, 0, bytes.length));
    const out = new Uint8Array(huffmanEncodedLength(s));
    assert.equal(huffmanEncode(s, out, 0), out.length);
    assert.equal(huffmanDecode(out, 0, out.length), s);
  },
);

/** `parseRequestHead` on plausible and implausible field lists throws only H3_MESSAGE_ERROR. */
export const requestHead: FuzzProperty = define(
  "message: parseRequestHead throws only H3_MESSAGE_ERROR",
  4,
  requestFields,
  (fields) => {
    const e = onlyH3Error(() => void parseRequestHead(fields));
    if (e !== null) assert.equal(e.code, H3_MESSAGE_ERROR);
  },
);

/**
 * A request head `parseRequestHead` accepts either becomes a Web `Request` through
 * `buildRequest` (so its URL parses), or is refused as H3_MESSAGE_ERROR: never a TypeError that
 * would turn a malformed request into an internal error.
 */
export const requestHeadUrl: FuzzProperty = define(
  "message: an accepted request head builds a Request or is H3_MESSAGE_ERROR",
  4,
  requestFields,
  (fields) => {
    const error = onlyH3Error(() => {
      const request = buildRequest(parseRequestHead(fields), null);
      new URL(request.url);
    });
    if (error !== null && error.code !== H3_MESSAGE_ERROR) throw error;
  },
);

/** Every property, in suite order. */
export const PROPERTIES: FuzzProperty[] = [
  varintRoundTrip,
  varintBigRoundTrip,
  varintRandom,
  framesRequestSplit,
  framesControlSplit,
  framesRandom,
  framesMutated,
  framesHugeLength,
  settingsRandom,
  settingsRoundTrip,
  qpackRoundTrip,
  qpackHostile,
  huffmanRandom,
  requestHead,
  requestHeadUrl,
];

/** Splits a total case budget over `properties` by weight (at least 1 case each). */
export function budget(properties: readonly FuzzProperty[], total: number): number[] {
  const sum = properties.reduce((n, p) => n + p.weight, 0);
  return properties.map((p) => Math.max(1, Math.floor((total * p.weight) / sum)));
}
