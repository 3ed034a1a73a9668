/**
 * The HTTP/1.1 request-head parser and chunked decoder: what they accept, what they refuse (each
 * refusal is a way two parsers could disagree on where a message ends), and where they stop.
 */

import { strict as assert } from "node:assert";
import { type HeadParse, type LastHead, parseHead } from "./h1_head.ts";
import { ChunkedDecoder, ChunkedError } from "./h1_chunked.ts";
import { answerBytes, responseHead } from "./h1_answer.ts";

const encoder = new TextEncoder();

function parse(text: string, max = 8192): HeadParse {
  const bytes = encoder.encode(text);
  return parseHead(bytes, 0, bytes.length, max);
}

function head(text: string) {
  const parsed = parse(text);
  if (parsed.kind !== "head") throw new Error(`expected a head, got ${JSON.stringify(parsed)}`);
  return parsed;
}

Deno.test("h1 head: a GET with fields, its size, lowercase names and defaults", () => {
  const text = "GET /api/test?x=1 HTTP/1.1\r\nHost: localhost:9443\r\nX-Thing:  a b \r\n\r\n";
  const { head: h, size } = head(text + "NEXT");
  assert.equal(size, text.length);
  assert.equal(h.method, "GET");
  assert.equal(h.target, "/api/test?x=1");
  assert.equal(h.host, "localhost:9443");
  assert.deepEqual(h.fields, [["host", "localhost:9443"], ["x-thing", "a b"]]);
  assert.equal(h.contentLength, -1);
  assert.equal(h.chunked, false);
  assert.equal(h.keepAlive, true);
  assert.equal(h.expectContinue, false);
});

Deno.test("h1 head: keep-alive follows the version and Connection; 100-continue is seen", () => {
  assert.equal(head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").head.keepAlive, false);
  assert.equal(head("GET / HTTP/1.0\r\n\r\n").head.keepAlive, false);
  assert.equal(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keepAlive, true);
  const post = head("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").head;
  assert.equal(post.expectContinue, true);
  assert.equal(post.otherExpectation, undefined);
  const odd = head("POST / HTTP/1.1\r\nExpect: Something\r\n\r\n").head;
  assert.equal(odd.otherExpectation, "something");
  assert.equal(odd.expectContinue, false);
  assert.equal(post.contentLength, 5);
  assert.equal(head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").head.chunked, true);
});

Deno.test("h1 head: incomplete until the blank line; leading empty lines are skipped", () => {
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\n").kind, "incomplete");
  const text = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  const { head: h, size } = head(text);
  assert.equal(h.method, "GET");
  assert.equal(size, text.length);
});

Deno.test("h1 head: 431 past the size limit, complete or not", () => {
  const big = `GET / HTTP/1.1\r\nX: ${"a".repeat(200)}\r\n\r\n`;
  assert.equal((parse(big, 100) as { status?: number }).status, 431);
  assert.equal((parse(big.slice(0, 150), 100) as { status?: number }).status, 431);
  assert.equal(parse(big, 300).kind, "head");
});

Deno.test("h1 head: malformed or ambiguous heads get 400", () => {
  const refused = [
    "NOT HTTP AT ALL\r\n\r\n",
    "GET / HTTP/2.0\r\n\r\n",
    "GET  / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
  ];
  for (const text of refused) {
    const parsed = parse(text);
    assert.equal(parsed.kind, "error", JSON.stringify(text));
    assert.equal((parsed as { status: number }).status, 400, JSON.stringify(text));
  }
  // The same Content-Length twice is one length.
  assert.equal(
    head("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").head
      .contentLength,
    5,
  );
});

Deno.test("h1 head: a head the same as the last is reused; a different one is parsed", () => {
  const last: { value?: LastHead } = {};
  const one = encoder.encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  const two = encoder.encode("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  const first = parseHead(one, 0, one.length, 8192, last);
  const again = parseHead(one.slice(), 0, one.length, 8192, last);
  assert.ok(first.kind === "head" && again.kind === "head");
  assert.equal(again.head, first.head, "the same object");
  assert.equal(again.size, one.length);
  const other = parseHead(two, 0, two.length, 8192, last);
  assert.ok(other.kind === "head");
  assert.equal(other.head.target, "/b");
  assert.notEqual(other.head, first.head);
  // A head of another length, or a refused one, is never taken for the last.
  const bad = encoder.encode("GET /b HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n");
  assert.equal(parseHead(bad, 0, bad.length, 8192, last).kind, "error");
  const big = parseHead(two, 0, two.length, 10, last);
  assert.equal(big.kind, "error", "the size limit holds for a repeated head");
});

Deno.test("h1 head: field bytes are Latin-1, 0x80–0x9F included", () => {
  const prefix = encoder.encode("GET / HTTP/1.1\r\nX: ");
  const bytes = new Uint8Array([...prefix, 0x80, 0xe9, 0x0d, 0x0a, 0x0d, 0x0a]);
  const parsed = parseHead(bytes, 0, bytes.length, 8192);
  assert.equal(parsed.kind, "head");
  if (parsed.kind === "head") assert.equal(parsed.head.fields[0][1], "\u0080\u00e9");
});

/** Feeds `text` to a decoder in pieces of `step` bytes; returns the body and the bytes used. */
function dechunk(text: string, step: number): { body: string; used: number; done: boolean } {
  const bytes = encoder.encode(text);
  const decoder = new ChunkedDecoder(1024);
  let body = "";
  let used = 0;
  let end = 0;
  for (let i = 0; i < bytes.length + 1 && !decoder.done; i++) {
    end = Math.min(bytes.length, end + step);
    const result = decoder.decode(bytes, used, end);
    used += result.used;
    for (const part of result.data) body += new TextDecoder().decode(part);
  }
  return { body, used, done: decoder.done };
}

Deno.test("h1 chunked: decodes whole or a byte at a time, skips extensions and trailers", () => {
  const text = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (const step of [1, 3, text.length]) {
    const out = dechunk(text + "GET", step);
    assert.equal(out.body, "hello, world", `step ${step}`);
    assert.equal(out.used, text.length, `step ${step}: stops at the body's end`);
    assert.ok(out.done);
  }
  assert.equal(dechunk("A\r\n0123456789\r\n0\r\n\r\n", 4).body, "0123456789");
});

Deno.test("h1 chunked: malformed codings and oversized trailers are errors", () => {
  for (const text of ["x\r\n", "5\r\nhelloX\r\n", "5\r\nhel\rlo\r\n", "1234567890abc\r\n"]) {
    assert.throws(() => dechunk(text, text.length), ChunkedError, JSON.stringify(text));
  }
  assert.throws(() => dechunk(`0\r\nX: ${"a".repeat(2000)}\r\n\r\n`, 64), ChunkedError);
});

Deno.test("h1 answer: status line, our fields first, the app's own connection fields dropped", () => {
  const text = responseHead(200, [
    "content-type",
    "text/plain",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "gzip",
    "set-cookie",
    "a=1",
    "set-cookie",
    "b=2",
  ], { altSvc: 'h3=":9443"', close: true, chunked: true });
  assert.match(text, /^HTTP\/1\.1 200 OK\r\nalt-svc: h3=":9443"\r\ndate: [^\r]+ GMT\r\n/);
  assert.match(text, /\r\ncontent-type: text\/plain\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n/);
  assert.ok(text.endsWith("transfer-encoding: chunked\r\nconnection: close\r\n\r\n"));
  assert.equal(text.match(/connection:/g)?.length, 1);
  assert.equal(text.match(/transfer-encoding:/g)?.length, 1);
  const own = responseHead(204, ["alt-svc", "clear"], {
    altSvc: "x",
    close: false,
    chunked: false,
  });
  assert.match(own, /^HTTP\/1\.1 204 No Content\r\nalt-svc: clear\r\n/);
});

Deno.test("h1 answer: heads go out as Latin-1 bytes, body after", () => {
  const ascii = answerBytes("ab", new Uint8Array([1, 2]));
  assert.deepEqual([...ascii], [0x61, 0x62, 1, 2]);
  const latin1 = answerBytes("x: caf\u00e9\r\n");
  assert.deepEqual([...latin1.subarray(3, 7)], [0x63, 0x61, 0x66, 0xe9]);
  assert.equal(latin1.length, 9);
  // With a body, the head still goes out as Latin-1 (its UTF-8 form would fit the body's room).
  const withBody = answerBytes("x: caf\u00e9\r\n", new Uint8Array([7]));
  assert.deepEqual([...withBody.subarray(3)], [0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a, 7]);
});
