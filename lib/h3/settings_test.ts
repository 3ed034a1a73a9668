import { strict as assert } from "node:assert";
import { assertH3Error, bytes } from "../../tests/support/h3_assert.ts";
import { H3_FRAME_ERROR, H3_SETTINGS_ERROR } from "./errors.ts";
import { decodeFrameHeader, FRAME_SETTINGS, isGreaseValue } from "./frame.ts";
import {
  decodeSettings,
  defaultLocalSettings,
  defaultPeerSettings,
  encodeSettings,
  isReservedHttp2Setting,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_H3_DATAGRAM,
  SETTINGS_MAX_FIELD_SECTION_SIZE,
  SETTINGS_QPACK_BLOCKED_STREAMS,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
} from "./settings.ts";
import { encodeVarintBig } from "./varint.ts";

/** The payload of a whole SETTINGS frame. */
function payloadOf(frame: Uint8Array): Uint8Array {
  const h = decodeFrameHeader(frame, 0)!;
  assert.equal(h.type, FRAME_SETTINGS);
  assert.equal(h.headerSize + h.length, frame.length);
  return frame.subarray(h.headerSize);
}

/** Encodes exact 62-bit identifier/value pairs as a raw payload, even forbidden ones. */
function rawPayload(...pairs: Array<[bigint, bigint]>): Uint8Array {
  const out = new Uint8Array(pairs.length * 16);
  let at = 0;
  for (const [id, value] of pairs) at = encodeVarintBig(value, out, encodeVarintBig(id, out, at));
  return out.subarray(0, at);
}

Deno.test("settings: identifiers match RFC 9114 §7.2.4.1, RFC 9204, 9220, 9297", () => {
  assert.equal(SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0x01);
  assert.equal(SETTINGS_MAX_FIELD_SECTION_SIZE, 0x06);
  assert.equal(SETTINGS_QPACK_BLOCKED_STREAMS, 0x07);
  assert.equal(SETTINGS_ENABLE_CONNECT_PROTOCOL, 0x08);
  assert.equal(SETTINGS_H3_DATAGRAM, 0x33);
  const reserved = [];
  for (let id = 0; id < 0x40; id++) if (isReservedHttp2Setting(id)) reserved.push(id);
  assert.deepEqual(reserved, [0x0, 0x2, 0x3, 0x4, 0x5]); // §11.2.2
});

Deno.test("settings: encode at the byte level", () => {
  const frame = encodeSettings([[0x1, 0], [0x7, 0], [0x6, 16384]]);
  assert.deepEqual(frame, bytes(0x04, 0x09, 0x01, 0x00, 0x07, 0x00, 0x06, 0x80, 0x00, 0x40, 0x00));
  assert.deepEqual(encodeSettings([]), bytes(0x04, 0x00));
  assert.deepEqual(encodeSettings([[0x21, 63]]), bytes(0x04, 0x02, 0x21, 0x3f));
});

Deno.test("settings: decode at the byte level, with defaults for absent settings", () => {
  const s = decodeSettings(bytes(0x01, 0x44, 0x00, 0x06, 0x80, 0x00, 0x40, 0x00, 0x07, 0x10));
  assert.equal(s.qpackMaxTableCapacity, 1024);
  assert.equal(s.maxFieldSectionSize, 16384);
  assert.equal(s.qpackBlockedStreams, 16);
  assert.equal(s.unknown.size, 0);
  const empty = decodeSettings(bytes());
  assert.deepEqual(empty, defaultPeerSettings());
  assert.equal(empty.maxFieldSectionSize, Infinity);
  assert.equal(empty.qpackMaxTableCapacity, 0);
  assert.equal(empty.qpackBlockedStreams, 0);
});

Deno.test("settings: unknown identifiers are kept aside, grease ones dropped", () => {
  const s = decodeSettings(
    bytes(0x08, 0x01, 0x40, 0x33, 0x01, 0x21, 0x05, 0x4c, 0x3d, 0x07, 0x7f, 0xff, 0x2a),
  );
  assert.deepEqual(
    [...s.unknown],
    [[SETTINGS_ENABLE_CONNECT_PROTOCOL, 1], [SETTINGS_H3_DATAGRAM, 1], [0x3fff, 0x2a]],
  );
  assert.equal(s.maxFieldSectionSize, Infinity);
});

Deno.test("settings: reserved HTTP/2 identifiers are H3_SETTINGS_ERROR", () => {
  for (const id of [0x0, 0x2, 0x3, 0x4, 0x5]) {
    assertH3Error(() => decodeSettings(bytes(id, 0x00)), H3_SETTINGS_ERROR, "connection");
    // Also when not encoded minimally, and after valid settings.
    assertH3Error(
      () => decodeSettings(bytes(0x06, 0x01, 0x40, id, 0x00)),
      H3_SETTINGS_ERROR,
      "connection",
    );
    assert.throws(() => encodeSettings([[id, 0]]), RangeError);
  }
});

Deno.test("settings: duplicate identifiers are H3_SETTINGS_ERROR", () => {
  const dups = [
    bytes(0x01, 0x00, 0x01, 0x00),
    bytes(0x06, 0x01, 0x07, 0x00, 0x40, 0x06, 0x00), // second one non-minimal
    bytes(0x07, 0x00, 0x07, 0x01),
    bytes(0x08, 0x01, 0x08, 0x01),
    bytes(0x21, 0x00, 0x40, 0x21, 0x01), // grease, second one non-minimal
    rawPayload([(1n << 62n) - 1n, 1n], [(1n << 62n) - 1n, 2n]),
  ];
  for (const p of dups) assertH3Error(() => decodeSettings(p), H3_SETTINGS_ERROR, "connection");
  assert.throws(() => encodeSettings([[0x6, 1], [0x6, 2]]), RangeError);
});

Deno.test("settings: distinct huge identifiers are never mistaken for duplicates", () => {
  // 2^62-1 and 2^62-2 round to the same double; they are different settings.
  const p = rawPayload([(1n << 62n) - 1n, 1n], [(1n << 62n) - 2n, 2n], [0x21n, (1n << 62n) - 1n]);
  const s = decodeSettings(p);
  assert.equal(s.unknown.size, 0);
});

Deno.test("settings: huge values are accepted and stay above 2^53-1", () => {
  const s = decodeSettings(rawPayload([6n, (1n << 62n) - 1n], [0x3fffn, 1n << 60n]));
  assert.ok(s.maxFieldSectionSize > Number.MAX_SAFE_INTEGER);
  assert.ok(s.unknown.get(0x3fff)! > Number.MAX_SAFE_INTEGER);
});

Deno.test("settings: a payload cut inside a setting is H3_FRAME_ERROR at every position", () => {
  const payload = payloadOf(encodeSettings([[0x1, 4096], [0x6, 2 ** 40], [0x21, 7]]));
  const boundaries = new Set([0, 3, 12, 14]);
  assert.equal(payload.length, 14);
  for (let cut = 0; cut <= payload.length; cut++) {
    const part = payload.subarray(0, cut);
    if (boundaries.has(cut)) decodeSettings(part);
    else assertH3Error(() => decodeSettings(part), H3_FRAME_ERROR, "connection");
  }
  assertH3Error(() => decodeSettings(bytes(0x06)), H3_FRAME_ERROR, "connection");
});

Deno.test("settings: our defaults, with one grease setting", () => {
  const entries = defaultLocalSettings();
  assert.deepEqual(entries.slice(0, 3), [[0x1, 0], [0x7, 0], [0x6, 16384]]);
  assert.equal(entries.length, 4);
  assert.ok(isGreaseValue(entries[3][0]));
  const s = decodeSettings(payloadOf(encodeSettings(entries)));
  assert.equal(s.qpackMaxTableCapacity, 0);
  assert.equal(s.qpackBlockedStreams, 0);
  assert.equal(s.maxFieldSectionSize, 16384);
  assert.equal(s.unknown.size, 0);

  const plain = defaultLocalSettings({ maxFieldSectionSize: 65536, grease: false });
  assert.deepEqual(plain, [[0x1, 0], [0x7, 0], [0x6, 65536]]);
  assert.deepEqual(
    encodeSettings(plain),
    bytes(0x04, 0x09, 0x01, 0x00, 0x07, 0x00, 0x06, 0x80, 0x01, 0x00, 0x00),
  );
});

Deno.test("settings: grease identifier and value are random", () => {
  const ids = new Set<number>();
  for (let i = 0; i < 20; i++) ids.add(defaultLocalSettings()[3][0]);
  assert.ok(ids.size > 1);
});
