/**
 * Whole servers in cluster mode for API tests: a test Redis and two nodes in this process on
 * their own loopback addresses (127.0.0.2 and 127.0.0.3) sharing it, plus small helpers to read
 * JSON over HTTP/3 and to wait for a condition with a bound.
 * @module
 */

import { strict as assert } from "node:assert";
import type { H3Client } from "../../lib/h3/client.ts";
import type { ClusterStreamEntry } from "../../lib/cluster/cluster_record.ts";
import { startRedis, type TestRedis } from "./redis.ts";
import { startTestServer, type TestServer, type TestServerOptions } from "./server.ts";

/** Two cluster nodes on one Redis. */
export interface TwoNodes {
  redis: TestRedis;
  a: TestServer;
  b: TestServer;
}

/** Runs `fn` with a fresh Redis and nodes `node-a` and `node-b`; stops them all after. */
export async function withTwoNodes(
  fn: (nodes: TwoNodes) => Promise<void>,
  options: TestServerOptions = {},
): Promise<void> {
  const redis = await startRedis();
  const started: TestServer[] = [];
  try {
    for (const [hostname, nodeId] of [["127.0.0.2", "node-a"], ["127.0.0.3", "node-b"]]) {
      started.push(
        await startTestServer([], {
          ...options,
          hostname,
          cluster: { redisUrl: redis.url, nodeId },
        }),
      );
    }
    const [a, b] = started;
    assert.equal(a.cluster?.state, "ok", "node-a reached Redis");
    assert.equal(b.cluster?.state, "ok", "node-b reached Redis");
    await fn({ redis, a, b });
  } finally {
    await Promise.all(started.map((server) => server.stop()));
    await redis.stop();
  }
}

/** A parsed JSON answer; tests index into it freely (assertions check what they read). */
// deno-lint-ignore no-explicit-any
export type JsonBody = any;

/** GETs `path` on `client`; returns the status and the parsed JSON body. */
export async function getJson(
  client: H3Client,
  path: string,
): Promise<{ status: number; body: JsonBody }> {
  const res = await client.fetch(path);
  return { status: res.status, body: await res.json() };
}

/** The id the server gave `client`'s connection (from the `X-Connection-Id` header). */
export async function connectionIdOf(client: H3Client): Promise<string> {
  const res = await client.fetch("/api/test");
  await res.body?.cancel();
  const id = res.headers.get("x-connection-id");
  assert.ok(id !== null, "the answer names its connection");
  return id;
}

/**
 * Calls `probe` until it returns something other than undefined, at most `ms`; every round
 * awaits the probe (a network round trip) and then yields for `everyMs`.
 */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  ms: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (let round = 0; round < 100_000; round++) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Every entry in the cluster's stream after `after`, oldest first, read through `server`. */
export async function streamAfter(
  server: TestServer,
  after: string,
): Promise<ClusterStreamEntry[]> {
  const out: ClusterStreamEntry[] = [];
  let last = after;
  for (let page = 0; page < 1000; page++) {
    const entries = await server.cluster!.directory.eventsSince(last, 500);
    assert.ok(entries !== null, "the stream is whole");
    if (entries.length === 0) return out;
    out.push(...entries);
    last = entries[entries.length - 1].id;
  }
  throw new Error("the stream did not end");
}

/** Both nodes' writes flushed to Redis (each resolves whether it got everything there). */
export async function flushBoth({ a, b }: TwoNodes): Promise<void> {
  assert.ok(await a.cluster!.sink.flush(), "node-a's writes reached Redis");
  assert.ok(await b.cluster!.sink.flush(), "node-b's writes reached Redis");
}
