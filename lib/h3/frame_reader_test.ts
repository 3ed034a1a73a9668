import { strict as assert } from "node:assert";
import {
  bytes,
  concat,
  conn,
  CTRL,
  data,
  dataEv,
  grease,
  hdrEv,
  headers,
  ok,
  raw,
  REQ,
  RESP,
  run,
  sameEverywhere,
  seq,
  settingsFrame,
  splits,
  strm,
} from "../../tests/support/frame_reader_fixtures.ts";
import {
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_MESSAGE_ERROR,
  H3_REQUEST_INCOMPLETE,
  H3Error,
} from "./errors.ts";
import {
  encodeCancelPush,
  encodeGoaway,
  encodeMaxPushId,
  encodePushPromise,
  FRAME_HEADERS,
  frameHeader,
} from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { encodeSettings } from "./settings.ts";

Deno.test("reader: a full request gives identical events at every split", () => {
  const wire = concat(grease(3), headers(6), data(10, 50), grease(0), data(0), data(3, 90));
  const tail = concat(raw(0x1f * 100 + 0x21, 2), headers(4, 200), grease(2));
  const events = [hdrEv(6), dataEv(seq(10, 50), seq(3, 90)), hdrEv(4, 200, true)];
  sameEverywhere(REQ, concat(wire, tail), ok(...events));
});

Deno.test("reader: request without body or trailers, and with trailers only", () => {
  sameEverywhere(REQ, headers(3), ok(hdrEv(3)));
  sameEverywhere(REQ, concat(headers(3), headers(2, 9)), ok(hdrEv(3), hdrEv(2, 9, true)));
});

Deno.test("reader: a whole HEADERS frame in one chunk is a view, not a copy", () => {
  const chunk = concat(headers(20), data(30));
  const r = new FrameReader(REQ);
  r.push(chunk);
  const h = r.next()!;
  assert.ok(h.type === "headers");
  assert.equal(h.payload.buffer, chunk.buffer);
  assert.equal(h.payload.byteOffset, 2);
  assert.equal(h.payload.length, 20);
  const d = r.next()!;
  assert.ok(d.type === "data");
  assert.equal(d.payload.buffer, chunk.buffer);
  assert.equal(d.payload.byteOffset, 24);
  assert.equal(r.next(), null);
  assert.equal(r.bufferedBytes, 0);
  const exact = headers(20); // a frame that ends exactly at its chunk's end
  const r2 = new FrameReader(REQ);
  r2.push(exact);
  const h2 = r2.next()!;
  assert.ok(h2.type === "headers" && h2.payload.buffer === exact.buffer);
});

Deno.test("reader: a straddling HEADERS payload is copied into a buffer of exactly its size", () => {
  const wire = headers(300);
  const r = new FrameReader(REQ);
  r.push(wire.subarray(0, 100));
  assert.equal(r.next(), null);
  assert.equal(r.bufferedBytes, 97);
  r.push(wire.subarray(100));
  const h = r.next()!;
  assert.ok(h.type === "headers");
  assert.equal(h.payload.buffer.byteLength, 300);
  assert.deepEqual(h.payload, seq(300));
  assert.equal(r.bufferedBytes, 0);
});

Deno.test("reader: DATA is streamed as views of each chunk, never buffered", () => {
  const body = data(1000);
  const r = new FrameReader(REQ);
  r.push(headers(2));
  r.next();
  const got: Uint8Array[] = [];
  for (const c of [body.subarray(0, 10), body.subarray(10, 500), body.subarray(500)]) {
    r.push(c);
    for (let ev = r.next(); ev !== null; ev = r.next()) {
      assert.ok(ev.type === "data");
      assert.equal(ev.payload.buffer, body.buffer);
      got.push(ev.payload);
      assert.equal(r.bufferedBytes, 0);
    }
  }
  assert.deepEqual(got.map((g) => g.length), [7, 490, 503]); // 3-byte frame header
  assert.deepEqual(concat(...got), seq(1000));
  r.end();
});

Deno.test("reader: a 2^40-byte unknown frame is skipped without buffering", () => {
  for (const [opts, first] of [[REQ, headers(2)], [CTRL, settingsFrame]] as const) {
    const r = new FrameReader(opts);
    r.push(concat(first, frameHeader(0x21, 2 ** 40)));
    assert.notEqual(r.next(), null);
    const junk = new Uint8Array(1 << 20);
    for (let i = 0; i < 64; i++) {
      r.push(junk);
      assert.equal(r.next(), null);
      assert.equal(r.bufferedBytes, 0);
    }
  }
  const r = new FrameReader(REQ);
  r.push(concat(headers(2), frameHeader(0x21, 2 ** 40), new Uint8Array(100)));
  r.next();
  assert.equal(r.next(), null);
  assert.throws(() => r.end(), (e: unknown) => e instanceof H3Error && e.code === H3_FRAME_ERROR);
});

Deno.test("reader: a large unknown frame across many chunks, then more frames", () => {
  const r = new FrameReader(REQ);
  r.push(concat(headers(2), frameHeader(0x1f * 7 + 0x21, 3 << 20)));
  assert.equal(r.next()!.type, "headers");
  const junk = new Uint8Array(1 << 20);
  for (let i = 0; i < 3; i++) {
    r.push(junk);
    assert.equal(r.next(), null);
  }
  r.push(data(5));
  const ev = r.next()!;
  assert.ok(ev.type === "data");
  assert.deepEqual(ev.payload, seq(5));
  r.end();
});

Deno.test("reader: request stream frame-order errors (§4.1)", () => {
  const U = H3_FRAME_UNEXPECTED;
  sameEverywhere(REQ, data(3), conn(U));
  sameEverywhere(REQ, concat(grease(2), data(0)), conn(U));
  sameEverywhere(
    REQ,
    concat(headers(2), headers(2), data(1)),
    conn(U, hdrEv(2), hdrEv(2, 0, true)),
  );
  const wire = concat(headers(2), data(2), headers(2), headers(2));
  sameEverywhere(REQ, wire, conn(U, hdrEv(2), dataEv(seq(2)), hdrEv(2, 0, true)));
});

Deno.test("reader: control and push frames on a request stream are H3_FRAME_UNEXPECTED", () => {
  const frames = [encodeSettings([]), encodeGoaway(0), encodeMaxPushId(1), encodeCancelPush(1)];
  frames.push(encodePushPromise(0, seq(3)), raw(0x02, 1), raw(0x06, 8), raw(0x08, 4), raw(9, 0));
  for (const f of frames) {
    for (const opts of [REQ, RESP]) {
      sameEverywhere(opts, f, conn(H3_FRAME_UNEXPECTED));
      sameEverywhere(opts, concat(headers(2), f), conn(H3_FRAME_UNEXPECTED, hdrEv(2)));
    }
  }
});

Deno.test("reader: an oversized HEADERS is a stream error found from its frame header", () => {
  for (const opts of [REQ, RESP]) {
    // Only the frame header is sent: the payload is never waited for or buffered.
    for (const length of [1025, 1 << 20, Number.MAX_SAFE_INTEGER]) {
      sameEverywhere(opts, frameHeader(FRAME_HEADERS, length), strm(H3_EXCESSIVE_LOAD), false);
    }
    const small = { ...opts, maxHeadersPayload: 40 };
    sameEverywhere(small, headers(40), ok(hdrEv(40))); // the limit itself is fine
    sameEverywhere(small, frameHeader(FRAME_HEADERS, 41), strm(H3_EXCESSIVE_LOAD), false);
    // Trailers are held to the same limit.
    const wire = concat(headers(2), data(1), frameHeader(FRAME_HEADERS, 41));
    sameEverywhere(small, wire, strm(H3_EXCESSIVE_LOAD, hdrEv(2), dataEv(seq(1))), false);
  }
});

Deno.test("reader: an empty HEADERS frame is H3_FRAME_ERROR", () => {
  sameEverywhere(REQ, bytes(0x01, 0x00), conn(H3_FRAME_ERROR));
});

Deno.test("reader: FIN inside a frame is H3_FRAME_ERROR at every cut", () => {
  const wire = concat(headers(3), data(4), grease(3), headers(2, 7));
  const boundaries = new Set([5, 11, 16, 20]);
  for (let cut = 1; cut < wire.length; cut++) {
    if (boundaries.has(cut)) continue;
    for (const chunks of splits(wire.subarray(0, cut))) {
      const got = run(REQ, chunks);
      assert.equal(got.code, H3_FRAME_ERROR, `cut ${cut}`);
      assert.equal(got.scope, "connection");
    }
  }
  for (const cut of boundaries) assert.equal(run(REQ, [wire.subarray(0, cut)]).code, undefined);
});

Deno.test("reader: a request stream ending before HEADERS is H3_REQUEST_INCOMPLETE", () => {
  sameEverywhere(REQ, new Uint8Array(0), strm(H3_REQUEST_INCOMPLETE));
  sameEverywhere(REQ, grease(4), strm(H3_REQUEST_INCOMPLETE));
});

Deno.test("reader: responses with interim header sections (§4.1)", () => {
  const isInterim = (p: Uint8Array) => p[0] === 0xe0;
  const wire = concat(headers(3, 0xe0), grease(1), headers(2, 0xe0), headers(4, 0x10), data(5));
  const events = [hdrEv(3, 0xe0), hdrEv(2, 0xe0), hdrEv(4, 0x10), dataEv(seq(5))];
  const trailers = hdrEv(2, 0x30, true);
  sameEverywhere(RESP, concat(wire, headers(2, 0x30)), ok(...events, trailers), true, isInterim);
  // Without interimResponse(), a second HEADERS is the trailer section.
  const three = concat(headers(2), headers(2), headers(2));
  sameEverywhere(RESP, three, conn(H3_FRAME_UNEXPECTED, hdrEv(2), hdrEv(2, 0, true)));
  // An interim response has no content.
  const early = conn(H3_FRAME_UNEXPECTED, hdrEv(2, 0xe0));
  sameEverywhere(RESP, concat(headers(2, 0xe0), data(1)), early, true, isInterim);
  // A stream that ends after only interim responses, or with nothing, is malformed.
  const onlyInterim = strm(H3_MESSAGE_ERROR, hdrEv(2, 0xe0));
  sameEverywhere(RESP, headers(2, 0xe0), onlyInterim, true, isInterim);
  sameEverywhere(RESP, new Uint8Array(0), strm(H3_MESSAGE_ERROR));
});

Deno.test("reader: interimResponse() only right after a response header section", () => {
  const req = new FrameReader(REQ);
  req.push(headers(2));
  req.next();
  assert.throws(() => req.interimResponse(), (e: unknown) => !(e instanceof H3Error));
  const resp = new FrameReader(RESP);
  assert.throws(() => resp.interimResponse());
  resp.push(concat(headers(2), data(1)));
  resp.next();
  resp.next();
  assert.throws(() => resp.interimResponse());
});
