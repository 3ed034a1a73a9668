import { strict as assert } from "node:assert";
import { decodeFieldSection } from "./decoder.ts";
import {
  encodedFieldSectionLength,
  encodeFieldSection,
  encodeFieldSectionInto,
} from "./encoder.ts";
import { hex, toHex } from "../../../tests/support/qpack_hex.ts";

const enc = (fields: string[]) => toHex(encodeFieldSection(fields));
const h = (s: string) => toHex(hex(s));

Deno.test("encoder: empty field list is just the prefix", () => {
  assert.equal(enc([]), "0000");
});

Deno.test("encoder: exact static matches use Indexed Field Lines", () => {
  assert.equal(enc([":status", "200"]), h("0000 d9")); // index 25
  assert.equal(enc([":method", "GET", ":scheme", "https"]), h("0000 d1 d7")); // 17, 23
  assert.equal(enc(["content-type", "application/json"]), h("0000 ee")); // 46
  assert.equal(enc(["x-frame-options", "sameorigin"]), h("0000 ff23")); // 98 = 63 + 35
});

Deno.test("encoder: name-only matches use the smallest static name index", () => {
  // :status first appears at 24 = 15 + 9; "201" Huffman-codes to 2 octets.
  assert.equal(enc([":status", "201"]), h("0000 5f09 82 1003"));
  // content-length is index 4; "42" stays raw (Huffman is not shorter).
  assert.equal(enc(["content-length", "42"]), h("0000 54 02 3432"));
  // RFC 7541 C.4.1 string as an :authority value (index 0).
  assert.equal(
    enc([":authority", "www.example.com"]),
    h("0000 50 8c f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
  );
});

Deno.test("encoder: RFC 9204 B.1 field decodes the same; ours Huffman-codes the value", () => {
  const ours = encodeFieldSection([":path", "/index.html"]);
  const rfc = hex("0000 510b 2f69 6e64 6578 2e68 746d 6c");
  assert.deepEqual(decodeFieldSection(ours, 1000), decodeFieldSection(rfc, 1000));
  assert.equal(ours[2], 0x51, "Literal Field Line with Name Reference, static index 1");
  assert.equal(ours[3] & 0x80, 0x80, "Huffman-coded, 8 octets instead of 11");
  assert.ok(ours.length < rfc.length);
});

Deno.test("encoder: literal names, Huffman only when strictly shorter", () => {
  // RFC 7541 C.4.3: both strings shorter with Huffman; name length 8 = 7 + 1 in a 3-bit prefix.
  assert.equal(
    enc(["custom-key", "custom-value"]),
    h("0000 2f01 25a8 49e9 5ba9 7d7f 89 25a8 49e9 5bb8 e8b4 bf"),
  );
  // "x-a" Huffman-codes to 3 octets (not shorter than 3): raw. "b" likewise.
  assert.equal(enc(["x-a", "b"]), h("0000 23 782d61 01 62"));
  // Non-ASCII octets have long codes: raw.
  assert.equal(enc(["x-b", "\u00ff"]), h("0000 23 782d62 01 ff"));
  assert.equal(enc(["x-c", ""]), h("0000 23 782d63 00"));
});

Deno.test("encoder: long lengths use multi-byte prefixed integers", () => {
  const value = "\u00ff".repeat(300); // raw: 300 = 127 + 173 → 7f ad 01
  const block = encodeFieldSection(["x-d", value]);
  assert.equal(toHex(block.subarray(0, 9)), h("0000 23 782d64 7f ad01"));
  assert.equal(block.length, 9 + 300);
  assert.deepEqual(decodeFieldSection(block, 10_000), ["x-d", value]);
});

Deno.test("encoder: the typical response round-trips", () => {
  // deno-fmt-ignore
  const fields = [
    ":status", "200",
    "content-type", "application/json",
    "content-length", "42",
    "x-connection-id", "0123456789abcdef",
    "x-remote-addr", "127.0.0.1:54321",
  ];
  const block = encodeFieldSection(fields);
  assert.equal(toHex(block.subarray(0, 4)), h("0000 d9 ee"));
  assert.deepEqual(decodeFieldSection(block, 16384), fields);
  assert.equal(encodedFieldSectionLength(fields), block.length);
});

Deno.test("encoder: encodeFieldSectionInto writes at an offset and checks room", () => {
  const fields = [":status", "404", "content-type", "text/plain", "x-a", "b"];
  const expected = encodeFieldSection(fields);
  const size = encodedFieldSectionLength(fields);
  assert.equal(size, expected.length);
  const out = new Uint8Array(size + 10).fill(0xee);
  assert.equal(encodeFieldSectionInto(fields, out, 7), 7 + size);
  assert.equal(toHex(out.subarray(7, 7 + size)), toHex(expected));
  assert.equal(out[6], 0xee);
  assert.equal(out[7 + size], 0xee);
  assert.throws(() => encodeFieldSectionInto(fields, new Uint8Array(size - 1), 0), RangeError);
  assert.throws(() => encodeFieldSectionInto(fields, out, 11), RangeError);
});

Deno.test("encoder: odd-length field arrays are rejected", () => {
  assert.throws(() => encodeFieldSection([":status"]), RangeError);
});

Deno.test("encoder: many fields grow the scratch plan", () => {
  const fields: string[] = [];
  for (let i = 0; i < 500; i++) fields.push(`x-h${i}`, `v${i}`);
  const block = encodeFieldSection(fields);
  assert.deepEqual(decodeFieldSection(block, 1 << 20), fields);
  // And a small list afterwards still encodes correctly.
  assert.equal(enc([":status", "200"]), h("0000 d9"));
});

Deno.test("encoder: cached literals encode exactly as fresh ones, also past the cache's size", () => {
  const values = Array.from({ length: 5000 }, (_, i) => `value-${i}-${"x".repeat(i % 40)}`);
  for (const round of [0, 1]) {
    for (const value of values) {
      const fields = ["x-custom", value];
      const block = encodeFieldSection(fields);
      assert.deepEqual(decodeFieldSection(block, 1 << 16), fields, `round ${round}: ${value}`);
      assert.equal(block.length, encodedFieldSectionLength(fields));
    }
  }
});

Deno.test("encoder: a line cache miss after planned fields leaves their plan intact", () => {
  // Each section mixes planned-in-place fields (status, a name reference, a counter) with
  // cacheable values that are new, so every miss encodes a line while the section's plan is
  // half filled.
  for (let i = 0; i < 50; i++) {
    const fields = [
      ":status",
      "200",
      "content-type",
      "text/x-" + i, // name reference, cacheable, new
      "x-request-count",
      String(1_000_000 + i), // a number: never cached
      "x-connection-id",
      `conn-${i}-abcdef`, // literal name, cacheable, new
      "content-length",
      "15",
    ];
    const block = encodeFieldSection(fields);
    assert.deepEqual(decodeFieldSection(block, 1 << 16), fields);
    assert.equal(block.length, encodedFieldSectionLength(fields));
    // And again, now from the cache, byte for byte the same.
    assert.deepEqual(encodeFieldSection(fields), block);
  }
});
