/**
 * Test helper: a cluster (nginx in front of in-process nodes) on a network lab's internet
 * segment, and clients each in a lab of its own behind real NATs.
 *
 * The first lab is built with `nodes + 1` server addresses: the balancer binds the first (and
 * forwards from it, `proxy_bind`), node _i_ binds address _i + 1_ and advertises it as its
 * preferred address. Every lab's routers only know their own segment, so the other labs' routers
 * get a route to the cluster's segment through the root namespace's address on their own
 * segment: the root namespace owns the cluster's addresses and delivers locally, and the nodes'
 * answers go back to each NAT's public address over that NAT's own segment. Those routes live in
 * the labs' namespaces and vanish with them.
 *
 * All nodes share one data directory, so they share one development certificate (a browser pins
 * one key for the whole cluster).
 *
 * ```ts
 * const cluster = await startLabCluster({ nodes: 3, labs: 4, rate: "3mbit" });
 * try {
 *   const client = spawnInLab(cluster.labs[1], ["gtlsclient", cluster.balancerIp, "…"]);
 *   await client.done;
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 * @module
 */

import { strict as assert } from "node:assert";
import { NetworkLab } from "../../lib/netlab/lab.ts";
import { mustRun } from "../../lib/netlab/system.ts";
import { inClientNamespace, UPLINKS } from "../../lib/netlab/topology.ts";
import { ensureDevCertificates } from "../../lib/certs.ts";
import type { ConnectionInfo } from "../../lib/tracker/types.ts";
import { startBalancer } from "./nginx.ts";
import { freePort } from "./free_port.ts";
import { sha256Stream, startTestServer, type TestServer } from "./server.ts";

/** How the cluster and its labs are built. */
export interface LabClusterOptions {
  /** How many nodes behind the balancer. */
  nodes: number;
  /** How many labs (each with its own two NATs); the first also holds the cluster's addresses. */
  labs: number;
  /** `tc tbf` rate of every lab's uplinks (one client's upload per lab). */
  rate?: string;
  /** The nodes' QUIC idle timeout: how long a connection nobody answers any more stays open. */
  maxIdleTimeoutMs?: number;
  /** A Redis the nodes share their records in (cluster mode's shared state); none by default. */
  redisUrl?: string;
  /** How many labs are built at once (each is a few dozen `ip` commands). */
  buildConcurrency?: number;
}

/** A running cluster with its labs. */
export interface LabCluster {
  /** The balancer's IP: its listening address and the source it forwards from. */
  readonly balancerIp: string;
  readonly balancerPort: number;
  /** The nodes, in the balancer's order. */
  readonly nodes: TestServer[];
  /** Each node's `ip:port` (bind and preferred address). */
  readonly nodeAddrs: string[];
  readonly labs: NetworkLab[];
  /** The index of the node that holds connection `id`, or -1. */
  nodeOf(id: string): number;
  /** Every connection every node recorded (open and closed), with the node's index. */
  connections(): Array<{ node: number; conn: ConnectionInfo }>;
  /** Stops nginx, the nodes and every lab, and removes the shared data directory. */
  stop(): Promise<void>;
}

/** Builds the labs, starts the nodes on the first lab's segment and nginx in front of them. */
export async function startLabCluster(options: LabClusterOptions): Promise<LabCluster> {
  const labs: NetworkLab[] = [];
  const nodes: TestServer[] = [];
  let stopBalancer = async () => {};
  const dataDir = await Deno.makeTempDir({ prefix: "quic-cluster-lab-" });
  const stop = async () => {
    await stopBalancer();
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(labs.map((lab) => lab.close()));
    await Deno.remove(dataDir, { recursive: true });
  };
  try {
    const concurrency = options.buildConcurrency ?? 6;
    for (let built = 0; built < options.labs; built += concurrency) {
      const batch = Array.from(
        { length: Math.min(concurrency, options.labs - built) },
        (_, i) =>
          NetworkLab.create({
            serverIps: built + i === 0 ? options.nodes + 1 : 1,
            initialUplink: "wifi",
            rate: options.rate,
          }),
      );
      // Every lab that was built is kept for `stop`, even when another one failed.
      const results = await Promise.allSettled(batch);
      for (const result of results) if (result.status === "fulfilled") labs.push(result.value);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    const home = labs[0].topology;
    const [balancerIp, ...nodeIps] = home.serverIps;
    const segment = `${home.serverIps[0].split(".").slice(0, 3).join(".")}.0/24`;
    await Promise.all(
      labs.slice(1).flatMap((lab) =>
        UPLINKS.map((uplink) =>
          mustRun({
            argv: ["ip", "-n", lab.topology.uplinks[uplink].routerNs, "route", "add", segment]
              .concat(["via", lab.topology.serverIps[0]]),
          })
        )
      ),
    );

    await ensureDevCertificates(dataDir);
    const balancerPort = freePort();
    const balancer = `${balancerIp}:${balancerPort}`;
    for (const [i, ip] of nodeIps.entries()) {
      nodes.push(
        await startTestServer([], {
          hostname: ip,
          dataDir,
          maxIdleTimeout: options.maxIdleTimeoutMs,
          cluster: {
            nodeId: `node${i + 1}`,
            advertisePreferredAddress: true,
            balancer,
            balancerSources: [balancerIp],
            redisUrl: options.redisUrl,
          },
        }),
      );
    }
    const nodeAddrs = nodes.map((node, i) => `${nodeIps[i]}:${node.port}`);
    const lb = await startBalancer({ listen: balancer, source: balancerIp, nodes: nodeAddrs });
    stopBalancer = () => lb.stop();
    const connections = () =>
      nodes.flatMap((node, index) =>
        [...node.tracker.openConnections(), ...node.tracker.closedConnections()].map((c) => ({
          node: index,
          conn: c.toJSON(),
        }))
      );
    return {
      balancerIp,
      balancerPort,
      nodes,
      nodeAddrs,
      labs,
      nodeOf: (id) => nodes.findIndex((node) => node.tracker.get(id) !== undefined),
      connections,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A program running in a lab's client namespace. */
export interface LabProcess {
  /** Its exit code and the end of what it printed on stderr. */
  done: Promise<{ code: number; stderrTail: string }>;
}

/** How much of a client's stderr is kept for failure messages. */
const STDERR_TAIL_CHARS = 2000;

/**
 * Starts `argv` in `lab`'s client namespace, stdout discarded, stderr kept (its tail); killed
 * after `timeoutMs`.
 */
export function spawnInLab(lab: NetworkLab, argv: string[], timeoutMs: number): LabProcess {
  const [cmd, ...args] = inClientNamespace(lab.topology, argv);
  const child = new Deno.Command(cmd, {
    args,
    env: lab.clientEnv(),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).spawn();
  const done = (async () => {
    let tail = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL_CHARS);
    }
    const status = await child.status;
    return { code: status.code, stderrTail: tail };
  })();
  return { done };
}

/** A client that uploaded a file to `/api/echo` and wrote the answer to `downloadDir/echo`. */
export interface EchoClient {
  index: number;
  downloadDir: string;
  done: LabProcess["done"];
}

/**
 * The clients (by index) whose echo of `upload` did not come back intact, with why; waits for
 * every client to exit.
 */
export async function lostEchoes(
  clients: readonly EchoClient[],
  upload: string,
): Promise<Map<number, string>> {
  const sent = await sha256File(upload);
  const results = await Promise.all(clients.map((c) => c.done));
  const lost = new Map<number, string>();
  for (const [i, c] of clients.entries()) {
    const echoed = await sha256File(`${c.downloadDir}/echo`).catch(() => undefined);
    if (results[i].code !== 0 || echoed?.bytes !== sent.bytes || echoed.hex !== sent.hex) {
      lost.set(c.index, `exit ${results[i].code}, ${echoed?.bytes ?? 0} bytes echoed`);
    }
  }
  return lost;
}

/** Writes `bytes` random bytes to `path`. */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  const chunk = new Uint8Array(64 * 1024); // getRandomValues fills at most 64 KiB per call
  for (let left = bytes; left > 0;) {
    const part = chunk.subarray(0, Math.min(chunk.length, left));
    crypto.getRandomValues(part);
    for (let written = 0; written < part.length;) {
      written += await file.write(part.subarray(written));
    }
    left -= part.length;
  }
}

/** Hex SHA-256 and size of a file. */
export async function sha256File(path: string): Promise<{ hex: string; bytes: number }> {
  using file = await Deno.open(path);
  return await sha256Stream(file.readable);
}

/**
 * Waits until `check` returns true, polling every `intervalMs`, for at most `timeoutMs`; then
 * throws with `what` and the last `describe()`.
 */
export async function waitUntil(
  check: () => boolean,
  what: string,
  timeoutMs: number,
  describe: () => string = () => "",
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Whether `conn` has at least `n` migration events, each settled. */
export function settled(conn: ConnectionInfo, n: number): boolean {
  const events = conn.migration_events;
  return events.length >= n && events.every((e) => e.outcome !== "pending");
}

/** Rebinds, or switches, every lab of `cluster` at once. */
export async function performEverywhere(
  cluster: LabCluster,
  kind: "rebind" | "switch",
): Promise<void> {
  await Promise.all(cluster.labs.map((lab) => lab.perform({ kind })));
}

/**
 * Now and then a lab NAT shows a client's previous mapping once more after a rebinding (its
 * cause is not yet known): the node records the move back as `reverted`, then the move forward
 * again. Prints the clients whose connection did so, and fails when more than one in five did.
 */
export function assertFewFlaps(clients: { index: number; conn: ConnectionInfo }[]): void {
  const flapping = clients.filter((c) =>
    c.conn.migration_events.some((e) => e.outcome === "reverted")
  );
  if (flapping.length > 0) {
    console.log(
      `${flapping.length} client(s) saw a NAT mapping come back: ` +
        flapping.map((c) => c.index).join(", "),
    );
  }
  assert.ok(flapping.length <= clients.length / 5, `${flapping.length} clients flapped`);
}
