/**
 * The cluster-wide API behind real NATs: with the nodes sharing one Redis, a connection that one
 * node owns (a gtlsclient that followed the preferred address from a network lab) is visible in
 * every node's `/api/connections` within {@link VISIBLE_WITHIN_MS}.
 *
 * Runs as root (CI does); without root it fails with one line.
 */

import { strict as assert } from "node:assert";
import { H3Client } from "../lib/h3/client.ts";
import { spawnInLab, startLabCluster } from "./support/cluster_lab.ts";
import { assertCanBuildLabs, labLeftovers } from "./support/netlab.ts";
import { startRedis } from "./support/redis.ts";

const NODES = 3;
/** How soon every node's API shows a connection its owner recorded. */
const VISIBLE_WITHIN_MS = 1000;

/** Whether node `ip:port`'s `/api/connections` (as admin) lists connection `id`. */
async function listedBy(addr: string, caPem: string, token: string, id: string) {
  const client = await H3Client.connect({
    hostname: addr.slice(0, addr.lastIndexOf(":")),
    port: Number(addr.slice(addr.lastIndexOf(":") + 1)),
    serverName: "localhost",
    caCerts: [caPem],
  });
  try {
    const res = await client.fetch("/api/connections", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200, addr);
    return (await res.text()).includes(id);
  } finally {
    client.close();
  }
}

Deno.test("cluster netlab: a connection one node owns is visible from every node's API within 1 s", async () => {
  assertCanBuildLabs();
  const redis = await startRedis();
  let slot: number | undefined;
  try {
    const cluster = await startLabCluster({ nodes: NODES, labs: 1, redisUrl: redis.url });
    slot = cluster.labs[0].topology.slot;
    try {
      const { code, stderrTail } = await spawnInLab(cluster.labs[0], [
        ...["gtlsclient", "-q", "--exit-on-all-streams-close", "--delay-stream=500ms"],
        ...["--timeout=5s", cluster.balancerIp, String(cluster.balancerPort)],
        `https://localhost:${cluster.balancerPort}/api/test`,
      ], 60_000).done;
      assert.equal(code, 0, stderrTail);
      const [{ node, conn }] = cluster.connections();
      assert.equal(conn.migration_events[0]?.kind, "preferred_address");
      const id = conn.connection_id;
      const seen = new Set<number>();
      const deadline = Date.now() + VISIBLE_WITHIN_MS;
      for (let round = 0; seen.size < NODES && Date.now() < deadline && round < 100; round++) {
        for (const [i, addr] of cluster.nodeAddrs.entries()) {
          const n = cluster.nodes[i];
          if (!seen.has(i) && await listedBy(addr, n.caPem, n.adminToken, id)) seen.add(i);
        }
      }
      assert.deepEqual([...seen].sort(), cluster.nodes.map((_, i) => i), `owner: node ${node}`);
    } finally {
      await cluster.stop();
    }
  } finally {
    await redis.stop();
  }
  assert.ok(slot !== undefined);
  assert.deepEqual(await labLeftovers(slot), [], "nothing of the lab remains");
});
