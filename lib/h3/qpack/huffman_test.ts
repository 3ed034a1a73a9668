import { strict as assert } from "node:assert";
import { QPACK_DECOMPRESSION_FAILED } from "../errors.ts";
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./_huffman_data.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
import { assertH3Error, hex, prng, toHex } from "../../../tests/support/qpack_hex.ts";

function encode(s: string): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(s));
  assert.equal(huffmanEncode(s, out, 0), out.length, `written length of ${JSON.stringify(s)}`);
  return out;
}

function decode(bytes: Uint8Array): string {
  return huffmanDecode(bytes, 0, bytes.length);
}

/** Packs symbol codes (0–256) MSB-first, then pads with `padBits` one bits. */
function pack(symbols: number[], padBits: number): Uint8Array {
  let bits = "";
  for (const s of symbols) bits += HUFFMAN_CODES[s].toString(2).padStart(HUFFMAN_LENGTHS[s], "0");
  bits += "1".repeat(padBits);
  assert.equal(bits.length % 8, 0, "test vector must fill whole octets");
  return Uint8Array.from(
    { length: bits.length / 8 },
    (_, i) => parseInt(bits.slice(8 * i, 8 * i + 8), 2),
  );
}

// Every vector below was checked against the text of RFC 7541 Appendix C.4 and C.6.
const RFC_VECTORS: [string, string][] = [
  ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"], // C.4.1
  ["no-cache", "a8eb 1064 9cbf"], // C.4.2
  ["custom-key", "25a8 49e9 5ba9 7d7f"], // C.4.3
  ["custom-value", "25a8 49e9 5bb8 e8b4 bf"], // C.4.3
  ["302", "6402"], // C.6.1
  ["private", "aec3 771a 4b"], // C.6.1
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
  ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"], // C.6.1
  ["307", "640e ff"], // C.6.2
  ["Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"],
  ["gzip", "9bd9 ab"], // C.6.3
  [
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", // C.6.3
    "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ],
];

Deno.test("huffman: RFC 7541 Appendix C vectors encode byte-exact", () => {
  for (const [text, encoded] of RFC_VECTORS) {
    assert.equal(toHex(encode(text)), toHex(hex(encoded)), text);
    assert.equal(huffmanEncodedLength(text), hex(encoded).length, text);
  }
});

Deno.test("huffman: RFC 7541 Appendix C vectors decode", () => {
  for (const [text, encoded] of RFC_VECTORS) assert.equal(decode(hex(encoded)), text);
});

Deno.test("huffman: decodes a sub-range and encodes at an offset", () => {
  const buf = new Uint8Array(20).fill(0x55);
  const end = huffmanEncode("no-cache", buf, 3);
  assert.equal(end, 9);
  assert.equal(toHex(buf.subarray(3, 9)), "a8eb10649cbf");
  assert.equal(buf[9], 0x55, "no write past the end");
  assert.equal(huffmanDecode(buf, 3, 9), "no-cache");
});

Deno.test("huffman: the empty string", () => {
  assert.equal(huffmanEncodedLength(""), 0);
  assert.equal(encode("").length, 0);
  assert.equal(decode(new Uint8Array(0)), "");
});

Deno.test("huffman: every octet round-trips, alone and together (Latin-1)", () => {
  let all = "";
  for (let c = 0; c < 256; c++) {
    const s = String.fromCharCode(c);
    all += s;
    assert.equal(decode(encode(s)), s, `octet ${c}`);
    assert.equal(decode(encode(s + s + s)), s + s + s, `octet ${c} ×3`);
  }
  assert.equal(decode(encode(all)), all);
  // Code units above U+00FF keep only their low byte (documented Latin-1 choice).
  assert.equal(decode(encode("\u0141")), "\u0041");
});

Deno.test("huffman: random strings round-trip (fixed seed)", () => {
  const rand = prng(0x9204);
  for (let iter = 0; iter < 2000; iter++) {
    const len = rand(iter % 10 === 0 ? 5000 : 40);
    let s = "";
    const ascii = rand(2) === 0;
    for (let i = 0; i < len; i++) s += String.fromCharCode(ascii ? 0x20 + rand(95) : rand(256));
    assert.equal(decode(encode(s)), s);
  }
});

Deno.test("huffman: EOS inside the string is an error", () => {
  const a = 0x61;
  // 'a' (5 bits) + EOS (30 bits) + 'a' (5 bits) = 40 bits.
  assertH3Error(() => decode(pack([a, 256, a], 0)), QPACK_DECOMPRESSION_FAILED, "connection");
  // EOS + 2 bits of padding: 32 one bits.
  assertH3Error(() => decode(hex("ffff ffff")), QPACK_DECOMPRESSION_FAILED);
  assertH3Error(() => decode(pack([256], 2)), QPACK_DECOMPRESSION_FAILED);
});

Deno.test("huffman: padding longer than 7 bits is an error", () => {
  assert.equal(decode(hex("07")), "0"); // '0' = 00000, then 3 one bits
  assertH3Error(() => decode(hex("07 ff")), QPACK_DECOMPRESSION_FAILED); // 11 bits of padding
  assertH3Error(() => decode(hex("ff")), QPACK_DECOMPRESSION_FAILED); // 8 bits of padding
  assertH3Error(() => decode(pack([0x30], 3 + 8)), QPACK_DECOMPRESSION_FAILED);
  assertH3Error(() => decode(hex("a8eb 1064 9cbf ff")), QPACK_DECOMPRESSION_FAILED);
});

Deno.test("huffman: padding that is not all ones is an error", () => {
  assertH3Error(() => decode(hex("00")), QPACK_DECOMPRESSION_FAILED); // '0' + 000
  assertH3Error(() => decode(hex("06")), QPACK_DECOMPRESSION_FAILED); // '0' + 110
  assertH3Error(() => decode(hex("a8eb 1064 9cbe")), QPACK_DECOMPRESSION_FAILED);
});

Deno.test("huffman: a string truncated mid-symbol is an error or shorter, never garbage", () => {
  const full = hex(RFC_VECTORS[RFC_VECTORS.length - 1][1]);
  const text = decode(full);
  for (let cut = 0; cut < full.length; cut++) {
    try {
      const s = decode(full.subarray(0, cut));
      assert.ok(text.startsWith(s), `cut ${cut} decoded ${s}`);
    } catch (e) {
      assertH3Error(() => {
        throw e;
      }, QPACK_DECOMPRESSION_FAILED);
    }
  }
});
