import { strict as assert } from "node:assert";
import {
  bytes,
  concat,
  conn,
  control,
  CTRL,
  data,
  grease,
  headers,
  ok,
  raw,
  REQ,
  sameEverywhere,
  seq,
  settingsEv,
  settingsFrame,
} from "../../tests/support/frame_reader_fixtures.ts";
import {
  H3_CLOSED_CRITICAL_STREAM,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_ID_ERROR,
  H3_MISSING_SETTINGS,
  H3_SETTINGS_ERROR,
  H3Error,
} from "./errors.ts";
import {
  encodeCancelPush,
  encodeFrame,
  encodeGoaway,
  encodeMaxPushId,
  encodePushPromise,
  FRAME_SETTINGS,
  frameHeader,
} from "./frame.ts";
import { FrameReader, type FrameReaderOptions } from "./frame_reader.ts";
import { encodeSettings } from "./settings.ts";

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

Deno.test("reader: GOAWAY may repeat or shrink, never grow (§5.2)", () => {
  const shrinking = concat(settingsFrame, encodeGoaway(8), encodeGoaway(8), encodeGoaway(4));
  const goaways = [8, 8, 4].map((id) => ({ type: "goaway", id }));
  control(shrinking, ok(settingsEv, ...goaways));
  control(
    concat(settingsFrame, encodeGoaway(4), encodeGoaway(5)),
    conn(H3_ID_ERROR, settingsEv, { type: "goaway", id: 4 }),
  );
  // A server's GOAWAY names a client-initiated bidirectional stream; a client's, any push ID.
  const client: FrameReaderOptions = { ...CTRL, role: "client" };
  for (const id of [1, 2, 3, 6]) {
    control(concat(settingsFrame, encodeGoaway(id)), conn(H3_ID_ERROR, settingsEv), client);
    control(concat(settingsFrame, encodeGoaway(id)), ok(settingsEv, { type: "goaway", id }));
  }
});

Deno.test("reader: MAX_PUSH_ID may repeat or grow, never shrink (§7.2.7)", () => {
  const growing = concat(settingsFrame, encodeMaxPushId(0), encodeMaxPushId(0), encodeMaxPushId(9));
  const ids = [0, 0, 9].map((id) => ({ type: "max_push_id", id }));
  control(growing, ok(settingsEv, ...ids));
  control(
    concat(settingsFrame, encodeMaxPushId(9), encodeMaxPushId(8)),
    conn(H3_ID_ERROR, settingsEv, { type: "max_push_id", id: 9 }),
  );
});
