import { strict as assert } from "node:assert";
import { Hono } from "hono";
import { rateLimitPerConnection } from "./rate_limit.ts";
import type { AppEnv } from "../connection_env.ts";

Deno.test("rate limit: a burst of N per second, then 429, refilled as time passes", async () => {
  let now = 0;
  const limited: string[] = [];
  const app = new Hono<AppEnv>()
    .use(
      "/m",
      rateLimitPerConnection({
        perSecond: 3,
        onLimited: (route) => limited.push(route),
        now: () => now,
      }),
    )
    .post("/m", (c) => c.text("ok"));
  const env = { connection: {}, remoteAddr: () => "127.0.0.1:1" };
  const other = { connection: {}, remoteAddr: () => "127.0.0.1:2" };
  const post = async (e = env) =>
    (await app.request("/m", { method: "POST" }, e as unknown as AppEnv["Bindings"])).status;
  assert.deepEqual([await post(), await post(), await post(), await post()], [200, 200, 200, 429]);
  assert.equal(await post(other), 200, "buckets are per connection");
  now += 340; // one token back at 3 per second (333 ms)
  assert.deepEqual([await post(), await post()], [200, 429]);
  now += 10_000;
  assert.deepEqual([await post(), await post(), await post(), await post()], [200, 200, 200, 429]);
  assert.equal(limited.length, 3);
});
