/**
 * Preferred address behind a real load balancer (nginx `stream`, UDP): each node advertises its
 * own bind address; ngtcp2's client connects to the balancer, then follows the preferred address
 * to its node. The node records that move once, as `preferred_address` from the balancer's
 * forwarding IP to the client's own address, and not as a migration. A client told to ignore the
 * preferred address stays behind the balancer, with nothing recorded. Clients that send their
 * requests at once after the handshake, many at a time, are handed off all the same: the node
 * answers their probes while it serves them.
 */

import { threeGetsThenIdle, threeSpacedGets } from "./support/ngtcp2.ts";
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startBalancer } from "./support/nginx.ts";
import { freePort } from "./support/free_port.ts";

const BALANCER_SOURCE = "127.0.0.9";
/** How many clients start at once in the concurrent hand-off test. */
const AT_ONCE = 8;
/**
 * How long each of those clients keeps its connection idle after its last answer: the hand-off
 * it starts at HANDSHAKE_DONE needs one round trip to the node, and this leaves a busy machine
 * ample room for it.
 */
const HOLD_IDLE_SECONDS = 2;

async function cluster(nodeIps: string[]) {
  const balancerPort = freePort();
  const balancer = `127.0.0.1:${balancerPort}`;
  const nodes: TestServer[] = [];
  for (const ip of nodeIps) {
    nodes.push(
      await startTestServer([], {
        hostname: ip,
        cluster: {
          advertisePreferredAddress: true,
          balancer,
          balancerSources: [BALANCER_SOURCE],
        },
      }),
    );
  }
  const lb = await startBalancer({
    listen: balancer,
    source: BALANCER_SOURCE,
    nodes: nodes.map((node, i) => `${nodeIps[i]}:${node.port}`),
  });
  return {
    balancerPort,
    nodes,
    async stop() {
      await lb.stop();
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}

function allConnections(nodes: TestServer[]) {
  return nodes.flatMap((node, index) =>
    [...node.tracker.openConnections(), ...node.tracker.closedConnections()].map((conn) => ({
      node: index,
      conn,
    }))
  );
}

Deno.test("cluster: a client that follows the preferred address is handed off once, to its node", async () => {
  const rig = await cluster(["127.0.0.2", "127.0.0.3"]);
  try {
    const run = await threeSpacedGets(rig.balancerPort);
    assert.equal(run.code, 0, run.text.slice(-500));
    assert.deepEqual(run.statuses, ["200", "200", "200"]);
    const seen = allConnections(rig.nodes);
    assert.equal(seen.length, 1, "one connection, on one node");
    const { conn } = seen[0];
    assert.equal(conn.events.length, 1, JSON.stringify(conn.events));
    const handoff = conn.events[0];
    assert.equal(handoff.kind, "preferred_address");
    assert.ok(handoff.old_addr.startsWith(`${BALANCER_SOURCE}:`), handoff.old_addr);
    assert.ok(handoff.new_addr.startsWith("127.0.0.1:"), handoff.new_addr);
    assert.equal(conn.migrationCount, 0, "the hand-off is no migration");
    assert.ok(conn.remoteAddr.startsWith("127.0.0.1:"), "served from the client's own address");
    assert.equal(conn.requestCount, 3);
  } finally {
    await rig.stop();
  }
});

Deno.test("cluster: a client that ignores the preferred address stays behind the balancer", async () => {
  const rig = await cluster(["127.0.0.2"]);
  try {
    const run = await threeSpacedGets(rig.balancerPort, ["--no-preferred-addr"]);
    assert.equal(run.code, 0, run.text.slice(-500));
    assert.deepEqual(run.statuses, ["200", "200", "200"]);
    const seen = allConnections(rig.nodes);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0].conn.events, [], "nothing moved, nothing recorded");
    assert.ok(seen[0].conn.remoteAddr.startsWith(`${BALANCER_SOURCE}:`));
    assert.equal(seen[0].conn.requestCount, 3);
  } finally {
    await rig.stop();
  }
});

Deno.test(`cluster: ${AT_ONCE} clients sending their requests at once after the handshake are all handed off`, async () => {
  const rig = await cluster(["127.0.0.2"]);
  try {
    const runs = await Promise.all(
      Array.from({ length: AT_ONCE }, () => threeGetsThenIdle(rig.balancerPort, HOLD_IDLE_SECONDS)),
    );
    for (const run of runs) {
      assert.equal(run.code, 0, run.text.slice(-500));
      assert.deepEqual(run.statuses, ["200", "200", "200"]);
    }
    const seen = allConnections(rig.nodes);
    assert.equal(seen.length, AT_ONCE, "one connection per client");
    const stayed = seen.filter(({ conn }) => conn.events.length === 0).length;
    assert.equal(stayed, 0, `${stayed} of ${AT_ONCE} clients stayed behind the balancer`);
    for (const { conn } of seen) {
      assert.equal(conn.events.length, 1, JSON.stringify(conn.events));
      const handoff = conn.events[0];
      assert.equal(handoff.kind, "preferred_address");
      assert.ok(handoff.old_addr.startsWith(`${BALANCER_SOURCE}:`), handoff.old_addr);
      assert.ok(handoff.new_addr.startsWith("127.0.0.1:"), handoff.new_addr);
      assert.equal(conn.requestCount, 3);
    }
  } finally {
    await rig.stop();
  }
});
