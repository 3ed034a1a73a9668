/**
 * Cluster mode behind real NATs: three nodes behind nginx on a network lab's internet segment,
 * and {@link CLIENTS} ngtcp2 clients (`gtlsclient`), each in a lab of its own (its own two NATs,
 * so its own public addresses, spread over the nodes by the balancer's hash), each uploading
 * {@link UPLOAD_BYTES} to `/api/echo` at {@link RATE} through one NAT rebinding and then one
 * network switch.
 *
 * - Clients that follow the preferred address leave the balancer right after the handshake:
 *   none is lost but to the stateless-reset race at the hand-off (few, each seen in its qlog),
 *   and each connection's node recorded exactly the hand-off (balancer's source IP → the wifi
 *   NAT's address), the rebinding (`port_change`) and the switch (`address_change` to the
 *   cellular NAT's address), and no other node recorded it at all.
 * - Clients told to ignore it stay behind the balancer: a rebinding keeps their IP, so the same
 *   node, and survives; a switch lands wherever the new IP hashes. The test finds that node with
 *   a probe from the new address and checks client by client that exactly the clients whose two
 *   addresses hash to different nodes were lost, that their node recorded them closed in an
 *   error and never a migration it did not see, and reports how many were lost.
 *
 * One lab per client: the balancer hashes on the client's public IP, and the clients of a lab
 * share its NATs' addresses. Runs as root (CI does); without root it fails with one line.
 */

import { strict as assert } from "node:assert";
import type { NetworkLab } from "../lib/netlab/lab.ts";
import type { ConnectionInfo } from "../lib/tracker/types.ts";
import { assertCanBuildLabs, labLeftovers } from "./support/netlab.ts";
import {
  assertFewFlaps,
  type LabCluster,
  type LabProcess,
  lostEchoes,
  performEverywhere,
  settled,
  spawnInLab,
  startLabCluster,
  waitUntil,
  writeRandomFile,
} from "./support/cluster_lab.ts";
import { endedByStatelessReset } from "./support/ngtcp2_qlog.ts";
import { hostOf } from "../lib/netlab/conntrack.ts";

/** How many clients (and labs): the scale of both tests. */
const CLIENTS = 30;
const NODES = 3;
/** Each client's upload; at {@link RATE} it lasts well past both events. */
const UPLOAD_BYTES = 3 * 1024 * 1024;
/** Every lab's uplink rate (tc tbf): it makes each upload span the events. */
const RATE = "1500kbit";
/**
 * The nodes' and clients' QUIC idle timeout: how soon a connection a switch cut off ends (on its
 * node, and in its client).
 */
const IDLE_TIMEOUT_MS = 5000;
/** Bound for each phase: every hand-off, every rebinding, every switch seen and settled. */
const PHASE_TIMEOUT_MS = 30_000;
/**
 * How long each client waits after the handshake before it sends its request: it narrows the
 * stateless-reset race at the hand-off (README, "Which clients leave the balancer"). Packets
 * sent through the balancer with the handshake's connection ID can reach the node after the
 * client retired that ID by the shorter way; the node's stateless reset then ends the client.
 */
const DELAY_STREAM = "500ms";
/** Bound for one client process. */
const CLIENT_TIMEOUT_MS = 120_000;

/** One client: its lab, and the connection it opened (found as it appeared on a node). */
interface Client {
  index: number;
  lab: NetworkLab;
  connectionId: string;
  downloadDir: string;
  done: Promise<{ code: number; stderrTail: string }>;
  /** Set once the client exited, if its qlog shows a stateless reset ended it. */
  endedByReset: boolean;
}

/**
 * Starts `argv` in `lab` and returns the id of the one connection that then appears on a node.
 * Clients start one after another: behind the balancer every connection comes from its source
 * IP, so the order of appearance is what ties a connection to its client.
 */
async function startAndFind(
  cluster: LabCluster,
  lab: NetworkLab,
  argv: string[],
): Promise<{ connectionId: string; done: LabProcess["done"] }> {
  const known = new Set(cluster.connections().map(({ conn }) => conn.connection_id));
  const fresh = () => cluster.connections().filter(({ conn }) => !known.has(conn.connection_id));
  const process = spawnInLab(lab, argv, CLIENT_TIMEOUT_MS);
  let exited: string | undefined;
  process.done.then((r) => exited = `exit ${r.code}: ${r.stderrTail.slice(-300)}`);
  await waitUntil(
    () => fresh().length > 0 || exited !== undefined,
    `a connection from slot ${lab.topology.slot}`,
    PHASE_TIMEOUT_MS,
  );
  const found = fresh();
  assert.equal(found.length, 1, `one new connection (${exited ?? "running"})`);
  return { connectionId: found[0].conn.connection_id, done: process.done };
}

/** Starts every client's upload, each in its own lab, one after another. */
async function startClients(
  cluster: LabCluster,
  dir: string,
  upload: string,
  extra: string[],
): Promise<Client[]> {
  const clients: Client[] = [];
  for (const [index, lab] of cluster.labs.entries()) {
    const downloadDir = `${dir}/download${index}`;
    await Deno.mkdir(downloadDir);
    const qlog = `${dir}/client${index}.qlog`;
    const { connectionId, done } = await startAndFind(cluster, lab, [
      ...["gtlsclient", ...extra, "-q", "--exit-on-all-streams-close", `--qlog-file=${qlog}`],
      ...[`--timeout=${IDLE_TIMEOUT_MS / 1000}s`, `--delay-stream=${DELAY_STREAM}`],
      ...["--download", downloadDir, "-m", "POST", "-d", upload],
      ...[cluster.balancerIp, String(cluster.balancerPort)],
      `https://localhost:${cluster.balancerPort}/api/echo`,
    ]);
    const client: Client = { index, lab, connectionId, downloadDir, done, endedByReset: false };
    done.then(() => endedByStatelessReset(qlog)).then((ended) => client.endedByReset = ended);
    clients.push(client);
  }
  return clients;
}

/** Every record of `c`'s connection, on any node (one, on the node that owns it). */
function recordsOf(cluster: LabCluster, c: Client) {
  return cluster.connections().filter(({ conn }) => conn.connection_id === c.connectionId);
}

/** `c`'s connection as its node recorded it. */
function connectionOf(cluster: LabCluster, c: Client): ConnectionInfo {
  const found = recordsOf(cluster, c);
  assert.equal(found.length, 1, `client ${c.index}: one connection, on one node`);
  return found[0].conn;
}

/** Waits until every client's connection has `n` settled events (or `alsoDone` says so). */
function waitForEvents(
  cluster: LabCluster,
  clients: Client[],
  n: number,
  what: string,
  alsoDone: (c: Client, conn: ConnectionInfo) => boolean = () => false,
): Promise<void> {
  const ok = (c: Client) => {
    const conn = connectionOf(cluster, c);
    return settled(conn, n) || alsoDone(c, conn);
  };
  return waitUntil(
    () => clients.every(ok),
    what,
    PHASE_TIMEOUT_MS,
    () =>
      clients.filter((c) => !ok(c)).map((c) =>
        `client ${c.index}: ${JSON.stringify(connectionOf(cluster, c).migration_events)}`
      ).join("; "),
  );
}

/** Runs a whole test: the cluster, the upload file, cleanup, and no lab left behind. */
async function withCluster(
  prefix: string,
  fn: (cluster: LabCluster, dir: string, upload: string) => Promise<void>,
): Promise<void> {
  assertCanBuildLabs();
  const dir = await Deno.makeTempDir({ prefix });
  let slots: number[] = [];
  try {
    const upload = `${dir}/upload.bin`;
    await writeRandomFile(upload, UPLOAD_BYTES);
    const cluster = await startLabCluster({
      nodes: NODES,
      labs: CLIENTS,
      rate: RATE,
      maxIdleTimeoutMs: IDLE_TIMEOUT_MS,
    });
    slots = cluster.labs.map((lab) => lab.topology.slot);
    try {
      await fn(cluster, dir, upload);
    } finally {
      await Promise.all(cluster.labs.map((lab) => lab.endClient(1000)));
      await cluster.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (const slot of slots) assert.deepEqual(await labLeftovers(slot), [], `slot ${slot} remains`);
}

/** How many connections each node holds, for the report. */
function spread(cluster: LabCluster, clients: Client[]): number[] {
  const counts = cluster.nodes.map(() => 0);
  for (const c of clients) counts[recordsOf(cluster, c)[0].node]++;
  return counts;
}

Deno.test(`cluster netlab: ${CLIENTS} clients that follow the preferred address survive a rebinding and a switch, each recorded once on its node`, async () => {
  await withCluster("cluster-netlab-", async (cluster, dir, upload) => {
    const clients = await startClients(cluster, dir, upload, []);
    // The stateless-reset race at the hand-off (see DELAY_STREAM) may end a client: its qlog
    // shows the reset, and when the reset beat its answer to the node's probe of its new path,
    // the node went back to the balancer's path once that validation timed out. Under load it
    // happens now and then: counted, reported, and held to what was recorded.
    const fellBack = (conn: ConnectionInfo) =>
      conn.migration_events.some((e, i) => i > 0 && hostOf(e.new_addr) === cluster.balancerIp);
    const ended = (c: Client, conn: ConnectionInfo) =>
      c.endedByReset ||
      (fellBack(conn) && conn.migration_events.every((e) => e.outcome !== "pending"));
    await waitForEvents(cluster, clients, 1, "every client's hand-off to its node");
    await performEverywhere(cluster, "rebind");
    await waitForEvents(cluster, clients, 2, "every client's rebinding", ended);
    await performEverywhere(cluster, "switch");
    await waitForEvents(cluster, clients, 3, "every client's switch", ended);
    const lost = await lostEchoes(clients, upload);
    const reset = clients.filter((c) => c.endedByReset);
    const followers = clients.filter((c) => !c.endedByReset);
    const fallbacks = clients.filter((c) => fellBack(connectionOf(cluster, c)));
    console.error(
      `cluster netlab (preferred address): ${lost.size} of ${clients.length} connections lost; ` +
        `${reset.length} client(s) ended by a stateless reset at the hand-off, ` +
        `${fallbacks.length} recorded going back to the balancer; connections per node: ` +
        spread(cluster, clients).join(", "),
    );
    assert.ok(reset.length <= clients.length / 5, `${reset.length} of ${clients.length} reset`);
    assert.deepEqual(
      fallbacks.filter((c) => !c.endedByReset).map((c) => c.index),
      [],
      "a client went back to the balancer only after a stateless reset ended it",
    );
    assert.deepEqual(
      followers.filter((c) => lost.has(c.index)).map((c) =>
        `client ${c.index}: ${lost.get(c.index)}`
      ),
      [],
      "0 connections lost among the clients no stateless reset ended",
    );
    for (const c of reset) {
      const [first] = connectionOf(cluster, c).migration_events;
      assert.equal(first?.kind, "preferred_address", `client ${c.index}: reset after its hand-off`);
    }

    // Every connection closed (normally, for those that stayed on their node's address).
    await waitUntil(
      () => clients.every((c) => connectionOf(cluster, c).state === "closed"),
      "every connection closed",
      PHASE_TIMEOUT_MS,
    );
    assert.equal(cluster.connections().length, clients.length, "nothing else on any node");
    // A NAT mapping that came back after a rebinding (see `assertFewFlaps`) leaves a `reverted`
    // event and the move again: what the client did is the events without the reverted ones.
    assertFewFlaps(followers.map((c) => ({ index: c.index, conn: connectionOf(cluster, c) })));
    for (const c of followers) {
      const [{ node, conn }] = recordsOf(cluster, c);
      const name = `client ${c.index}`;
      const { wifi, cellular } = c.lab.topology.uplinks;
      assert.equal(conn.local_addr, cluster.nodeAddrs[node], `${name}: served on its node`);
      assert.match(conn.close_reason ?? "", /^H3_NO_ERROR/, `${name}: closed normally`);
      const reverted = conn.migration_events.filter((e) => e.outcome === "reverted");
      const events = conn.migration_events.filter((e) => e.outcome !== "reverted");
      assert.deepEqual(
        events.map((e) => e.kind),
        ["preferred_address", "port_change", "address_change"],
        `${name}: ${JSON.stringify(conn.migration_events)}`,
      );
      for (const flap of reverted) {
        assert.equal(flap.kind, "port_change", `${name}: only the rebinding flaps`);
        assert.equal(hostOf(flap.new_addr), wifi.publicIp, `${name}: within the wifi NAT`);
      }
      const [handoff, rebind, change] = events;
      assert.equal(hostOf(handoff.old_addr), cluster.balancerIp, `${name}: from the balancer`);
      assert.equal(hostOf(handoff.new_addr), wifi.publicIp, `${name}: to the wifi NAT`);
      assert.equal(rebind.old_addr, handoff.new_addr, `${name}: the rebinding's old address`);
      assert.equal(hostOf(rebind.new_addr), wifi.publicIp, `${name}: rebinding keeps the IP`);
      assert.notEqual(rebind.new_addr, rebind.old_addr);
      assert.equal(change.old_addr, rebind.new_addr, `${name}: the switch's old address`);
      assert.equal(hostOf(change.new_addr), cellular.publicIp, `${name}: to the cellular NAT`);
      for (const event of [rebind, change]) {
        assert.equal(event.outcome, "validated", `${name}: ${JSON.stringify(event)}`);
      }
      assert.equal(
        conn.migration_count,
        2 + reverted.length,
        `${name}: the hand-off is no migration`,
      );
    }
  });
});

/**
 * The node a fresh connection from `lab`'s current uplink lands on behind the balancer: a short
 * request that ignores the preferred address.
 */
async function probeNode(cluster: LabCluster, lab: NetworkLab): Promise<number> {
  const { connectionId, done } = await startAndFind(cluster, lab, [
    ...["gtlsclient", "--no-preferred-addr", "-q", "--exit-on-all-streams-close"],
    ...["--timeout=3s", cluster.balancerIp, String(cluster.balancerPort)],
    `https://localhost:${cluster.balancerPort}/api/test`,
  ]);
  const { code, stderrTail } = await done;
  assert.equal(code, 0, `probe from slot ${lab.topology.slot}: ${stderrTail}`);
  return cluster.nodeOf(connectionId);
}

Deno.test(`cluster netlab: ${CLIENTS} clients that ignore the preferred address survive rebindings; a switch loses exactly those whose new IP hashes to another node`, async () => {
  await withCluster("cluster-netlab-nopref-", async (cluster, dir, upload) => {
    const clients = await startClients(cluster, dir, upload, ["--no-preferred-addr"]);
    const before = clients.map((c) => recordsOf(cluster, c)[0].node);
    await performEverywhere(cluster, "rebind");
    await waitForEvents(cluster, clients, 1, "every client's rebinding");
    // Settled on the new port: a `reverted` (see below) is settled too, but the move back to the
    // new port follows it, so the wait is for that, not for the first moment nothing is pending.
    await waitUntil(
      () =>
        clients.every((c) => {
          const conn = connectionOf(cluster, c);
          const events = conn.migration_events;
          return events.every((e) => e.outcome !== "pending") &&
            (conn.state === "closed" || events.at(-1)?.outcome === "validated");
        }),
      "every rebinding settled on the new port",
      PHASE_TIMEOUT_MS,
    );
    // The rebinding kept each client's IP, so its node: seen there as a new port of the
    // balancer's flow, and the connection went on. Now and then the server sees the old flow's
    // port once more within the window (its cause is not yet known; the balancer keeps both flows
    // open): recorded as `reverted`, then the move again. The test accepts that, and requires each
    // connection to end on its new port.
    const eventsAfterRebind: number[] = [];
    let reverted = 0;
    for (const c of clients) {
      const conn = connectionOf(cluster, c);
      const events = conn.migration_events;
      eventsAfterRebind[c.index] = events.length;
      const why = `closed: ${conn.close_reason}; events: ${JSON.stringify(events)}`;
      assert.equal(conn.state, "open", `client ${c.index} survived its rebinding (${why})`);
      for (const event of events) {
        const text = `client ${c.index}: ${JSON.stringify(event)}`;
        assert.equal(event.kind, "port_change", text);
        assert.equal(hostOf(event.old_addr), cluster.balancerIp, text);
        assert.equal(hostOf(event.new_addr), cluster.balancerIp, text);
        assert.ok(event.outcome === "validated" || event.outcome === "reverted", text);
        if (event.outcome === "reverted") reverted++;
      }
      assert.equal(events.at(-1)!.outcome, "validated", `client ${c.index} ends on its new port`);
    }
    await performEverywhere(cluster, "switch");
    // Each connection either moved on its node or was cut off and ends by idle timeout.
    await waitForEvents(
      cluster,
      clients,
      2,
      "every switch seen or its connection closed",
      (_, conn) => conn.state === "closed",
    );
    const lost = await lostEchoes(clients, upload);
    await waitUntil(
      () => clients.every((c) => connectionOf(cluster, c).state === "closed"),
      "every connection closed",
      PHASE_TIMEOUT_MS,
    );

    // Where each client's new (cellular) address lands behind the balancer.
    const after: number[] = [];
    for (const c of clients) after.push(await probeNode(cluster, c.lab));
    const expected = clients.filter((c) => before[c.index] !== after[c.index]);
    console.error(
      `cluster netlab (no preferred address): ${lost.size} of ${clients.length} connections ` +
        `lost on a network switch (${expected.length} had their new IP hashed to another node); ` +
        `0 of ${clients.length} lost on a rebinding (${reverted} rebinding(s) saw a late packet ` +
        `of the old flow); connections per node: ` +
        spread(cluster, clients).join(", "),
    );
    for (const c of clients) {
      const name = `client ${c.index} (node ${before[c.index]} → ${after[c.index]})`;
      const conn = connectionOf(cluster, c);
      // What the node saw after the rebinding phase: the switch, or nothing.
      const kinds = conn.migration_events.slice(eventsAfterRebind[c.index]).map((e) => e.kind);
      if (before[c.index] === after[c.index]) {
        assert.ok(!lost.has(c.index), `${name} survived: ${lost.get(c.index)}`);
        assert.ok(kinds.length >= 1 && kinds.every((k) => k === "port_change"), name);
        assert.match(conn.close_reason ?? "", /^H3_NO_ERROR/, `${name}: closed normally`);
      } else {
        assert.ok(lost.has(c.index), `${name} was lost`);
        // Its node never saw the switch: nothing after the rebinding, then an ending in error.
        assert.deepEqual(kinds, [], name);
        assert.doesNotMatch(
          conn.close_reason ?? "",
          /^H3_NO_ERROR/,
          `${name}: ${conn.close_reason}`,
        );
      }
    }
    assert.equal(lost.size, expected.length);
    // Thirty labs whose two addresses all hash to the same node: practically impossible.
    assert.ok(lost.size > 0, "some switch landed on another node");
  });
});
