import { strict as assert } from "node:assert";
import { QPACK_DECODER_STREAM_ERROR, QPACK_DECOMPRESSION_FAILED } from "../errors.ts";
import { decodePrefixInt, encodePrefixInt, prefixIntLength } from "./prefix_int.ts";
import { assertH3Error, hex, toHex } from "../../../tests/support/qpack_hex.ts";

function encode(value: number, prefixBits: number, flags = 0): Uint8Array {
  const out = new Uint8Array(prefixIntLength(value, prefixBits));
  assert.equal(encodePrefixInt(value, prefixBits, flags, out, 0), out.length);
  return out;
}

Deno.test("prefix int: RFC 7541 C.1.1 — 10 with a 5-bit prefix", () => {
  assert.equal(toHex(encode(10, 5)), "0a");
  // The three bits above the prefix belong to the caller and are preserved.
  assert.equal(toHex(encode(10, 5, 0xe0)), "ea");
  assert.deepEqual(decodePrefixInt(hex("ea"), 0, 5), { value: 10, next: 1 });
});

Deno.test("prefix int: RFC 7541 C.1.2 — 1337 with a 5-bit prefix", () => {
  assert.equal(toHex(encode(1337, 5)), "1f9a0a");
  assert.deepEqual(decodePrefixInt(hex("1f 9a 0a"), 0, 5), { value: 1337, next: 3 });
  assert.deepEqual(decodePrefixInt(hex("ff 9a 0a"), 0, 5), { value: 1337, next: 3 });
});

Deno.test("prefix int: RFC 7541 C.1.3 — 42 with an 8-bit prefix", () => {
  assert.equal(toHex(encode(42, 8)), "2a");
  assert.deepEqual(decodePrefixInt(hex("2a"), 0, 8), { value: 42, next: 1 });
});

Deno.test("prefix int: round trips at every prefix size and boundary", () => {
  for (let bits = 1; bits <= 8; bits++) {
    const max = (1 << bits) - 1;
    const values = [
      0,
      max - 1,
      max,
      max + 1,
      max + 127,
      max + 128,
      max + 16383,
      max + 16384,
      2 ** 21,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 + 5,
      2 ** 40,
      2 ** 53 - 1,
    ].filter((v) => v >= 0);
    for (const v of values) {
      const buf = new Uint8Array(12);
      buf[0] = 0xaa; // junk before the integer: decoding starts at the given offset
      const end = encodePrefixInt(v, bits, 0, buf, 1);
      assert.equal(end - 1, prefixIntLength(v, bits), `length of ${v}/${bits}`);
      assert.deepEqual(decodePrefixInt(buf, 1, bits), { value: v, next: end }, `${v}/${bits}`);
    }
  }
});

Deno.test("prefix int: flag bits do not leak into the value", () => {
  for (let bits = 1; bits <= 7; bits++) {
    const flags = (0xff << bits) & 0xff;
    const buf = encode(300, bits, flags);
    assert.equal(buf[0] & flags, flags);
    assert.equal(decodePrefixInt(buf, 0, bits)?.value, 300);
  }
});

Deno.test("prefix int: truncated input returns null at every cut", () => {
  const full = encode(2 ** 53 - 1, 5);
  assert.equal(full.length, 9);
  for (let cut = 0; cut < full.length; cut++) {
    assert.equal(decodePrefixInt(full.subarray(0, cut), 0, 5), null, `cut at ${cut}`);
  }
  assert.equal(decodePrefixInt(hex("0a"), 1, 5), null);
});

Deno.test("prefix int: values above 2^53-1 throw QPACK_DECOMPRESSION_FAILED", () => {
  assertH3Error(
    () => decodePrefixInt(encode(2 ** 53, 5), 0, 5),
    QPACK_DECOMPRESSION_FAILED,
    "connection",
  );
  // 2^62-1, the QUIC maximum.
  assertH3Error(
    () => decodePrefixInt(hex("ff ff ff ff ff ff ff ff ff 7f"), 0, 8),
    QPACK_DECOMPRESSION_FAILED,
  );
  // The error code is the caller's choice.
  assertH3Error(
    () => decodePrefixInt(encode(2 ** 53, 6), 0, 6, QPACK_DECODER_STREAM_ERROR),
    QPACK_DECODER_STREAM_ERROR,
  );
});

Deno.test("prefix int: endless continuation bytes fail fast, with no huge loop", () => {
  const buf = new Uint8Array(1 << 20).fill(0x80);
  buf[0] = 0x1f;
  const t0 = performance.now();
  assertH3Error(() => decodePrefixInt(buf, 0, 5), QPACK_DECOMPRESSION_FAILED);
  assert.ok(performance.now() - t0 < 50);
  // Nine continuation bytes holding only zeros are still one too many.
  assertH3Error(
    () => decodePrefixInt(hex("1f 80 80 80 80 80 80 80 80 00"), 0, 5),
    QPACK_DECOMPRESSION_FAILED,
  );
  // Eight (zero-padded) continuation bytes are accepted.
  assert.deepEqual(decodePrefixInt(hex("1f 81 80 80 80 80 80 80 00"), 0, 5), {
    value: 32,
    next: 9,
  });
});
