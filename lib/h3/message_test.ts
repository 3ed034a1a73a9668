import { strict as assert } from "node:assert";
import { H3_MESSAGE_ERROR, H3Error } from "./errors.ts";
import {
  buildRequest,
  parseRequestHead,
  parseResponseHead,
  parseTrailers,
  responseFields,
} from "./message.ts";
import { formatAddr } from "../addr.ts";

const GET = [
  ":method",
  "GET",
  ":scheme",
  "https",
  ":authority",
  "localhost:9443",
  ":path",
  "/a?b=1",
];

function assertMalformed(fields: string[], detail: RegExp) {
  assert.throws(() => parseRequestHead(fields), (e: unknown) => {
    assert.ok(e instanceof H3Error);
    assert.equal(e.code, H3_MESSAGE_ERROR);
    assert.equal(e.scope, "stream");
    assert.match(e.message, detail);
    return true;
  });
}

Deno.test("request head: a well-formed GET gives method, URL and headers", () => {
  const head = parseRequestHead([...GET, "accept", "*/*", "content-length", "0"]);
  assert.equal(head.method, "GET");
  assert.equal(head.url, "https://localhost:9443/a?b=1");
  assert.deepEqual(head.headers, [["accept", "*/*"], ["content-length", "0"]]);
  assert.equal(head.contentLength, 0);
});

Deno.test("request head: host stands in for a missing :authority (RFC 9114 §4.3.1)", () => {
  const head = parseRequestHead([
    ":method",
    "GET",
    ":scheme",
    "https",
    ":path",
    "/",
    "host",
    "h:1",
  ]);
  assert.equal(head.url, "https://h:1/");
});

Deno.test("request head: every malformation is H3_MESSAGE_ERROR (RFC 9114 §4.1.2, §4.2, §4.3.1)", () => {
  assertMalformed([":scheme", "https", ":authority", "a", ":path", "/"], /missing :method/);
  assertMalformed([":method", "GET", ":authority", "a", ":path", "/"], /missing :scheme/);
  assertMalformed([":method", "GET", ":scheme", "https", ":authority", "a"], /:path/);
  assertMalformed([...GET, ":method", "GET"], /after regular|repeated/);
  assertMalformed([":method", "GET", ...GET.slice(2), ":method", "POST"], /repeated :method/);
  assertMalformed([...GET, ":status", "200"], /pseudo-header/);
  assertMalformed([...GET.slice(0, 6), "x", "1", ":path", "/"], /after regular fields/);
  assertMalformed([...GET, "connection", "close"], /connection-specific/);
  assertMalformed([...GET, "transfer-encoding", "chunked"], /connection-specific/);
  assertMalformed([...GET, "te", "gzip"], /"te"/);
  assertMalformed([...GET, "x-bad", "a\r\nb"], /invalid value/);
  assertMalformed([...GET, "bad name", "x"], /invalid field name/);
  assertMalformed([...GET, "host", "other:1"], /:authority and host differ/);
  assertMalformed([":method", "GET", ":scheme", "https", ":path", "/"], /missing :authority/);
  assertMalformed([...GET, "content-length", "12", "content-length", "13"], /conflicting/);
  assertMalformed([...GET, "content-length", "-1"], /content-length/);
  assertMalformed([":method", "GET", ":scheme", "https", ":authority", "a", ":path", "x"], /:path/);
  assertMalformed([":method", "CONNECT", ":scheme", "https", ":authority", "a"], /CONNECT/);
});

Deno.test("response head: :status first and three digits", () => {
  const head = parseResponseHead([":status", "204", "x", "1"]);
  assert.equal(head.status, 204);
  assert.deepEqual(head.headers, [["x", "1"]]);
  assert.throws(() => parseResponseHead(["x", "1"]), /missing :status/);
  assert.throws(() => parseResponseHead([":status", "20"]), /invalid :status/);
  assert.throws(() => parseResponseHead(["x", "1", ":status", "200"]), /unexpected :status/);
});

Deno.test("trailers: no pseudo-headers", () => {
  assert.deepEqual(parseTrailers(["x-sum", "abc"]), [["x-sum", "abc"]]);
  assert.throws(() => parseTrailers([":status", "200"]), /pseudo-header/);
});

Deno.test("response fields: :status first, connection-specific fields dropped", () => {
  const headers = new Headers({ "content-type": "text/plain", connection: "close", "x-a": "1" });
  assert.deepEqual(responseFields(200, headers), [
    ":status",
    "200",
    "content-type",
    "text/plain",
    "x-a",
    "1",
  ]);
});

Deno.test("addresses: ip:port, IPv4-mapped IPv6 as IPv4, IPv6 in brackets", () => {
  assert.equal(formatAddr({ hostname: "127.0.0.1", port: 9443 }), "127.0.0.1:9443");
  assert.equal(formatAddr({ hostname: "::ffff:127.0.0.2", port: 1 }), "127.0.0.2:1");
  assert.equal(formatAddr({ hostname: "::1", port: 9443 }), "[::1]:9443");
  assert.equal(formatAddr({ hostname: "2001:db8::5", port: 80 }), "[2001:db8::5]:80");
});

Deno.test("request head: :scheme and :authority must be well formed; the URL parser has the last word", () => {
  const withTarget = (scheme: string, authority: string) => [
    ":method",
    "GET",
    ":scheme",
    scheme,
    ":authority",
    authority,
    ":path",
    "/",
  ];
  assertMalformed(withTarget("1x", "localhost"), /invalid :scheme/);
  assertMalformed(withTarget("", "localhost"), /invalid :scheme/);
  for (const bad of ["[", "a|b", "%", "a%zz", "a:99999x", "ab cd"]) {
    assertMalformed(withTarget("https", bad), /invalid :authority/);
  }
  for (const good of ["localhost:9443", "[::1]:9443", "127.0.0.1", "xn--bcher-kva.example"]) {
    assert.equal(parseRequestHead(withTarget("https", good)).authority, good);
  }
  // Passes the grammar, refused by the URL parser: still a malformed request, not a 500.
  const head = parseRequestHead(withTarget("https", "256.1.1.1"));
  assert.throws(() => buildRequest(head, null), (e: unknown) => {
    assert.ok(e instanceof H3Error);
    assert.equal(e.code, H3_MESSAGE_ERROR);
    return true;
  });
  assert.equal(buildRequest(parseRequestHead(GET), null).url, "https://localhost:9443/a?b=1");
});
