import { strict as assert } from "node:assert";
import { readJsonBody, refuseDeclaredOverLimit } from "./json_body.ts";
import { BadRequestError, BodyTooLargeError } from "./http_error.ts";

/** A body sent in `chunks` with no declared length; counts how many chunks were pulled. */
function streamed(chunks: Uint8Array[]): { request: Request; pulled: () => number } {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks.length) return controller.close();
      controller.enqueue(chunks[pulled++]);
    },
  }, { highWaterMark: 0 });
  const request = new Request("https://localhost/api", { method: "POST", body });
  return { request, pulled: () => pulled };
}

Deno.test("json body: a small body is parsed", async () => {
  const request = new Request("https://localhost/api", {
    method: "POST",
    body: '{"connection_id":"self"}',
  });
  assert.deepEqual(await readJsonBody(request, 64), { connection_id: "self" });
});

Deno.test("json body: a declared length over the limit is refused before anything is read", async () => {
  const { request, pulled } = streamed([new Uint8Array(10)]);
  request.headers.set("content-length", "65");
  assert.throws(() => refuseDeclaredOverLimit(request, 64), BodyTooLargeError);
  await assert.rejects(readJsonBody(request, 64), BodyTooLargeError);
  assert.equal(pulled(), 0, "no chunk was pulled");
});

Deno.test("json body: an undeclared body stops being read at the first chunk past the limit", async () => {
  const chunk = new TextEncoder().encode(" ".repeat(40));
  const { request, pulled } = streamed(Array.from({ length: 1000 }, () => chunk));
  await assert.rejects(readJsonBody(request, 100), (error: unknown) => {
    assert.ok(error instanceof BodyTooLargeError);
    assert.equal(error.status, 413);
    return true;
  });
  assert.equal(pulled(), 3, "40 + 40 + 40 bytes crosses 100: nothing after that is read");
});

Deno.test("json body: a body of exactly the limit is read; malformed JSON is a 400", async () => {
  const exact = new TextEncoder().encode(`"${"a".repeat(62)}"`);
  assert.equal(exact.length, 64);
  assert.equal(await readJsonBody(streamed([exact]).request, 64), "a".repeat(62));
  for (const bad of ["{", "", "\xff"]) {
    const bytes = bad === "\xff" ? new Uint8Array([0xff]) : new TextEncoder().encode(bad);
    await assert.rejects(readJsonBody(streamed([bytes]).request, 64), BadRequestError, bad);
  }
  const none = new Request("https://localhost/api", { method: "POST" });
  await assert.rejects(readJsonBody(none, 64), BadRequestError);
});
