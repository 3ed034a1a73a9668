/**
 * Request bodies against the HTTP/3 server with no sockets (in-memory QUIC pair, fake clock):
 * a `content-length` that disagrees with the DATA received is a malformed request answered 400
 * (RFC 9114 §4.1.2), DATA after trailers a connection error (§4.1), a body that stops arriving
 * is answered 408 after `bodyTimeoutMs`, and a body left unread after a complete response is
 * no longer read. See `lib/h3/request_stream.ts` for how a body's failure reaches the client.
 */

import { strict as assert } from "node:assert";
import { errorName, H3_FRAME_UNEXPECTED, H3_MESSAGE_ERROR } from "../lib/h3/errors.ts";
import { encodeFrame, FRAME_DATA, frameHeader } from "../lib/h3/frame.ts";
import { DEFAULT_LIMITS } from "../lib/limits.ts";
import { headersFrame, type RequestOutcome } from "./support/raw_h3.ts";
import { settle } from "./support/fake_clock.ts";
import { H3Pair, within } from "./support/h3_pair.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const dataFrame = (s: string) => encodeFrame(FRAME_DATA, encode(s));

/**
 * "/echo" reads the whole body and sends it back; "/swallow" reads it, ignores a failure and
 * answers 200 anyway; "/stream" streams the body back as it comes; anything else ignores it.
 */
async function handler(request: Request): Promise<Response> {
  switch (new URL(request.url).pathname) {
    case "/echo":
      return new Response(await request.bytes());
    case "/swallow":
      await request.bytes().catch(() => {});
      return new Response("fine");
    case "/stream":
      return new Response(request.body);
    default:
      return new Response("ignored");
  }
}

/** A POST's header section for `path` with `content-length: length` (omitted when null). */
function post(h: H3Pair, path: string, length: number | null): Uint8Array {
  const fields = h.raw.requestFields(path, "POST");
  if (length !== null) fields.push("content-length", String(length));
  return headersFrame(fields);
}

/** Asserts a JSON error response with `status`, naming `error`, whose detail matches. */
function assertError(out: RequestOutcome, status: number, error: string, detail: RegExp): void {
  assert.equal(out.kind, "response", out.kind === "aborted" ? out.error : "");
  if (out.kind !== "response") return;
  assert.equal(out.status, status);
  assert.equal(out.headers.get("x-h3-error"), error);
  const body = JSON.parse(new TextDecoder().decode(out.body));
  assert.equal(body.error, error);
  assert.match(body.detail, detail);
}

/**
 * Sends a whole request and waits for the answer. Unlike `RawH3.request`, a FIN refused because
 * the server already stopped reading (as it does on a malformed body) does not hide the answer.
 */
async function send(h: H3Pair, chunks: Uint8Array[]): Promise<RequestOutcome> {
  const request = await h.raw.startRequest(chunks, false);
  await request.close().catch(() => {});
  return await within(request.response);
}

/** The connection still serves a good request. */
async function assertServes(h: H3Pair): Promise<void> {
  const out = await within(h.raw.request([headersFrame(h.raw.requestFields("/"))]));
  assert.equal(out.kind === "response" && out.status, 200, "the connection still serves");
}

Deno.test("content-length that matches the DATA received: the body is echoed", async () => {
  const h = await H3Pair.start(handler);
  try {
    const out = await within(
      h.raw.request([post(h, "/echo", 5), dataFrame("he"), dataFrame("llo")]),
    );
    assert.equal(out.kind === "response" && new TextDecoder().decode(out.body), "hello");
    assert.equal(h.h3.bytesIn, 5);
    assert.equal(h.errors.length, 0);
  } finally {
    await h.stop();
  }
});

for (
  const [name, path, length, body, detail] of [
    ["more DATA than content-length", "/echo", 3, "hello", /body longer than content-length/],
    ["less DATA than content-length", "/echo", 10, "hello", /body shorter than content-length/],
    ["a handler that swallows the failure", "/swallow", 10, "hello", /shorter than content-length/],
  ] as const
) {
  Deno.test(`§4.1.2: ${name} → 400 naming H3_MESSAGE_ERROR`, async () => {
    const h = await H3Pair.start(handler);
    try {
      const out = await send(h, [post(h, path, length), dataFrame(body)]);
      assertError(out, 400, errorName(H3_MESSAGE_ERROR), detail);
      assert.deepEqual(
        h.errors.map((e) => `${errorName(e.error.code)} ${e.where}`),
        ["H3_MESSAGE_ERROR stream"],
        "reported once, as a stream error",
      );
      await assertServes(h);
    } finally {
      await h.stop();
    }
  });
}

Deno.test("§4.1: DATA after trailers → connection error H3_FRAME_UNEXPECTED", async () => {
  const h = await H3Pair.start(handler);
  const trailers = headersFrame(["x-checksum", "1"]);
  const out = h.raw.request([post(h, "/echo", null), dataFrame("hi"), trailers, dataFrame("late")]);
  const info = await h.closed();
  assert.equal(errorName(info.closeCode), errorName(H3_FRAME_UNEXPECTED), info.reason);
  assert.match(info.reason, /DATA after trailers/);
  assert.equal((await within(out)).kind, "aborted", "no response on a connection error");
});

Deno.test("a body that fails after the response started: the stream is reset, the error reported", async () => {
  const h = await H3Pair.start(handler);
  try {
    const request = await h.raw.startRequest([post(h, "/stream", 4), dataFrame("ab")], false);
    await settle(); // the handler has answered and "ab" went back
    assert.equal(h.pair.streamEnds(0)?.[1].sent, "open", "the response is under way");
    await request.write(dataFrame("cde")); // 5 bytes where 4 were announced
    const out = await within(request.response);
    assert.equal(out.kind, "aborted", "the response cannot be completed");
    assert.equal(h.pair.streamEnds(0)?.[1].sent, "reset");
    assert.equal(h.errors[0]?.error.code, H3_MESSAGE_ERROR);
    await assertServes(h);
  } finally {
    await h.stop();
  }
});

Deno.test("body timeout: 2 of 1000000 bytes, then silence → 408 at exactly the default", async () => {
  const h = await H3Pair.start(handler);
  try {
    const start = [post(h, "/echo", 1_000_000), frameHeader(FRAME_DATA, 1_000_000), encode("ab")];
    const request = await h.raw.startRequest(start, false);
    let answered = false;
    request.response.finally(() => (answered = true));
    await h.clock.advance(DEFAULT_LIMITS.bodyTimeoutMs - 1);
    assert.ok(!answered, "no answer before the body timeout");
    await h.clock.advance(1);
    const detail = RegExp(`no request body bytes for ${DEFAULT_LIMITS.bodyTimeoutMs} ms`);
    assertError(await within(request.response), 408, "request_timeout", detail);
    assert.equal(h.pair.streamEnds(0)?.[0].stopped, true, "the stream's reading stopped");
    await assert.rejects(request.write(encode("more")), /STOP_SENDING/);
    assert.equal(h.errors.length, 0, "a slow body is no protocol error");
    await assertServes(h);
  } finally {
    await h.stop();
  }
});

Deno.test("body timeout: each arriving chunk restarts the wait (bodyTimeoutMs option)", async () => {
  const h = await H3Pair.start(handler, { server: { bodyTimeoutMs: 3_000 } });
  try {
    const request = await h.raw.startRequest(
      [post(h, "/echo", 3), frameHeader(FRAME_DATA, 3)],
      false,
    );
    for (const byte of ["x", "y"]) {
      await h.clock.advance(2_999);
      await request.write(encode(byte));
    }
    await h.clock.advance(2_999);
    await request.write(encode("z"));
    await request.close();
    const out = await within(request.response);
    assert.equal(out.kind === "response" && new TextDecoder().decode(out.body), "xyz");
    await h.clock.advance(3_000);
    assert.equal(h.clock.pendingTimers, 0, "no deadline left");
  } finally {
    await h.stop();
  }
});

Deno.test("a body the handler ignored is no longer read after the complete response", async () => {
  const h = await H3Pair.start(handler);
  try {
    const start = [post(h, "/", 1_000_000), frameHeader(FRAME_DATA, 1_000_000), encode("ab")];
    const request = await h.raw.startRequest(start, false);
    const out = await within(request.response);
    assert.equal(out.kind === "response" && out.status, 200);
    await settle();
    assert.equal(h.pair.streamEnds(0)?.[0].stopped, true, "reading stopped (STOP_SENDING)");
    assert.equal(h.errors.length, 0);
  } finally {
    await h.stop();
  }
});
