import { strict as assert } from "node:assert";
import {
  H3_CLOSED_CRITICAL_STREAM,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_MESSAGE_ERROR,
  H3_MISSING_SETTINGS,
  H3_REQUEST_INCOMPLETE,
  H3_SETTINGS_ERROR,
  H3Error,
} from "./errors.ts";
import {
  encodeCancelPush,
  encodeFrame,
  encodeGoaway,
  encodeMaxPushId,
  encodePushPromise,
  FRAME_DATA,
  FRAME_HEADERS,
  FRAME_SETTINGS,
  frameHeader,
} from "./frame.ts";
import { type FrameEvent, FrameReader, type FrameReaderOptions } from "./frame_reader.ts";
import { encodeSettings } from "./settings.ts";

const REQ: FrameReaderOptions = { kind: "request", maxHeadersPayload: 1024 };
const RESP: FrameReaderOptions = { kind: "response", maxHeadersPayload: 1024 };
const CTRL: FrameReaderOptions = { kind: "control", maxHeadersPayload: 1024 };

function bytes(...b: number[]): Uint8Array {
  return Uint8Array.from(b);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const seq = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
const headers = (n: number, from = 0) => encodeFrame(FRAME_HEADERS, seq(n, from));
const data = (n: number, from = 0) => encodeFrame(FRAME_DATA, seq(n, from));
const grease = (n: number) => encodeFrame(0x21, seq(n, 0x80));
/** A frame with an arbitrary type, as raw bytes so reserved types can be sent. */
const raw = (type: number, n: number) => encodeFrame(type, seq(n));

/** Plain-data form of events, with consecutive data fragments joined. */
type Norm = Record<string, unknown> & { type: string };

interface Outcome {
  events: Norm[];
  code?: number;
  scope?: string;
}

/** Feeds `chunks`, draining after each, then ends the stream when `fin`. */
function run(
  opts: FrameReaderOptions,
  chunks: Uint8Array[],
  fin = true,
  interim?: (payload: Uint8Array) => boolean,
): Outcome {
  const r = new FrameReader(opts);
  const events: Norm[] = [];
  try {
    for (const c of chunks) {
      r.push(c);
      for (let ev = r.next(); ev !== null; ev = r.next()) {
        add(events, ev);
        if (ev.type === "headers" && interim?.(ev.payload)) r.interimResponse();
      }
    }
    if (fin) r.end();
  } catch (e) {
    if (!(e instanceof H3Error)) throw e;
    return { events, code: e.code, scope: e.scope };
  }
  return { events };
}

function add(events: Norm[], ev: FrameEvent): void {
  if (ev.type === "data") {
    assert.ok(ev.payload.length > 0, "empty data event");
    const last = events.at(-1);
    if (last?.type === "data") last.payload = [...(last.payload as number[]), ...ev.payload];
    else events.push({ type: "data", payload: [...ev.payload] });
  } else if (ev.type === "headers") {
    events.push({ type: "headers", payload: [...ev.payload], trailers: ev.trailers });
  } else if (ev.type === "settings") {
    events.push({ type: "settings", ...ev.settings, unknown: [...ev.settings.unknown] });
  } else {
    events.push({ ...ev });
  }
}

/** Every one-cut and (for short input) two-cut split of `wire`, plus whole and byte by byte. */
function* splits(wire: Uint8Array): Generator<Uint8Array[]> {
  yield [wire];
  yield [...wire].map((b) => Uint8Array.of(b));
  for (let i = 0; i <= wire.length; i++) yield [wire.subarray(0, i), wire.subarray(i)];
  if (wire.length > 200) return;
  for (let i = 1; i < wire.length; i++) {
    for (let j = i + 1; j < wire.length; j++) {
      yield [wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)];
    }
  }
}

/** Asserts that every split of `wire` gives `expected`. */
function sameEverywhere(
  opts: FrameReaderOptions,
  wire: Uint8Array,
  expected: Outcome,
  fin = true,
  interim?: (payload: Uint8Array) => boolean,
): void {
  for (const chunks of splits(wire)) {
    const got = run(opts, chunks, fin, interim);
    assert.deepEqual(got, expected, `split ${chunks.map((c) => c.length).join("+")}`);
  }
}

/** Control streams never end cleanly: check them without FIN. */
const control = (wire: Uint8Array, expected: Outcome, opts = CTRL) =>
  sameEverywhere(opts, wire, expected, false);
const ok = (...events: Norm[]): Outcome => ({ events });
const conn = (code: number, ...events: Norm[]): Outcome => ({ events, code, scope: "connection" });
const strm = (code: number, ...events: Norm[]): Outcome => ({ events, code, scope: "stream" });

const hdrEv = (n: number, from = 0, trailers = false): Norm => ({
  type: "headers",
  payload: [...seq(n, from)],
  trailers,
});
const dataEv = (...parts: Uint8Array[]): Norm => ({ type: "data", payload: [...concat(...parts)] });

const settingsFrame = encodeSettings([[0x6, 4096], [0x21, 5], [0x2a, 1]]);
const settingsEv: Norm = {
  type: "settings",
  qpackMaxTableCapacity: 0,
  maxFieldSectionSize: 4096,
  qpackBlockedStreams: 0,
  unknown: [[0x2a, 1]],
};

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

Deno.test("reader: a control stream gives identical events at every split", () => {
  const wire = concat(settingsFrame, grease(3), encodeGoaway(2 ** 20), encodeMaxPushId(7));
  const tail = concat(raw(0x1f * 3 + 0x21, 0), encodeCancelPush(70000), encodeGoaway(4));
  control(
    concat(wire, tail),
    ok(
      settingsEv,
      { type: "goaway", id: 2 ** 20 },
      { type: "max_push_id", id: 7 },
      { type: "cancel_push", id: 70000 },
      { type: "goaway", id: 4 },
    ),
  );
});

Deno.test("reader: an empty SETTINGS frame gives default settings", () => {
  const defaults = { ...settingsEv, maxFieldSectionSize: Infinity, unknown: [] };
  control(encodeSettings([]), ok(defaults));
});

Deno.test("reader: a control stream must start with SETTINGS (§6.2.1)", () => {
  for (const first of [encodeGoaway(0), grease(2), data(1), headers(2), raw(0x02, 0)]) {
    control(concat(first, settingsFrame), conn(H3_MISSING_SETTINGS));
  }
});

Deno.test("reader: control stream frame errors", () => {
  const unexpected = conn(H3_FRAME_UNEXPECTED, settingsEv);
  const bad = [settingsFrame, data(1), headers(1), encodePushPromise(0, seq(2)), raw(0x02, 0)];
  for (const f of [...bad, raw(0x06, 3), raw(0x08, 1), raw(0x09, 2)]) {
    control(concat(settingsFrame, f), unexpected);
  }
  const client: FrameReaderOptions = { ...CTRL, role: "client" };
  control(concat(settingsFrame, encodeMaxPushId(1)), unexpected, client);
  control(
    concat(settingsFrame, encodeGoaway(8)),
    ok(settingsEv, { type: "goaway", id: 8 }),
    client,
  );
});

Deno.test("reader: malformed control frame payloads are connection errors", () => {
  const frameError = conn(H3_FRAME_ERROR, settingsEv);
  for (const type of [0x03, 0x07, 0x0d]) {
    control(concat(settingsFrame, raw(type, 0)), frameError);
    control(concat(settingsFrame, encodeFrame(type, bytes(1, 2))), frameError);
    control(concat(settingsFrame, encodeFrame(type, bytes(0x40))), frameError);
    // Too long to be one varint: refused from the header alone.
    control(concat(settingsFrame, frameHeader(type, 9)), frameError);
  }
  control(encodeFrame(FRAME_SETTINGS, bytes(0x03, 0x00)), conn(H3_SETTINGS_ERROR));
  control(encodeFrame(FRAME_SETTINGS, bytes(0x06, 0x40)), conn(H3_FRAME_ERROR));
});

Deno.test("reader: an oversized SETTINGS is H3_EXCESSIVE_LOAD from its header", () => {
  control(frameHeader(FRAME_SETTINGS, 16385), conn(H3_EXCESSIVE_LOAD));
  const small: FrameReaderOptions = { ...CTRL, maxControlPayload: 8 };
  control(frameHeader(FRAME_SETTINGS, 9), conn(H3_EXCESSIVE_LOAD), small);
  const fits = { ...settingsEv, maxFieldSectionSize: 2 ** 29, qpackBlockedStreams: 1, unknown: [] };
  control(encodeSettings([[0x6, 2 ** 29], [0x7, 1]]), ok(fits), small);
});

Deno.test("reader: a control stream's FIN is always H3_CLOSED_CRITICAL_STREAM", () => {
  const closed = H3_CLOSED_CRITICAL_STREAM;
  sameEverywhere(CTRL, new Uint8Array(0), conn(closed));
  sameEverywhere(CTRL, settingsFrame, conn(closed, settingsEv));
  sameEverywhere(CTRL, concat(settingsFrame, bytes(0x07)), conn(closed, settingsEv));
});

Deno.test("reader: errors are sticky and misuse is not an H3Error", () => {
  const r = new FrameReader(REQ);
  r.push(data(1));
  let first: unknown;
  try {
    r.next();
  } catch (e) {
    first = e;
  }
  assert.ok(first instanceof H3Error);
  assert.throws(() => r.next(), (e: unknown) => e === first);
  assert.throws(() => r.end(), (e: unknown) => e === first);
  const unread = new FrameReader(REQ);
  unread.push(headers(2));
  assert.throws(() => unread.end(), (e: unknown) => !(e instanceof H3Error));
  const ended = new FrameReader(REQ);
  ended.push(headers(2));
  ended.next();
  ended.end();
  assert.throws(() => ended.push(bytes(0)), (e: unknown) => !(e instanceof H3Error));
});
