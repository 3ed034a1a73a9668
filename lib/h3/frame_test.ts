import { strict as assert } from "node:assert";
import { assertH3Error, bytes } from "../../tests/support/h3_assert.ts";
import { H3_FRAME_ERROR } from "./errors.ts";
import {
  dataFrameHeader,
  decodeCancelPush,
  decodeFrameHeader,
  decodeGoaway,
  decodeMaxPushId,
  decodePushPromise,
  encodeCancelPush,
  encodeDataFrameHeader,
  encodeFrame,
  encodeFrameHeader,
  encodeGoaway,
  encodeMaxPushId,
  encodePushPromise,
  FRAME_CANCEL_PUSH,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_MAX_PUSH_ID,
  FRAME_PUSH_PROMISE,
  FRAME_SETTINGS,
  frameHeader,
  frameHeaderSize,
  frameTypeName,
  headersFrameHeader,
  isGreaseValue,
  isReservedHttp2FrameType,
  MAX_FRAME_HEADER_SIZE,
  randomGreaseValue,
} from "./frame.ts";

Deno.test("frame: type codes match RFC 9114 §7.2 / §11.2.1", () => {
  assert.deepEqual(
    [
      FRAME_DATA,
      FRAME_HEADERS,
      FRAME_CANCEL_PUSH,
      FRAME_SETTINGS,
      FRAME_PUSH_PROMISE,
      FRAME_GOAWAY,
      FRAME_MAX_PUSH_ID,
    ],
    [0x0, 0x1, 0x3, 0x4, 0x5, 0x7, 0xd],
  );
  assert.equal(frameTypeName(FRAME_MAX_PUSH_ID), "MAX_PUSH_ID");
  assert.equal(frameTypeName(0x21), "0x21");
});

Deno.test("frame: reserved HTTP/2 types are exactly 0x2, 0x6, 0x8, 0x9", () => {
  const reserved = [];
  for (let t = 0; t < 0x40; t++) if (isReservedHttp2FrameType(t)) reserved.push(t);
  assert.deepEqual(reserved, [0x2, 0x6, 0x8, 0x9]);
});

Deno.test("frame: grease values are 0x1f * N + 0x21", () => {
  assert.ok(isGreaseValue(0x21));
  assert.ok(isGreaseValue(0x40));
  assert.ok(isGreaseValue(0x5f));
  assert.ok(isGreaseValue(0x1f * 1000 + 0x21));
  for (const v of [0, 1, 0x20, 0x22, 0x3f, 0x41]) assert.ok(!isGreaseValue(v), String(v));
  for (let i = 0; i < 100; i++) {
    const g = randomGreaseValue();
    assert.ok(isGreaseValue(g) && Number.isSafeInteger(g), String(g));
  }
});

Deno.test("frame: headers of every type encode and decode at the byte level", () => {
  const cases: Array<[number, number, number[]]> = [
    [FRAME_DATA, 5, [0x00, 0x05]],
    [FRAME_HEADERS, 300, [0x01, 0x41, 0x2c]],
    [FRAME_CANCEL_PUSH, 1, [0x03, 0x01]],
    [FRAME_SETTINGS, 0, [0x04, 0x00]],
    [FRAME_PUSH_PROMISE, 70000, [0x05, 0x80, 0x01, 0x11, 0x70]],
    [FRAME_GOAWAY, 8, [0x07, 0x08]],
    [FRAME_MAX_PUSH_ID, 2, [0x0d, 0x02]],
    [0x21, 2 ** 40, [0x21, 0xc0, 0, 0x01, 0, 0, 0, 0, 0]], // grease, huge
    [0x1f * 100 + 0x21, 0, [0x4c, 0x3d, 0x00]], // two-byte grease type 3133
  ];
  for (const [type, length, wire] of cases) {
    const out = new Uint8Array(MAX_FRAME_HEADER_SIZE);
    const end = encodeFrameHeader(type, length, out, 0);
    assert.deepEqual(out.subarray(0, end), bytes(...wire), `type ${type}`);
    assert.equal(frameHeaderSize(type, length), wire.length);
    assert.deepEqual(frameHeader(type, length), bytes(...wire));
    assert.deepEqual(decodeFrameHeader(bytes(...wire), 0), {
      type,
      length,
      headerSize: wire.length,
    });
  }
});

Deno.test("frame: header decodes at an offset and ignores bytes past it", () => {
  const buf = bytes(0xaa, 0x01, 0x03, 0xde, 0xad, 0xbe);
  assert.deepEqual(decodeFrameHeader(buf, 1, buf.length), { type: 1, length: 3, headerSize: 2 });
  assert.equal(decodeFrameHeader(buf, 1, 2), null);
});

Deno.test("frame: truncated header at every byte position is null, never a throw", () => {
  const headers = [
    bytes(0x00, 0x05),
    bytes(0x01, 0x41, 0x2c),
    bytes(0x79, 0x59, 0x80, 0x01, 0x11, 0x70),
    bytes(0xc0, 0, 0, 0, 0, 0, 0, 0x21, 0xc0, 0, 0x01, 0, 0, 0, 0, 0),
  ];
  for (const wire of headers) {
    for (let cut = 0; cut < wire.length; cut++) {
      assert.equal(decodeFrameHeader(wire.subarray(0, cut), 0), null);
      assert.equal(decodeFrameHeader(wire, 0, cut), null);
    }
    assert.notEqual(decodeFrameHeader(wire, 0), null);
  }
});

Deno.test("frame: DATA header helpers write only the header", () => {
  assert.deepEqual(dataFrameHeader(5), bytes(0x00, 0x05));
  const out = new Uint8Array(6);
  assert.equal(encodeDataFrameHeader(16384, out, 1), 6); // 16384 needs a 4-byte length
  assert.deepEqual(out, bytes(0, 0x00, 0x80, 0x00, 0x40, 0x00));
  assert.throws(() => encodeDataFrameHeader(16384, out, 2), RangeError);
  assert.deepEqual(headersFrameHeader(3), bytes(0x01, 0x03));
});

Deno.test("frame: encodeFrame writes header and payload", () => {
  assert.deepEqual(encodeFrame(FRAME_HEADERS, bytes(0, 0, 0xd1)), bytes(1, 3, 0, 0, 0xd1));
  assert.deepEqual(encodeFrame(FRAME_DATA, new Uint8Array(0)), bytes(0, 0));
  const big = new Uint8Array(100).fill(7);
  const f = encodeFrame(0x21, big);
  assert.deepEqual(f.subarray(0, 3), bytes(0x21, 0x40, 100));
  assert.deepEqual(f.subarray(3), big);
});

Deno.test("frame: CANCEL_PUSH, GOAWAY, MAX_PUSH_ID round-trip at the byte level", () => {
  assert.deepEqual(encodeCancelPush(3), bytes(0x03, 0x01, 0x03));
  assert.deepEqual(encodeGoaway(4), bytes(0x07, 0x01, 0x04));
  assert.deepEqual(encodeGoaway(400), bytes(0x07, 0x02, 0x41, 0x90));
  assert.deepEqual(encodeMaxPushId(2 ** 32), bytes(0x0d, 0x08, 0xc0, 0, 0, 1, 0, 0, 0, 0));
  assert.equal(decodeCancelPush(bytes(0x03)), 3);
  assert.equal(decodeGoaway(bytes(0x41, 0x90)), 400);
  assert.equal(decodeMaxPushId(bytes(0xc0, 0, 0, 1, 0, 0, 0, 0)), 2 ** 32);
  for (const id of [0, 63, 64, 16383, 16384, 2 ** 30, 2 ** 53 - 1]) {
    for (
      const [enc, dec] of [
        [encodeCancelPush, decodeCancelPush],
        [encodeGoaway, decodeGoaway],
        [encodeMaxPushId, decodeMaxPushId],
      ] as const
    ) {
      const frame = enc(id);
      const h = decodeFrameHeader(frame, 0)!;
      assert.equal(h.headerSize + h.length, frame.length);
      assert.equal(dec(frame.subarray(h.headerSize)), id);
    }
  }
});

Deno.test("frame: single-varint payloads with missing or extra bytes are H3_FRAME_ERROR", () => {
  const bad = [bytes(), bytes(0x41), bytes(0x80, 0, 0), bytes(0x03, 0x00), bytes(0x41, 0, 0)];
  for (const p of bad) {
    assertH3Error(() => decodeCancelPush(p), H3_FRAME_ERROR, "connection");
    assertH3Error(() => decodeGoaway(p), H3_FRAME_ERROR, "connection");
    assertH3Error(() => decodeMaxPushId(p), H3_FRAME_ERROR, "connection");
  }
});

Deno.test("frame: PUSH_PROMISE round-trips with a view of the field section", () => {
  const frame = encodePushPromise(70, bytes(0, 0, 0xd1));
  assert.deepEqual(frame, bytes(0x05, 0x05, 0x40, 70, 0, 0, 0xd1));
  const payload = frame.subarray(2);
  const pp = decodePushPromise(payload);
  assert.equal(pp.pushId, 70);
  assert.deepEqual(pp.fieldSection, bytes(0, 0, 0xd1));
  assert.equal(pp.fieldSection.buffer, frame.buffer);
  assertH3Error(() => decodePushPromise(bytes()), H3_FRAME_ERROR, "connection");
  assertH3Error(() => decodePushPromise(bytes(0x40)), H3_FRAME_ERROR, "connection");
});
