/** Shared fixtures for the frame reader tests. */
import { strict as assert } from "node:assert";
import { bytes, concat } from "./h3_assert.ts";
export { bytes, concat };
import { H3Error } from "../../lib/h3/errors.ts";
import { encodeFrame, FRAME_DATA, FRAME_HEADERS } from "../../lib/h3/frame.ts";
import {
  type FrameEvent,
  FrameReader,
  type FrameReaderOptions,
} from "../../lib/h3/frame_reader.ts";
import { encodeSettings } from "../../lib/h3/settings.ts";

export const REQ: FrameReaderOptions = { kind: "request", maxHeadersPayload: 1024 };
export const RESP: FrameReaderOptions = { kind: "response", maxHeadersPayload: 1024 };
export const CTRL: FrameReaderOptions = { kind: "control", maxHeadersPayload: 1024 };

export const seq = (n: number, from = 0) =>
  Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
export const headers = (n: number, from = 0) => encodeFrame(FRAME_HEADERS, seq(n, from));
export const data = (n: number, from = 0) => encodeFrame(FRAME_DATA, seq(n, from));
export const grease = (n: number) => encodeFrame(0x21, seq(n, 0x80));
/** A frame with an arbitrary type, as raw bytes so reserved types can be sent. */
export const raw = (type: number, n: number) => encodeFrame(type, seq(n));

/** Plain-data form of events, with consecutive data fragments joined. */
export type Norm = Record<string, unknown> & { type: string };

export interface Outcome {
  events: Norm[];
  code?: number;
  scope?: string;
}

/** Feeds `chunks`, draining after each, then ends the stream when `fin`. */
export function run(
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

export function add(events: Norm[], ev: FrameEvent): void {
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
export function* splits(wire: Uint8Array): Generator<Uint8Array[]> {
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
export function sameEverywhere(
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
export const control = (wire: Uint8Array, expected: Outcome, opts = CTRL) =>
  sameEverywhere(opts, wire, expected, false);
export const ok = (...events: Norm[]): Outcome => ({ events });
export const conn = (code: number, ...events: Norm[]): Outcome => ({
  events,
  code,
  scope: "connection",
});
export const strm = (code: number, ...events: Norm[]): Outcome => ({
  events,
  code,
  scope: "stream",
});

export const hdrEv = (n: number, from = 0, trailers = false): Norm => ({
  type: "headers",
  payload: [...seq(n, from)],
  trailers,
});
export const dataEv = (...parts: Uint8Array[]): Norm => ({
  type: "data",
  payload: [...concat(...parts)],
});

export const settingsFrame = encodeSettings([[0x6, 4096], [0x21, 5], [0x2a, 1]]);
export const settingsEv: Norm = {
  type: "settings",
  qpackMaxTableCapacity: 0,
  maxFieldSectionSize: 4096,
  qpackBlockedStreams: 0,
  unknown: [[0x2a, 1]],
};
