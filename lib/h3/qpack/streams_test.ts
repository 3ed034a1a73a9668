import { strict as assert } from "node:assert";
import { QPACK_DECODER_STREAM_ERROR, QPACK_ENCODER_STREAM_ERROR } from "../errors.ts";
import { encodePrefixInt, prefixIntLength } from "./prefix_int.ts";
import { DecoderStreamReader, EncoderStreamReader } from "./streams.ts";
import { assertH3Error, hex } from "../../../tests/support/qpack_hex.ts";

function encoderFails(...chunks: string[]) {
  const r = new EncoderStreamReader();
  const last = chunks.pop()!;
  for (const c of chunks) r.push(hex(c));
  const e = assertH3Error(() => r.push(hex(last)), QPACK_ENCODER_STREAM_ERROR, "connection");
  // A failed reader stays failed.
  assertH3Error(() => r.push(hex("20")), QPACK_ENCODER_STREAM_ERROR);
  return e;
}

function decoderFails(...chunks: string[]) {
  const r = new DecoderStreamReader();
  const last = chunks.pop()!;
  for (const c of chunks) r.push(hex(c));
  const e = assertH3Error(() => r.push(hex(last)), QPACK_DECODER_STREAM_ERROR, "connection");
  assertH3Error(() => r.push(hex("48")), QPACK_DECODER_STREAM_ERROR);
  return e;
}

Deno.test("encoder stream: Set Dynamic Table Capacity 0 is accepted", () => {
  const r = new EncoderStreamReader();
  r.push(hex("20"));
  r.push(new Uint8Array(0));
  r.push(hex("20 20 20"));
});

Deno.test("encoder stream: a capacity above 0 is QPACK_ENCODER_STREAM_ERROR", () => {
  encoderFails("3fbd01"); // RFC 9204 B.2: Set Dynamic Table Capacity = 220
  encoderFails("20", "3f"); // split: the first byte alone decides, the rest need not arrive
  encoderFails("20", "21");
  encoderFails("20 3e");
});

Deno.test("encoder stream: inserts and duplicates are QPACK_ENCODER_STREAM_ERROR", () => {
  // RFC 9204 B.2 Insert With Name Reference (:authority=www.example.com).
  const e = encoderFails("c00f 7777 772e 6578 616d 706c 652e 636f 6d");
  assert.match(e.message, /Insert With Name Reference/);
  encoderFails("20", "c1"); // split before an insert
  // RFC 9204 B.3 Insert With Literal Name (custom-key=custom-value).
  assert.match(encoderFails("4a63 7573 746f 6d2d").message, /Insert With Literal Name/);
  // RFC 9204 B.4 Duplicate (relative index 2).
  assert.match(encoderFails("02").message, /Duplicate/);
  encoderFails("00");
  // Dynamic name reference (RFC 9204 B.5).
  encoderFails("810d 6375 7374 6f6d");
});

Deno.test("decoder stream: Stream Cancellation is accepted and reported", () => {
  const seen: number[] = [];
  const r = new DecoderStreamReader((id) => seen.push(id));
  r.push(hex("48")); // RFC 9204 B.4: Stream Cancellation (Stream=8)
  r.push(hex("40 7e"));
  assert.deepEqual(seen, [8, 0, 62]);
  new DecoderStreamReader().push(hex("48 44")); // no callback is fine
});

Deno.test("decoder stream: multi-byte stream IDs split at every position", () => {
  for (const id of [63, 64, 1000, 2 ** 32 + 4, 2 ** 53 - 1]) {
    const buf = new Uint8Array(prefixIntLength(id, 6) + 1);
    const end = encodePrefixInt(id, 6, 0x40, buf, 0);
    buf[end] = 0x44; // then Stream Cancellation (Stream=4)
    for (let cut = 0; cut <= buf.length; cut++) {
      const seen: number[] = [];
      const r = new DecoderStreamReader((s) => seen.push(s));
      r.push(buf.subarray(0, cut));
      r.push(buf.subarray(cut));
      assert.deepEqual(seen, [id, 4], `id ${id}, cut ${cut}`);
    }
    // One byte at a time.
    const seen: number[] = [];
    const r = new DecoderStreamReader((s) => seen.push(s));
    for (const b of buf) r.push(Uint8Array.of(b));
    assert.deepEqual(seen, [id, 4]);
  }
});

Deno.test("decoder stream: stream IDs above 2^53-1 are QPACK_DECODER_STREAM_ERROR", () => {
  decoderFails("7f ff ff ff ff ff ff ff ff 7f");
  decoderFails("7f ff ff ff ff", "ff ff ff ff 7f");
  decoderFails("7f 80 80 80 80 80 80 80 80 80"); // endless continuation
});

Deno.test("decoder stream: Section Acknowledgment is QPACK_DECODER_STREAM_ERROR", () => {
  assert.match(decoderFails("84").message, /Section Acknowledgment/); // RFC 9204 B.2
  decoderFails("48", "80");
});

Deno.test("decoder stream: Insert Count Increment is QPACK_DECODER_STREAM_ERROR", () => {
  assert.match(decoderFails("01").message, /Insert Count Increment/); // RFC 9204 B.3
  decoderFails("00"); // an increment of 0 is invalid too
  decoderFails("48", "3f 01");
});
