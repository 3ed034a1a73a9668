/**
 * Cluster test helpers: nodes (a tracker and its Redis-shared state) on a test Redis, waiting for
 * a node's Redis state, reading a follower's next entries and the whole stream, each bounded.
 * @module
 */

import { strict as assert } from "node:assert";
import { ClusterState, type ClusterStateOptions } from "../../lib/cluster/cluster_state.ts";
import type { ClusterStreamEntry } from "../../lib/cluster/cluster_record.ts";
import type { RedisState } from "../../lib/cluster/redis_sink.ts";
import type { StreamReset } from "../../lib/cluster/stream_follower.ts";
import { withTimeout } from "../../lib/timeout.ts";
import { ConnectionTracker, type TrackerOptions } from "../../lib/tracker/tracker.ts";
import { startRedis, type TestRedis } from "./redis.ts";

/** A node: its tracker, its cluster state, and the warning lines it logged. */
export interface TestNode {
  tracker: ConnectionTracker;
  cluster: ClusterState;
  warnings: string[];
}

/** Starts node `name` on `redis` and asserts it reached Redis. */
export async function startNode(
  redis: TestRedis,
  name: string,
  options: Partial<ClusterStateOptions> & { tracker?: TrackerOptions } = {},
): Promise<TestNode> {
  const tracker = new ConnectionTracker(options.tracker);
  const warnings: string[] = [];
  const cluster = new ClusterState(tracker, {
    redisUrl: redis.url,
    warn: (line) => warnings.push(line),
    ...options,
    follower: { blockMs: 200, retryMs: 50, ...options.follower },
    sink: { retryMs: 50, ...options.sink },
  });
  const state = await cluster.start(name);
  assert.equal(state, "ok", `node ${name} reached Redis`);
  return { tracker, cluster, warnings };
}

/** Runs `fn` with a fresh Redis, and closes the nodes it registers and the Redis after. */
export async function withRedis(
  fn: (redis: TestRedis, nodes: TestNode[]) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const nodes: TestNode[] = [];
  try {
    await fn(redis, nodes);
  } finally {
    await Promise.all(nodes.map((n) => n.cluster.close(500)));
    await redis.stop();
  }
}

/** Resolves when `cluster` reports `state` (at once if it already does), within `ms`. */
export function stateReached(cluster: ClusterState, state: RedisState, ms: number): Promise<void> {
  if (cluster.state === state) return Promise.resolve();
  let unsubscribe = () => {};
  return withTimeout(
    new Promise<void>((resolve) => {
      unsubscribe = cluster.sink.onStateChange((s) => s === state && resolve());
    }),
    ms,
    `state ${state}`,
  ).finally(() => unsubscribe());
}

/** The next `n` items a follower yields, within `ms`. */
export async function take(
  iterator: AsyncGenerator<ClusterStreamEntry | StreamReset>,
  n: number,
  ms: number,
): Promise<(ClusterStreamEntry | StreamReset)[]> {
  const out: (ClusterStreamEntry | StreamReset)[] = [];
  for (let i = 0; i < n; i++) {
    const next = await withTimeout(iterator.next(), ms, `entry ${i + 1} of ${n}`);
    assert.ok(!next.done, "the follower ended early");
    out.push(next.value);
  }
  return out;
}

/** Every entry in the stream, oldest first. */
export async function allEntries(cluster: ClusterState): Promise<ClusterStreamEntry[]> {
  const out: ClusterStreamEntry[] = [];
  let last = "0-0";
  for (let page = 0; page < 1000; page++) {
    const entries = await cluster.directory.eventsSince(last, 500);
    assert.ok(entries !== null, "the stream is whole");
    if (entries.length === 0) return out;
    out.push(...entries);
    last = entries[entries.length - 1].id;
  }
  throw new Error("the stream did not end");
}
