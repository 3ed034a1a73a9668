import { strict as assert } from "node:assert";
import { bytes } from "../../tests/support/h3_assert.ts";
import {
  decodeVarint,
  encodeVarint,
  encodeVarintBig,
  readVarint,
  readVarintBig,
  VARINT_MAX_1,
  VARINT_MAX_2,
  VARINT_MAX_4,
  VARINT_MAX_BIG,
  varintLength,
  varintSize,
} from "./varint.ts";

function encode(value: number): Uint8Array {
  const out = new Uint8Array(8);
  return out.subarray(0, encodeVarint(value, out, 0));
}

Deno.test("varint: RFC 9000 Appendix A.1 examples decode", () => {
  const eight = bytes(0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c);
  assert.equal(readVarintBig(eight, 0), 151288809941952652n);
  assert.equal(decodeVarint(eight, 0), Number(151288809941952652n)); // rounded, > 2^53
  assert.equal(varintLength(eight[0]), 8);
  assert.equal(decodeVarint(bytes(0x9d, 0x7f, 0x3e, 0x7d), 0), 494878333);
  assert.equal(decodeVarint(bytes(0x7b, 0xbd), 0), 15293);
  assert.equal(decodeVarint(bytes(0x25), 0), 37);
  assert.equal(decodeVarint(bytes(0x40, 0x25), 0), 37);
  assert.equal(varintLength(0x40), 2);
});

Deno.test("varint: RFC 9000 Appendix A.1 examples encode in their shortest form", () => {
  assert.deepEqual(encode(494878333), bytes(0x9d, 0x7f, 0x3e, 0x7d));
  assert.deepEqual(encode(15293), bytes(0x7b, 0xbd));
  assert.deepEqual(encode(37), bytes(0x25));
  const out = new Uint8Array(8);
  assert.equal(encodeVarintBig(151288809941952652n, out, 0), 8);
  assert.deepEqual(out, bytes(0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c));
});

Deno.test("varint: bounds of each length round-trip at the byte level", () => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [VARINT_MAX_1, [0x3f]],
    [64, [0x40, 0x40]],
    [VARINT_MAX_2, [0x7f, 0xff]],
    [16384, [0x80, 0x00, 0x40, 0x00]],
    [VARINT_MAX_4, [0xbf, 0xff, 0xff, 0xff]],
    [VARINT_MAX_4 + 1, [0xc0, 0, 0, 0, 0x40, 0, 0, 0]],
    [2 ** 32, [0xc0, 0, 0, 0x01, 0, 0, 0, 0]],
    [Number.MAX_SAFE_INTEGER, [0xc0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [value, wire] of cases) {
    assert.deepEqual(encode(value), bytes(...wire), `encode ${value}`);
    assert.equal(varintSize(value), wire.length);
    assert.equal(varintLength(wire[0]), wire.length);
    assert.equal(readVarint(bytes(...wire), 0), value, `read ${value}`);
    assert.equal(decodeVarint(bytes(...wire), 0), value);
    assert.equal(readVarintBig(bytes(...wire), 0), BigInt(value));
  }
  assert.equal(VARINT_MAX_1, 63);
  assert.equal(VARINT_MAX_2, 16383);
  assert.equal(VARINT_MAX_4, 1073741823);
});

Deno.test("varint: 2^62-1 is exact as a bigint and stays above 2^53-1 as a number", () => {
  const out = new Uint8Array(8);
  encodeVarintBig(VARINT_MAX_BIG, out, 0);
  assert.deepEqual(out, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  assert.equal(readVarintBig(out, 0), 4611686018427387903n);
  assert.ok(readVarint(out, 0) > Number.MAX_SAFE_INTEGER);
  // 2^53 exactly, the smallest unsafe value, must not round down into the safe range.
  encodeVarintBig(2n ** 53n, out, 0);
  assert.ok(readVarint(out, 0) > Number.MAX_SAFE_INTEGER);
  assert.throws(() => encodeVarintBig(VARINT_MAX_BIG + 1n, out, 0), RangeError);
  assert.throws(() => encodeVarintBig(-1n, out, 0), RangeError);
});

Deno.test("varint: non-minimal encodings decode to the same value", () => {
  assert.equal(decodeVarint(bytes(0x80, 0, 0, 0x25), 0), 37);
  assert.equal(decodeVarint(bytes(0xc0, 0, 0, 0, 0, 0, 0, 0x25), 0), 37);
});

Deno.test("varint: decodes at an offset and respects end", () => {
  const buf = bytes(0xff, 0x7b, 0xbd, 0x25);
  assert.equal(decodeVarint(buf, 1), 15293);
  assert.equal(decodeVarint(buf, 3), 37);
  assert.equal(decodeVarint(buf, 1, 2), -1);
  assert.equal(decodeVarint(buf, 4), -1);
});

Deno.test("varint: truncated input at every byte position is need-more, never a throw", () => {
  const values = [0, 63, 64, 16383, 16384, VARINT_MAX_4, VARINT_MAX_4 + 1, 2 ** 50];
  for (const value of values) {
    const wire = encode(value);
    for (let cut = 0; cut < wire.length; cut++) {
      assert.equal(decodeVarint(wire.subarray(0, cut), 0), -1, `${value} cut at ${cut}`);
      assert.equal(decodeVarint(wire, 0, cut), -1);
    }
    assert.equal(decodeVarint(wire, 0), value);
  }
});

Deno.test("varint: every first byte gives the length from its two high bits", () => {
  for (let b = 0; b < 256; b++) {
    assert.equal(varintLength(b), [1, 2, 4, 8][b >> 6]);
  }
});

Deno.test("varint: encoder writes at an offset and returns the new offset", () => {
  const out = new Uint8Array(10).fill(0xee);
  assert.equal(encodeVarint(15293, out, 3), 5);
  assert.deepEqual(out, bytes(0xee, 0xee, 0xee, 0x7b, 0xbd, 0xee, 0xee, 0xee, 0xee, 0xee));
});

Deno.test("varint: encoder refuses bad values and short buffers with RangeError", () => {
  const out = new Uint8Array(8);
  for (const bad of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(() => encodeVarint(bad, out, 0), RangeError, String(bad));
    assert.throws(() => varintSize(bad), RangeError);
  }
  assert.throws(() => encodeVarint(16384, new Uint8Array(3), 0), RangeError);
  assert.throws(() => encodeVarint(1, out, 8), RangeError);
});

Deno.test("varint: random values round-trip", () => {
  const out = new Uint8Array(8);
  for (let i = 0; i < 2000; i++) {
    const bits = Math.floor(Math.random() * 54);
    const value = Math.floor(Math.random() * 2 ** bits);
    const end = encodeVarint(value, out, 0);
    assert.equal(end, varintSize(value));
    assert.equal(decodeVarint(out, 0, end), value);
  }
});
