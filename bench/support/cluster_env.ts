/**
 * The processes of the `cluster` scenario: a cluster started with our own orchestrator
 * (`main.ts cluster` as a child process, ready when its summary says so, stopped with SIGTERM),
 * a redis-server, and their readings (CPU time of a process tree from /proc, a node's
 * `/metrics`). Everything is registered with the `BenchEnv`,
 * so it is stopped at the end of the scenario; what the orchestrator started is checked to be
 * gone after it stopped, and anything left is killed and reported.
 * @module
 */

import { type BenchEnv, denoRun, tail } from "./env.ts";
import { progress } from "./format.ts";
import { descendantsOf, parseProcStat } from "./proc_stat.ts";
import { CLUSTER_READY_LINE, CLUSTER_SUMMARY_END, parseClusterSummary } from "./cluster_figures.ts";
import { cpuSeconds, type ServerProcess } from "./process.ts";

/** A cluster stops its nodes (≤ 10 s each, at once), then nginx and Redis: time for all three. */
const CLUSTER_STOP_MS = 40_000;
/** From spawn to the summary: Redis, the nodes (a cold module cache loads first), nginx. */
const CLUSTER_READY_MS = 180_000;
/** Starts of a cluster before a port taken meanwhile counts as a failure. */
const START_ATTEMPTS = 3;
/** What a node prints when its address and port are taken. */
const PORT_TAKEN = "Address already in use";

/** Where a bench cluster's parts listen: IPs of this machine, as `--addresses` takes them. */
export interface BenchClusterAddresses {
  /** The balancer's IP (its UDP and TCP port). */
  balancer: string;
  /** The IP the balancer forwards from. */
  source: string;
  /** One IP per node, bound and advertised as its preferred address. */
  nodes: string[];
}

/** A cluster started by `main.ts cluster`. */
export interface BenchCluster {
  /** The orchestrator. */
  process: ServerProcess;
  /** The balancer's IP and UDP (and TCP) port. */
  balancerIp: string;
  balancerPort: number;
  /** Its command line, for the record. */
  command: string;
  /** Every process it started (nodes, nginx and its workers, redis-server), read once ready. */
  children: number[];
  /** Each node's name, URL and pid, from the summary. */
  nodes: Array<{ name: string; url: string; pid: number }>;
  /** The cluster's CA (its nodes serve a leaf of their own, made by the orchestrator). */
  caPath: string;
}

/** `main.ts cluster` with its parts on `addresses`, its data under `dataDir`. */
export function clusterCommand(
  addresses: BenchClusterAddresses,
  nodePort: number,
  balancerPort: number,
  dataDir: string,
): string[] {
  const { balancer, source, nodes } = addresses;
  return denoRun("main.ts", [
    "cluster",
    ...["--addresses", `balancer=${balancer},source=${source},nodes=${nodes.join("+")}`],
    ...["--port", String(nodePort), "--balancer-port", String(balancerPort)],
    ...["--data-dir", dataDir],
  ]);
}

/**
 * Starts a cluster (one node per address of `addresses.nodes`) and resolves once its summary is
 * printed (every part is up); throws with its last lines if it is not, or if the summary does
 * not list every node.
 */
export async function startCluster(
  env: BenchEnv,
  addresses: BenchClusterAddresses,
): Promise<BenchCluster> {
  for (let attempt = 1;; attempt++) {
    let portTaken = false;
    const watch = (line: string) => (portTaken ||= line.includes(PORT_TAKEN));
    try {
      const dataDir = `${env.tmp}/cluster-bench-${attempt}`;
      return await startClusterOnce(env, addresses, dataDir, watch);
    } catch (error) {
      // A port found free may be taken before a node binds it (a client elsewhere on this
      // machine binding every address on an ephemeral port): new ports, a bounded few times.
      if (attempt >= START_ATTEMPTS || !portTaken) throw error;
      progress(`cluster: a port was taken meanwhile; starting again (${attempt + 1})`);
    }
  }
}

async function startClusterOnce(
  env: BenchEnv,
  addresses: BenchClusterAddresses,
  dataDir: string,
  onLine: (line: string) => void,
): Promise<BenchCluster> {
  const nodes = addresses.nodes.length;
  const balancerPort = env.port();
  const nodePort = env.port();
  const cmd = clusterCommand(addresses, nodePort, balancerPort, dataDir);
  const ready = { line: CLUSTER_READY_LINE };
  const proc = await env.spawn("cluster", cmd, ready, CLUSTER_READY_MS, {}, onLine);
  try {
    await proc.waitForLine(CLUSTER_SUMMARY_END, 10_000);
  } catch (error) {
    await stopCluster(env, { process: proc, children: [] });
    throw error;
  }
  const summary = parseClusterSummary(proc.lines);
  if (summary.nodeCount !== nodes || summary.nodes.length !== nodes) {
    await stopCluster(env, { process: proc, children: await processTree(proc.pid) });
    throw new Error(
      `cluster: the summary lists ${summary.nodes.length} of ${nodes} nodes\n${tail(proc)}`,
    );
  }
  return {
    process: proc,
    balancerIp: addresses.balancer,
    balancerPort,
    command: cmd.join(" "),
    children: await processTree(proc.pid),
    nodes: summary.nodes,
    caPath: `${dataDir}/cluster/certs/ca.pem`,
  };
}

/**
 * Stops the cluster with SIGTERM and waits for the orchestrator's exit (it stops its parts in
 * order); then any process it had started that still runs is killed. Returns problems found:
 * parts left behind, or a stop that was not clean.
 */
export async function stopCluster(
  env: BenchEnv,
  cluster: Pick<BenchCluster, "process" | "children">,
): Promise<string[]> {
  const problems: string[] = [];
  await env.stop(cluster.process, CLUSTER_STOP_MS);
  for (const part of ["nginx", "redis"]) {
    if (
      cluster.children.length > 0 &&
      !cluster.process.lines.some((l) => l.startsWith(`stopped ${part}`))
    ) {
      problems.push(`cluster: the orchestrator did not report "stopped ${part}"`);
    }
  }
  const left = await stillAlive(cluster.children);
  for (const pid of left) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
  if (left.length > 0) {
    problems.push(
      `cluster: ${left.length} process(es) left after it stopped (killed): ${left.join(", ")}`,
    );
  }
  return problems;
}

/** Every process descended from `root` now (one reading of /proc). */
export async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const text = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    const stat = parseProcStat(text);
    if (stat) parents.set(Number(entry.name), stat.ppid);
  }
  return descendantsOf(root, parents);
}

/** The pids among `pids` that still run (a zombie does not count). */
export async function stillAlive(pids: readonly number[]): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
    const stat = parseProcStat(text);
    if (stat && stat.state !== "Z") alive.push(pid);
  }
  return alive;
}

/** CPU seconds of all `pids` together; processes that are gone count NaN (so does the sum). */
export async function totalCpuSeconds(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += await cpuSeconds(pid);
  return sum;
}

/**
 * Starts redis-server on a free loopback port with the settings the orchestrator gives its own
 * (append-only file on), its data in `dir`; ready when it says it accepts connections.
 */
export async function startRedisServer(
  env: BenchEnv,
  dir: string,
): Promise<{ process: ServerProcess; url: string; command: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const port = env.port();
  const cmd = [
    "redis-server",
    ...["--bind", "127.0.0.1", "--port", String(port), "--protected-mode", "yes"],
    ...["--dir", dir, "--appendonly", "yes", "--daemonize", "no", "--loglevel", "notice"],
  ];
  const proc = await env.spawn(
    "redis-server",
    cmd,
    { line: "Ready to accept connections" },
    15_000,
  );
  return { process: proc, url: `redis://127.0.0.1:${port}`, command: cmd.join(" ") };
}

/** Reads a node's `/metrics` over HTTPS (TCP) with the bench's CA. */
export class MetricsReader {
  readonly #client: Deno.HttpClient;

  private constructor(client: Deno.HttpClient) {
    this.#client = client;
  }

  /** A reader trusting the CA in the PEM file `caPath`. */
  static async create(caPath: string): Promise<MetricsReader> {
    const ca = await Deno.readTextFile(caPath);
    return new MetricsReader(Deno.createHttpClient({ caCerts: [ca] }));
  }

  /** The text of `<origin>/metrics` (`https://127.0.0.1:<port>`); throws unless 200. */
  async read(origin: string): Promise<string> {
    const res = await fetch(`${origin.replace(/\/$/, "")}/metrics`, {
      client: this.#client,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${origin}/metrics: status ${res.status}`);
    return text;
  }

  /** Closes the client. */
  close(): void {
    this.#client.close();
  }
}
