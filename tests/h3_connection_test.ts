/**
 * Connection-level tests of the HTTP/3 server (`lib/h3/server.ts`) with no sockets: the server
 * runs on one side of an in-memory QUIC pair, on a fake clock, and a raw HTTP/3 peer on the
 * other side misbehaves on purpose. Covers graceful shutdown (GOAWAY, RFC 9114 §5.2), the rules
 * of the peer's control stream (§6.2.1), the header section timeout, migration as the server
 * sees it, and how the connection's end is reported.
 */

import { strict as assert } from "node:assert";
import {
  errorName,
  H3_CLOSED_CRITICAL_STREAM,
  H3_ID_ERROR,
  H3_MISSING_SETTINGS,
  H3_NO_ERROR,
  H3_STREAM_CREATION_ERROR,
} from "../lib/h3/errors.ts";
import { encodeGoaway, encodeMaxPushId, FRAME_HEADERS, frameHeader } from "../lib/h3/frame.ts";
import type { FrameEvent } from "../lib/h3/frame_reader.ts";
import { STREAM_TYPE_CONTROL } from "../lib/h3/stream_type.ts";
import type { QuicCloseInfo } from "../lib/h3/transport.ts";
import { concat, headersFrame, type RequestOutcome, settingsFrame } from "./support/raw_h3.ts";
import { H3Pair, within } from "./support/h3_pair.ts";

const ok = () => new Response("ok");
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Asserts a response with `status` and returns its body as text. */
function assertResponse(out: RequestOutcome, status: number): string {
  assert.equal(out.kind, "response", out.kind === "aborted" ? out.error : "");
  if (out.kind !== "response") return "";
  assert.equal(out.status, status);
  return text(out.body);
}

/** Asserts that the connection ended with `code`, and that the server reported it. */
function assertClosedWith(h: H3Pair, info: QuicCloseInfo, code: number, reason: RegExp): void {
  assert.equal(errorName(info.closeCode), errorName(code), info.reason);
  assert.match(info.reason, reason);
  const reported = h.errors.find((e) => e.where === "connection");
  assert.equal(reported?.error.code, code, "the connection error was reported");
}

/** Tracks whether a promise has settled, to check that it has not (yet). */
function track<T>(promise: Promise<T>): { readonly settled: boolean } {
  const state = { settled: false };
  promise.finally(() => (state.settled = true)).catch(() => {});
  return state;
}

Deno.test("memory pair: a GET is served, and the handler sees the client's address move", async () => {
  const holder: { h?: H3Pair } = {};
  const h = holder.h = await H3Pair.start(() => {
    const addr = holder.h!.pair.server.remoteAddr;
    return new Response(`${addr.hostname}:${addr.port}`);
  });
  try {
    const get = () => within(h.raw.request([headersFrame(h.raw.requestFields("/addr"))]));
    assert.equal(assertResponse(await get(), 200), "192.0.2.1:50000");
    h.pair.migrate({ hostname: "198.18.0.7", port: 40000 });
    assert.equal(assertResponse(await get(), 200), "198.18.0.7:40000", "same connection, new path");
    assert.equal(h.h3.acceptedRequests, 2);
    const settings = await h.controlFrame((f) => f.type === "settings", "server SETTINGS");
    assert.equal(h.controlFrames[0], settings, "the server's control stream starts with SETTINGS");
  } finally {
    await h.stop();
  }
});

Deno.test("memory pair: an idle timeout ends the server's connection with code -1", async () => {
  const h = await H3Pair.start(ok);
  h.pair.idleTimeout();
  const info = await within(h.served, "serve() returns");
  assert.equal(info.closeCode, -1);
  assert.match(info.reason, /idle timeout/);
  await assert.rejects(h.pair.client.closed, /idle timeout/, "the client side's closed rejects");
});

Deno.test("§5.2 shutdown: GOAWAY names the first unserved stream; in-flight finishes; later refused", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const holding = new Promise<void>((resolve) => (entered = resolve));
  const h = await H3Pair.start(async (request) => {
    if (new URL(request.url).pathname !== "/hold") return ok();
    entered();
    await gate;
    return new Response("held");
  });
  try {
    // Stream 0 is served, stream 4 is in flight when the shutdown starts.
    assertResponse(await within(h.raw.request([headersFrame(h.raw.requestFields("/"))])), 200);
    const held = await h.raw.startRequest([headersFrame(h.raw.requestFields("/hold"))]);
    await within(holding, "the held request reaches its handler");
    const shutdown = h.h3.shutdown(10_000, 1000);
    const stopped = track(shutdown);

    const isGoaway = (f: FrameEvent) => f.type === "goaway";
    const goaway = await h.controlFrame(isGoaway, "GOAWAY");
    assert.deepEqual(goaway, { type: "goaway", id: 8 }, "streams 0 and 4 were accepted");

    // Stream 8, opened after GOAWAY, is refused: closed without a response, its reading stopped.
    const refused = await within(h.raw.request([headersFrame(h.raw.requestFields("/"))]));
    assert.equal(refused.kind, "aborted", "no response after GOAWAY");
    const ends = h.pair.streamEnds(8);
    assert.equal(ends?.[1].sent, "fin", "the server ended its side of stream 8");
    assert.equal(h.h3.acceptedRequests, 3);

    release();
    assert.equal(assertResponse(await within(held.response), 200), "held", "in-flight finishes");

    // Then the server lingers for the client to close, at most lingerMs, and closes itself.
    await h.clock.advance(999);
    assert.ok(!h.pair.isClosed && !stopped.settled, "still lingering before lingerMs");
    await h.clock.advance(1);
    await within(shutdown, "shutdown resolves");
    const info = await h.closed();
    assert.equal(errorName(info.closeCode), errorName(H3_NO_ERROR));
    assert.equal(info.reason, "server shutting down");
    assert.equal(h.errors.length, 0, "no protocol error on a graceful shutdown");
  } finally {
    await h.stop();
  }
});

Deno.test("§5.2 shutdown: a client that closes first ends the linger at once", async () => {
  const h = await H3Pair.start(ok);
  const shutdown = h.h3.shutdown(10_000, 5_000);
  await h.controlFrame((f) => f.type === "goaway", "GOAWAY");
  assert.deepEqual(h.controlFrames.at(-1), { type: "goaway", id: 0 }, "no request was served");
  h.pair.client.close({ closeCode: H3_NO_ERROR, reason: "bye" });
  await within(shutdown, "shutdown resolves without the clock moving");
  assert.equal((await within(h.served)).reason, "bye");
});

Deno.test("§6.2.1: a control stream that does not start with SETTINGS → H3_MISSING_SETTINGS", async () => {
  const h = await H3Pair.start(ok, { control: false });
  await h.raw.openControl(false, encodeGoaway(0));
  assertClosedWith(h, await h.closed(), H3_MISSING_SETTINGS, /starts with GOAWAY/);
  await within(h.served, "serve() returns");
});

Deno.test("§6.2.1: closing the control stream → H3_CLOSED_CRITICAL_STREAM", async () => {
  const h = await H3Pair.start(ok, { control: false });
  const control = await h.raw.openControl();
  assertResponse(await within(h.raw.request([headersFrame(h.raw.requestFields("/"))])), 200);
  assert.ok(!h.pair.isClosed, "open while the control stream is");
  await control.close();
  assertClosedWith(h, await h.closed(), H3_CLOSED_CRITICAL_STREAM, /closed its control stream/);
});

Deno.test("§6.2.1: a second control stream → H3_STREAM_CREATION_ERROR", async () => {
  const h = await H3Pair.start(ok);
  assertResponse(await within(h.raw.request([headersFrame(h.raw.requestFields("/"))])), 200);
  await h.raw.openUni(concat(Uint8Array.of(STREAM_TYPE_CONTROL), settingsFrame()));
  assertClosedWith(h, await h.closed(), H3_STREAM_CREATION_ERROR, /second control stream/);
});

Deno.test("§5.2: a client GOAWAY larger than an earlier one → H3_ID_ERROR", async () => {
  const h = await H3Pair.start(ok, { control: false });
  // Repeating or lowering the ID is allowed, and the connection still serves.
  const control = await h.raw.openControl(
    true,
    concat(encodeGoaway(8), encodeGoaway(8), encodeGoaway(4)),
  );
  assertResponse(await within(h.raw.request([headersFrame(h.raw.requestFields("/"))])), 200);
  await control.write(encodeGoaway(5));
  assertClosedWith(h, await h.closed(), H3_ID_ERROR, /GOAWAY ID 5 is larger than the earlier 4/);
});

Deno.test("§7.2.7: a MAX_PUSH_ID smaller than an earlier one → H3_ID_ERROR", async () => {
  const h = await H3Pair.start(ok, { control: false });
  const control = await h.raw.openControl(
    true,
    concat(encodeMaxPushId(3), encodeMaxPushId(3), encodeMaxPushId(10)),
  );
  assertResponse(await within(h.raw.request([headersFrame(h.raw.requestFields("/"))])), 200);
  await control.write(encodeMaxPushId(9));
  assertClosedWith(
    h,
    await h.closed(),
    H3_ID_ERROR,
    /MAX_PUSH_ID 9 is smaller than the earlier 10/,
  );
});

for (
  const [name, chunks] of [
    ["a request stream that sends nothing", () => []],
    // Slowloris: a HEADERS frame announcing 64 bytes, and only 3 of them.
    [
      "a header section that stops half way",
      () => [frameHeader(FRAME_HEADERS, 64), Uint8Array.of(0, 0, 0xd1)],
    ],
  ] as const
) {
  Deno.test(`header timeout: ${name} gets 408 at exactly headerTimeoutMs`, async () => {
    const h = await H3Pair.start(ok, { server: { headerTimeoutMs: 5_000 } });
    try {
      const request = await h.raw.startRequest([...chunks()], false);
      const answered = track(request.response);
      await h.clock.advance(4_999);
      assert.ok(!answered.settled, "no answer before the deadline");
      await h.clock.advance(1);
      const out = await within(request.response, "408");
      assertResponse(out, 408);
      assert.equal(out.kind === "response" && out.headers.get("x-h3-error"), "request_timeout");
      assert.equal(h.pair.streamEnds(0)?.[0].stopped, true, "the stream's reading stopped");
      await assert.rejects(request.write(Uint8Array.of(0)), /STOP_SENDING/);
      // The connection lives on.
      assertResponse(await within(h.raw.request([headersFrame(h.raw.requestFields("/"))])), 200);
      // The good request's deadline timer stays armed (removing a deadline costs no timer
      // call); once it fires and finds nothing registered, the sweep stops.
      await h.clock.advance(5_000);
      assert.equal(h.clock.pendingTimers, 0, "no deadline timer left armed");
    } finally {
      await h.stop();
    }
  });
}
