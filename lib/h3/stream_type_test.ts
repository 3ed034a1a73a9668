import { strict as assert } from "node:assert";
import { bytes } from "../../tests/support/h3_assert.ts";
import {
  decodeStreamType,
  encodeStreamType,
  STREAM_TYPE_CONTROL,
  STREAM_TYPE_PUSH,
  STREAM_TYPE_QPACK_DECODER,
  STREAM_TYPE_QPACK_ENCODER,
  streamKind,
} from "./stream_type.ts";
import { encodeVarintBig } from "./varint.ts";

Deno.test("stream type: codes match RFC 9114 §6.2 and RFC 9204 §4.2", () => {
  assert.equal(STREAM_TYPE_CONTROL, 0x00);
  assert.equal(STREAM_TYPE_PUSH, 0x01);
  assert.equal(STREAM_TYPE_QPACK_ENCODER, 0x02);
  assert.equal(STREAM_TYPE_QPACK_DECODER, 0x03);
});

Deno.test("stream type: known types decode at the byte level", () => {
  assert.deepEqual(decodeStreamType(bytes(0x00, 0x04), 0), {
    type: 0,
    kind: "control",
    headerSize: 1,
  });
  assert.deepEqual(decodeStreamType(bytes(0x01, 0x00), 0), {
    type: 1,
    kind: "push",
    headerSize: 1,
  });
  assert.deepEqual(decodeStreamType(bytes(0x02), 0), {
    type: 2,
    kind: "qpack_encoder",
    headerSize: 1,
  });
  assert.deepEqual(decodeStreamType(bytes(0x03), 0), {
    type: 3,
    kind: "qpack_decoder",
    headerSize: 1,
  });
  // Non-minimal encodings are valid too (RFC 9000 §16).
  assert.deepEqual(decodeStreamType(bytes(0x40, 0x00), 0), {
    type: 0,
    kind: "control",
    headerSize: 2,
  });
});

Deno.test("stream type: grease and unknown types", () => {
  for (const n of [0, 1, 2, 100, 2 ** 20]) {
    const type = 0x1f * n + 0x21;
    const wire = encodeStreamType(type);
    assert.deepEqual(decodeStreamType(wire, 0), { type, kind: "grease", headerSize: wire.length });
  }
  assert.equal(streamKind(0x04), "unknown");
  assert.equal(streamKind(0x54), "unknown"); // WebTransport, not supported here
  assert.equal(streamKind(0x22), "unknown");
  const huge = new Uint8Array(8);
  encodeVarintBig((1n << 62n) - 1n, huge, 0);
  const st = decodeStreamType(huge, 0)!;
  assert.equal(st.headerSize, 8);
  assert.ok(st.kind === "unknown" || st.kind === "grease");
});

Deno.test("stream type: encode at the byte level", () => {
  assert.deepEqual(encodeStreamType(STREAM_TYPE_CONTROL), bytes(0x00));
  assert.deepEqual(encodeStreamType(STREAM_TYPE_QPACK_DECODER), bytes(0x03));
  assert.deepEqual(encodeStreamType(0x21), bytes(0x21));
  assert.deepEqual(encodeStreamType(0x40), bytes(0x40, 0x40));
});

Deno.test("stream type: truncated input at every byte position is null", () => {
  for (const wire of [bytes(0x40, 0x40), bytes(0x80, 0, 0x10, 0x21), encodeStreamType(2 ** 40)]) {
    for (let cut = 0; cut < wire.length; cut++) {
      assert.equal(decodeStreamType(wire.subarray(0, cut), 0), null);
      assert.equal(decodeStreamType(wire, 0, cut), null);
    }
    assert.notEqual(decodeStreamType(wire, 0), null);
  }
  assert.equal(decodeStreamType(bytes(0x00), 1), null);
});

Deno.test("stream type: decodes at an offset", () => {
  assert.deepEqual(decodeStreamType(bytes(0xff, 0x40, 0x02, 0xff), 1), {
    type: 2,
    kind: "qpack_encoder",
    headerSize: 2,
  });
});
