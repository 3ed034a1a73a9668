import { strict as assert } from "node:assert";
import { Hono } from "hono";
import { isSameOrigin, sameOriginOnly } from "./same_origin.ts";
import type { AppEnv } from "../connection_env.ts";

const app = new Hono<AppEnv>()
  .use(sameOriginOnly())
  .get("/r", (c) => c.text("read"))
  .post("/w", (c) => c.text("written"));

const send = (method: string, path: string, headers: Record<string, string> = {}) =>
  app.request(`https://localhost:9443${path}`, { method, headers });

Deno.test("same origin: reads pass whatever their origin", async () => {
  assert.equal((await send("GET", "/r", { origin: "https://evil.example" })).status, 200);
});

Deno.test("same origin: writes pass without Origin (curl) or from this origin", async () => {
  assert.equal((await send("POST", "/w")).status, 200);
  assert.equal((await send("POST", "/w", { origin: "https://localhost:9443" })).status, 200);
});

Deno.test("same origin: writes from another origin, Origin null, or cross-site are 403", async () => {
  const foreign: Record<string, string>[] = [
    { origin: "https://evil.example" },
    { origin: "https://localhost:9444" },
    { origin: "http://localhost:9443" },
    { origin: "null" },
    { "sec-fetch-site": "cross-site" },
  ];
  for (const headers of foreign) {
    const res = await send("POST", "/w", headers);
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.equal((await res.json()).error, "cross_origin");
  }
});

Deno.test("isSameOrigin: scheme, host and port must all match; junk is foreign", () => {
  assert.equal(isSameOrigin("https://a:1", "https://a:1/x"), true);
  assert.equal(isSameOrigin("https://a:2", "https://a:1/x"), false);
  assert.equal(isSameOrigin("not a url", "https://a:1/x"), false);
});
