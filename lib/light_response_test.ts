import { strict as assert } from "node:assert";
import { LightResponse } from "./light_response.ts";

Deno.test("light response: JSON with its length, fields as they will be sent", async () => {
  const res = LightResponse.json({ status: "ok" });
  assert.equal(res.status, 200);
  assert.deepEqual(res.fields, [
    ":status",
    "200",
    "content-type",
    "application/json",
    "content-length",
    "15",
  ]);
  res.setField("x-protocol", "h3");
  res.setField("content-type", "application/problem+json");
  assert.equal(res.hasField("x-protocol"), true);
  assert.equal(res.fields?.at(-1), "h3");
  assert.equal(res.fields?.[3], "application/problem+json", "a set replaces, it does not repeat");
  assert.deepEqual(await res.json(), { status: "ok" });
});

Deno.test("light response: once its Headers are handed out, they are the truth", async () => {
  const res = LightResponse.json({ a: 1 }, 201);
  res.headers.set("x-late", "1");
  assert.equal(res.fields, undefined, "no stale field list after Headers were touched");
  res.setField("x-later", "2");
  assert.equal(res.headers.get("x-late"), "1");
  assert.equal(res.headers.get("x-later"), "2");
  const real = res.toResponse();
  assert.equal(real.status, 201);
  assert.equal(real.headers.get("x-later"), "2");
  assert.equal(await res.text(), '{"a":1}');
  assert.equal(res.bodyUsed, true);
});

Deno.test("light response: reads like a Response for code that streams its body", async () => {
  const res = LightResponse.json([1, 2, 3]);
  assert.equal(res.ok, true);
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body!) chunks.push(chunk);
  assert.equal(new TextDecoder().decode(chunks[0]), "[1,2,3]");
});

Deno.test("light response: a text body's length and bytes are its UTF-8, short or long", () => {
  const encoder = new TextEncoder();
  for (const text of ["", '{"a":1}', "héllo", "😀x", "a".repeat(5000), "é".repeat(9000)]) {
    const res = LightResponse.jsonText(text);
    const bytes = encoder.encode(text);
    assert.equal(res.bodyLength, bytes.length, text.slice(0, 20));
    assert.deepEqual(res.bodyBytes, bytes);
    assert.deepEqual(res.fields?.slice(-2), ["content-length", String(bytes.length)]);
    // Short text stays text for the writer; long text is kept as the bytes it was measured by.
    assert.equal(res.bodyText, text.length * 3 <= 16 * 1024 ? text : undefined);
  }
});
