import { strict as assert } from "node:assert";
import { sendResponse } from "./response_writer.ts";
import { FrameReader } from "./frame_reader.ts";
import { decodeFieldSection } from "./qpack/mod.ts";
import { concat } from "../../tests/support/h3_assert.ts";

/** A writable that keeps what is written and whether it was closed or aborted. */
function recorder() {
  const chunks: Uint8Array[] = [];
  let ended: "closed" | "aborted" | undefined;
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk);
    },
    close() {
      ended = "closed";
    },
    abort() {
      ended = "aborted";
    },
  });
  return { writer: writable.getWriter(), chunks, ended: () => ended };
}

/** The response's fields and body, decoded from what was written. */
function decode(chunks: Uint8Array[]) {
  const frames = new FrameReader({ kind: "response", maxHeadersPayload: 65536 });
  frames.push(concat(...chunks));
  let fields: string[] = [];
  const body: Uint8Array[] = [];
  for (let event = frames.next(); event !== null; event = frames.next()) {
    if (event.type === "headers") fields = decodeFieldSection(event.payload, 65536);
    if (event.type === "data") body.push(event.payload.slice());
  }
  frames.end();
  return { fields, body: new TextDecoder().decode(concat(...body)) };
}

Deno.test("sendResponse: a small body with content-length goes out whole in one write", async () => {
  const out = recorder();
  const sent = await sendResponse(
    out.writer,
    new Response('{"a":1}', { headers: { "content-length": "7" } }),
    false,
  );
  assert.equal(sent, 7);
  assert.equal(out.chunks.length, 1, "HEADERS and DATA in a single write");
  assert.equal(out.ended(), "closed");
  const { fields, body } = decode(out.chunks);
  assert.deepEqual(fields.slice(0, 2), [":status", "200"]);
  assert.equal(body, '{"a":1}');
});

Deno.test("sendResponse: a body that breaks its content-length is not sent as if whole", async () => {
  const out = recorder();
  const sent = await sendResponse(
    out.writer,
    new Response("longer than declared", { headers: { "content-length": "3" } }),
    false,
  );
  assert.equal(sent, 0);
  assert.equal(out.ended(), "aborted");
  assert.equal(out.chunks.length, 0);
});

Deno.test("sendResponse: HEAD sends the fields, content-length included, and no body", async () => {
  const out = recorder();
  const sent = await sendResponse(
    out.writer,
    new Response("hello", { headers: { "content-length": "5" } }),
    true,
  );
  assert.equal(sent, 0);
  const { fields, body } = decode(out.chunks);
  assert.ok(fields.includes("content-length"));
  assert.equal(body, "");
});

Deno.test("sendResponse: a streamed body without a length is streamed, chunk by chunk", async () => {
  const out = recorder();
  const stream = ReadableStream.from(["a", "b", "c"].map((s) => new TextEncoder().encode(s)));
  const sent = await sendResponse(out.writer, new Response(stream), false);
  assert.equal(sent, 3);
  assert.equal(decode(out.chunks).body, "abc");
  assert.equal(out.ended(), "closed");
});

Deno.test("sendResponse: a streamed body is counted as it goes out, not when it ends", async () => {
  const out = recorder();
  const counter = { bytesOut: 100 }; // a connection's earlier responses
  let source!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => void (source = controller),
  });
  const more = (text: string) => source.enqueue(new TextEncoder().encode(text));
  const counted = async (bytes: number) => {
    for (let i = 0; i < 1000 && counter.bytesOut !== bytes; i++) await null;
    return counter.bytesOut;
  };
  const sending = sendResponse(out.writer, new Response(body), false, counter);
  more("12345");
  more("67");
  assert.equal(await counted(107), 107, "the first chunks, while the body is still open");
  more("890");
  assert.equal(await counted(110), 110);
  source.close();
  assert.equal(await sending, 10);
  assert.equal(counter.bytesOut, 110, "nothing counted twice at the end");
  assert.equal(decode(out.chunks).body, "1234567890");
  const small = { bytesOut: 0 };
  await sendResponse(recorder().writer, new Response("{}"), false, small);
  assert.equal(small.bytesOut, 2, "a whole body too");
});

Deno.test("sendResponse: a stream that fails mid-body cancels the body's source", async () => {
  let writes = 0;
  const failing = new WritableStream<Uint8Array>({
    write() {
      // The peer stops reading after the first chunks (STOP_SENDING, a closed connection).
      if (++writes > 2) throw new Error("stream stopped");
    },
  });
  let cancelled: unknown = "not cancelled";
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      pulls++;
      await new Promise((resolve) => setTimeout(resolve, 0)); // a live source: never ready at once
      controller.enqueue(new TextEncoder().encode(`chunk ${pulls}\n`));
    },
    cancel(reason) {
      cancelled = reason;
    },
  }, { highWaterMark: 0 });
  await sendResponse(failing.getWriter(), new Response(body), false);
  assert.notEqual(cancelled, "not cancelled", "the source learns the client is gone");
  assert.ok(pulls < 10, `it stopped being read (${pulls} pulls)`);
});
