import { strict as assert } from "node:assert";
import { Hono } from "hono";
import { securityHeaders } from "./security_headers.ts";
import type { AppEnv } from "../connection_env.ts";
import { API_CONTENT_SECURITY_POLICY } from "../http_error.ts";

const PAGE_POLICY = "default-src 'self'";

function rig(options = {}) {
  return new Hono<AppEnv>()
    .use(securityHeaders(options))
    .get("/json", (c) => c.json({ ok: true }))
    .get("/page", (c) => c.html("<p>hi</p>", 200, { "content-security-policy": PAGE_POLICY }))
    .get("/fetched", () => Response.redirect("https://example.invalid/", 302))
    .get("/throws", () => {
      throw new Error("boom");
    })
    .onError(() => new Response("failed", { status: 500 })); // a plain answer, no headers of its own
}

Deno.test("security headers: every response gets nosniff and the API's policy", async () => {
  const app = rig();
  for (const path of ["/json", "/missing", "/throws"]) {
    const res = await app.request(path);
    await res.body?.cancel();
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(res.headers.get("content-security-policy"), API_CONTENT_SECURITY_POLICY, path);
  }
  assert.match(API_CONTENT_SECURITY_POLICY, /default-src 'none'/);
  assert.match(API_CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/);
});

Deno.test("security headers: a page's own policy is kept", async () => {
  const res = await rig().request("/page");
  assert.equal(res.headers.get("content-security-policy"), PAGE_POLICY);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(await res.text(), "<p>hi</p>", "the body is untouched");
});

Deno.test("security headers: immutable response headers fall back to a copy", async () => {
  const res = await rig().request("/fetched");
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("content-security-policy"), API_CONTENT_SECURITY_POLICY);
});

Deno.test("security headers: the policy is configurable", async () => {
  const res = await rig({ contentSecurityPolicy: "sandbox" }).request("/json");
  assert.equal(res.headers.get("content-security-policy"), "sandbox");
});
