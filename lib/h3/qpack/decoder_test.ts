import { strict as assert } from "node:assert";
import { H3_MESSAGE_ERROR, H3Error, QPACK_DECOMPRESSION_FAILED } from "../errors.ts";
import { decodeFieldSection } from "./decoder.ts";
import { encodeFieldSection } from "./encoder.ts";
import { encodePrefixInt, prefixIntLength } from "./prefix_int.ts";
import { assertH3Error, hex, prng } from "../../../tests/support/qpack_hex.ts";

const BIG = 1 << 20;

function dec(h: string, max = BIG): string[] {
  return decodeFieldSection(hex(h), max);
}

function failsWith(h: string | Uint8Array, code = QPACK_DECOMPRESSION_FAILED, max = BIG) {
  const block = typeof h === "string" ? hex(h) : h;
  return assertH3Error(() => decodeFieldSection(block, max), code);
}

function bytes(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") {
      for (let i = 0; i < p.length; i++) out.push(p.charCodeAt(i));
    } else out.push(...p);
  }
  return Uint8Array.from(out);
}

function prefixInt(value: number, bits: number, flags: number): Uint8Array {
  const out = new Uint8Array(prefixIntLength(value, bits));
  encodePrefixInt(value, bits, flags, out, 0);
  return out;
}

Deno.test("decoder: RFC 9204 B.1 literal field line with static name reference", () => {
  assert.deepEqual(dec("0000 510b 2f69 6e64 6578 2e68 746d 6c"), [":path", "/index.html"]);
});

Deno.test("decoder: indexed static field lines, one- and multi-byte indices", () => {
  assert.deepEqual(dec("0000 d1 d9"), [":method", "GET", ":status", "200"]);
  // Index 98 ≥ 63: 6-bit prefix full (0xff) then 98 − 63 = 35.
  assert.deepEqual(dec("0000 ff23 c0"), ["x-frame-options", "sameorigin", ":authority", ""]);
  assert.deepEqual(dec("0000"), []);
});

Deno.test("decoder: literal with static name reference, Huffman value (RFC 7541 C.4.1)", () => {
  assert.deepEqual(dec("0000 50 8c f1e3 c2e5 f23a 6ba0 ab90 f4ff"), [
    ":authority",
    "www.example.com",
  ]);
  // Name index 44 ≥ 15: 4-bit prefix full then 29; N bit (0x20) set is accepted.
  assert.deepEqual(dec("0000 7f1d 03 6162 63"), ["content-type", "abc"]);
  assert.deepEqual(dec("0000 5f09 82 1003"), [":status", "201"]);
});

Deno.test("decoder: literal with literal name, raw and Huffman (RFC 7541 C.4.3 strings)", () => {
  assert.deepEqual(dec("0000 23 666f6f 03 626172"), ["foo", "bar"]);
  // N bit (0x10) accepted.
  assert.deepEqual(dec("0000 33 666f6f 00"), ["foo", ""]);
  // Huffman name (8 octets ≥ 7: prefix 0x2f then 1) and Huffman value.
  assert.deepEqual(dec("0000 2f01 25a8 49e9 5ba9 7d7f 89 25a8 49e9 5bb8 e8b4 bf"), [
    "custom-key",
    "custom-value",
  ]);
  // Raw name of 10 octets: 0x27 then 3.
  assert.deepEqual(dec("0000 2703 6375 7374 6f6d 2d6b 6579 01 78"), ["custom-key", "x"]);
});

Deno.test("decoder: Delta Base and sign are read and ignored when RIC is 0", () => {
  assert.deepEqual(dec("00 80 d1"), [":method", "GET"]);
  assert.deepEqual(dec("00 7f 05 d1"), [":method", "GET"]);
  failsWith("00 7f"); // Delta Base truncated
  failsWith("00 ff ff ff ff ff ff ff ff ff 7f"); // Delta Base above 2^53-1
});

Deno.test("decoder: non-Latin-1 octets decode one code unit per octet", () => {
  assert.deepEqual(dec("0000 23 666f6f 02 c3a9"), ["foo", "\u00c3\u00a9"]);
});

Deno.test("decoder: non-zero Required Insert Count is a connection error", () => {
  const e = failsWith("0381 10 11"); // RFC 9204 B.2 stream 4
  assert.equal(e.scope, "connection");
  failsWith("0500 80 c1 81"); // RFC 9204 B.4 stream 8
  failsWith("01 00");
});

Deno.test("decoder: dynamic and post-base references are QPACK_DECOMPRESSION_FAILED", () => {
  failsWith("0000 80"); // Indexed Field Line, T=0
  failsWith("0000 10"); // Indexed Field Line with Post-Base Index
  failsWith("0000 40 01 61"); // Literal with Name Reference, T=0
  failsWith("0000 00 01 61"); // Literal with Post-Base Name Reference
  failsWith("0000 08 01 61"); // ditto, N bit set
});

Deno.test("decoder: static index out of range (≥ 99)", () => {
  failsWith("0000 ff24"); // indexed 63 + 36 = 99
  failsWith("0000 5f54 0161"); // name reference 15 + 84 = 99
  failsWith(bytes(0, 0, prefixInt(2 ** 40, 6, 0xc0)));
  assert.deepEqual(dec("0000 5f53 0161"), ["x-frame-options", "a"]); // 98 is fine
});

Deno.test("decoder: Huffman errors inside a block", () => {
  failsWith("0000 51 84 ffff ffff"); // EOS
  failsWith("0000 51 82 07ff"); // padding longer than 7 bits
  failsWith("0000 51 81 00"); // padding not all ones
  failsWith("0000 29 00 00"); // Huffman name with padding not all ones
});

Deno.test("decoder: a huge length prefix throws without allocating", () => {
  for (const len of [2 ** 40, 2 ** 53 - 1, 2 ** 31, 1000]) {
    failsWith(bytes(0, 0, 0x51, prefixInt(len, 7, 0x00), "abc"));
    failsWith(bytes(0, 0, 0x51, prefixInt(len, 7, 0x80), "abc"));
    failsWith(bytes(0, 0, prefixInt(len, 3, 0x20), "abc"));
    failsWith(bytes(0, 0, prefixInt(len, 3, 0x28), "abc"));
    failsWith(bytes(0, 0, 0x23, "abc", prefixInt(len, 7, 0x80)));
  }
  // Above 2^53-1: the integer itself is rejected.
  failsWith(bytes(0, 0, 0x51, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f));
});

Deno.test("decoder: truncation at every byte position fails cleanly", () => {
  // deno-fmt-ignore
  const fields = [
    ":method", "GET", // indexed
    "x-frame-options", "sameorigin", // two-byte index
    ":authority", "www.example.com", // name ref, Huffman value
    "content-type", "text/x-" + "a".repeat(200), // two-byte index and two-byte length
    "x-raw", "\u00ff\u00fe", // literal name, raw value (Huffman longer)
    "custom-key", "custom-value", // literal Huffman name and value
    "user-agent", "", // name ref, empty value
  ];
  const block = encodeFieldSection(fields);
  assert.deepEqual(decodeFieldSection(block, BIG), fields);
  // Field-line boundaries: cutting there leaves a shorter but valid section.
  const boundaries = new Map<number, number>();
  for (let k = 0; k <= fields.length; k += 2) {
    boundaries.set(encodeFieldSection(fields.slice(0, k)).length, k);
  }
  for (let cut = 0; cut < block.length; cut++) {
    const part = block.slice(0, cut);
    const k = boundaries.get(cut);
    if (k !== undefined) {
      assert.deepEqual(decodeFieldSection(part, BIG), fields.slice(0, k), `cut ${cut}`);
      continue;
    }
    let caught: unknown;
    try {
      decodeFieldSection(part, BIG);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof H3Error, `cut ${cut}: ${caught}`);
    assert.equal(caught.code, QPACK_DECOMPRESSION_FAILED, `cut ${cut}: ${caught.message}`);
    assert.equal(caught.scope, "connection");
  }
});

Deno.test("decoder: field section size limit (RFC 9114 §4.2.2) → H3_MESSAGE_ERROR", () => {
  const b1 = "0000 510b 2f69 6e64 6578 2e68 746d 6c"; // 5 + 11 + 32 = 48
  assert.deepEqual(dec(b1, 48), [":path", "/index.html"]);
  const e = failsWith(b1, H3_MESSAGE_ERROR, 47);
  assert.equal(e.scope, "stream");
  assert.match(e.message, /field section too large/);
  // Indexed lines count too: :method GET = 7 + 3 + 32 = 42 each.
  assert.equal(dec("0000 d1 d1", 84).length, 4);
  failsWith("0000 d1 d1", H3_MESSAGE_ERROR, 83);
  failsWith("0000 d1", H3_MESSAGE_ERROR, 0);
  // Literal names and Huffman values.
  const lit = "0000 2f01 25a8 49e9 5ba9 7d7f 89 25a8 49e9 5bb8 e8b4 bf"; // 10 + 12 + 32 = 54
  assert.equal(dec(lit, 54).length, 2);
  failsWith(lit, H3_MESSAGE_ERROR, 53);
  failsWith(lit, H3_MESSAGE_ERROR, 40); // the name alone no longer fits
});

Deno.test("decoder: an oversized string is refused before it is decoded", () => {
  const big = encodeFieldSection(["x-big", "v".repeat(100_000)]);
  failsWith(big, H3_MESSAGE_ERROR, 1000);
  assert.equal(decodeFieldSection(big, 200_000)[1].length, 100_000);
  // Huffman-coded value of 100 000 '0's: 62 500 octets must not be decoded for a 1 000 limit.
  const huff = encodeFieldSection(["x-big", "0".repeat(100_000)]);
  assert.ok(huff.length < 70_000);
  failsWith(huff, H3_MESSAGE_ERROR, 1000);
});

Deno.test("decoder: uppercase field names are a stream error", () => {
  const e = failsWith(bytes(0, 0, 0x23, "Foo", 0x01, "x"), H3_MESSAGE_ERROR);
  assert.equal(e.scope, "stream");
  failsWith(bytes(0, 0, 0x23, "foZ", 0x00), H3_MESSAGE_ERROR);
  // Huffman-coded "Foo": encode through the encoder's Huffman path by hand.
  const enc = encodeFieldSection(["fooooooooooo", ""]); // Huffman name
  const upper = encodeFieldSection(["Fooooooooooo", ""]);
  assert.equal(enc[2] & 0x08, 0x08, "name is Huffman-coded");
  assert.equal(upper[2] & 0x08, 0x08, "name is Huffman-coded");
  assert.deepEqual(decodeFieldSection(enc, BIG), ["fooooooooooo", ""]);
  failsWith(upper, H3_MESSAGE_ERROR);
});

Deno.test("decoder: random field lists round-trip through the encoder (fixed seed)", () => {
  const rand = prng(20240917);
  const staticPairs = [
    [":method", "GET"],
    [":status", "200"],
    ["content-type", "application/json"],
    [":path", "/"],
    ["accept", "*/*"],
    [":scheme", "https"],
    ["user-agent", ""],
  ];
  const token = "abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~";
  const str = (n: number, alphabet?: string) => {
    let s = "";
    for (let i = 0; i < n; i++) {
      s += alphabet ? alphabet[rand(alphabet.length)] : String.fromCharCode(rand(256));
    }
    return s;
  };
  for (let iter = 0; iter < 1000; iter++) {
    const fields: string[] = [];
    const count = rand(12);
    for (let f = 0; f < count; f++) {
      const kind = rand(4);
      if (kind === 0) fields.push(...staticPairs[rand(staticPairs.length)]);
      else if (kind === 1) fields.push(staticPairs[rand(staticPairs.length)][0], str(rand(40)));
      else if (kind === 2) fields.push(str(1 + rand(20), token), str(rand(300)));
      else fields.push(str(1 + rand(8), token), str(rand(30), "abcdefghij /0123456789"));
    }
    const block = encodeFieldSection(fields);
    assert.deepEqual(decodeFieldSection(block, BIG), fields);
  }
});
