import { strict as assert } from "node:assert";
import { isValidAuthority, requestUrl } from "./request_url.ts";

Deno.test("request URL: valid authorities (names, IPv4, IPv6 in brackets, ports) are kept", () => {
  for (
    const [authority, href] of [
      ["localhost", "https://localhost/api/test?x=1"],
      ["LocalHost:9443", "https://localhost:9443/api/test?x=1"],
      ["127.0.0.1:443", "https://127.0.0.1/api/test?x=1"],
      ["[::1]:8443", "https://[::1]:8443/api/test?x=1"],
      ["[2001:db8::1]", "https://[2001:db8::1]/api/test?x=1"],
      ["xn--bcher-kva.example", "https://xn--bcher-kva.example/api/test?x=1"],
      ["example.com:", "https://example.com/api/test?x=1"],
    ]
  ) {
    assert.ok(isValidAuthority(authority), authority);
    assert.deepEqual(requestUrl(authority, "/api/test?x=1"), { url: href }, authority);
  }
});

Deno.test("request URL: an authority that is not host[:port] is refused, never routed", () => {
  for (
    const authority of [
      "evil.com/x?",
      "evil.com/x",
      "evil.com?x",
      "evil.com#x",
      "user@evil.com",
      "evil.com:80:81",
      "a b",
      "evil.com\\x",
      "[::1",
      "::1",
      "[::1]x",
      "",
      "a".repeat(300),
      "evil.com:99999", // passes the grammar, refused by the URL parser
      "evil%2Fcom", // percent-encoded slash
      "[::g]",
    ]
  ) {
    const result = requestUrl(authority, "/api/test");
    assert.equal(result.url, undefined, JSON.stringify(authority));
    assert.match(result.error ?? "", /invalid authority/);
  }
});

Deno.test("request URL: the path stays a path; absolute-form targets carry their own authority", () => {
  assert.deepEqual(requestUrl("localhost", "//evil.com/x"), {
    url: "https://localhost//evil.com/x",
  });
  assert.deepEqual(requestUrl("localhost", "/@evil.com"), { url: "https://localhost/@evil.com" });
  assert.deepEqual(requestUrl("ignored", "https://example.com:8443/a?b"), {
    url: "https://example.com:8443/a?b",
  });
  assert.deepEqual(requestUrl("ignored", "http://example.com"), { url: "https://example.com/" });
  assert.match(requestUrl("localhost", "https://evil.com@x/").error ?? "", /invalid authority/);
  assert.match(requestUrl("localhost", "*").error ?? "", /not a path/);
  assert.match(requestUrl("localhost", "example.com:443").error ?? "", /not a path/);
});
