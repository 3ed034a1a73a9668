import { strict as assert } from "node:assert";
import { RequestHeadCache } from "./request_head_cache.ts";
import { parseRequestHead } from "./message.ts";
import { decodeFieldSection, encodeFieldSection } from "./qpack/mod.ts";

const MAX = 16 * 1024;
const section = (path: string, extra: string[] = []) =>
  encodeFieldSection([
    ":method",
    "GET",
    ":scheme",
    "https",
    ":authority",
    "localhost:9443",
    ":path",
    path,
    ...extra,
  ]);

/** A decoder that counts its calls. */
function countingDecoder() {
  const calls = { n: 0 };
  const decode = (block: Uint8Array) => {
    calls.n++;
    return parseRequestHead(decodeFieldSection(block, MAX));
  };
  return { calls, decode };
}

Deno.test("request head cache: the same bytes again give the same head without decoding", () => {
  const cache = new RequestHeadCache();
  const { calls, decode } = countingDecoder();
  const first = cache.headFor(section("/api/test"), decode);
  const second = cache.headFor(section("/api/test"), decode);
  assert.equal(calls.n, 1);
  assert.equal(second, first);
  assert.equal(second.url, "https://localhost:9443/api/test");
  assert.equal(cache.hits, 1);
});

Deno.test("request head cache: different bytes are decoded, and become the kept ones", () => {
  const cache = new RequestHeadCache();
  const { calls, decode } = countingDecoder();
  cache.headFor(section("/a"), decode);
  assert.equal(cache.headFor(section("/b"), decode).path, "/b");
  assert.equal(cache.headFor(section("/b"), decode).path, "/b");
  assert.equal(cache.headFor(section("/a"), decode).path, "/a");
  assert.equal(calls.n, 3);
});

Deno.test("request head cache: the kept bytes are a copy, so a reused read buffer cannot match", () => {
  const cache = new RequestHeadCache();
  const { calls, decode } = countingDecoder();
  const buffer = new Uint8Array(256);
  const a = section("/a");
  buffer.set(a);
  cache.headFor(buffer.subarray(0, a.length), decode);
  const b = section("/b"); // the same length as /a, other bytes
  assert.equal(b.length, a.length);
  buffer.set(b);
  assert.equal(cache.headFor(buffer.subarray(0, b.length), decode).path, "/b");
  assert.equal(calls.n, 2);
});

Deno.test("request head cache: a section that fails is never kept and fails every time", () => {
  const cache = new RequestHeadCache();
  const { calls, decode } = countingDecoder();
  const bad = section("/x", ["connection", "close"]); // connection-specific: malformed
  assert.throws(() => cache.headFor(bad, decode), /connection-specific/);
  assert.throws(() => cache.headFor(bad, decode), /connection-specific/);
  assert.equal(calls.n, 2);
  assert.equal(cache.hits, 0);
});

Deno.test("request head cache: a long section is decoded every time", () => {
  const cache = new RequestHeadCache();
  const { calls, decode } = countingDecoder();
  const long = section("/long", ["x-filler", "v".repeat(600)]);
  cache.headFor(long, decode);
  cache.headFor(long, decode);
  assert.equal(calls.n, 2);
});
