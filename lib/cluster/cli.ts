/**
 * `cluster`: a local cluster in one command (`deno task cluster`, `quic-server cluster`).
 *
 * It starts redis-server (unless `--redis` names one), then N nodes of this server, each on its
 * own IP advertising it as its QUIC preferred address and sharing one certificate, then nginx as
 * the UDP and TCP load balancer in front of them; prints where everything is; and stops it all
 * on Ctrl-C, SIGTERM or SIGHUP, in order: nodes (gracefully), nginx, Redis. A part that dies
 * stops the rest and gives exit code 1; a bad option or a missing program gives 2.
 *
 * ```ts
 * Deno.exit(await runCluster(["--nodes", "3"]));
 * ```
 * @module
 */

import { ensureDevCertificates } from "../certs.ts";
import { ConfigError } from "../cli/server_config.ts";
import { chromiumCommand } from "../chromium_command.ts";
import { formatAddr } from "../addr.ts";
import {
  balancerAddr,
  CLUSTER_HELP,
  type ClusterOptions,
  nodeArguments,
  type NodePlan,
  parseClusterOptions,
  planNodes,
} from "./options.ts";
import { findExecutable, findPrerequisites, streamModulePresent } from "./prerequisites.ts";
import {
  describeStatus,
  freePortOn,
  isLocalAddress,
  type ManagedProcess,
  portIsFree,
} from "./processes.ts";
import { nodeReady, spawnNode, startNginx, startRedis } from "./parts.ts";

/** Where `cluster` writes; every field defaults to the process's own. */
export interface ClusterIO {
  /** Children's prefixed lines, the summary, `--help`. */
  stdout?: (line: string) => void;
  /** Errors, one line each. */
  stderr?: (line: string) => void;
  /** Environment variables (`QUIC_DATA_DIR`, and those the node options read). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** How long each kind of part may take to stop before it is killed. */
const STOP_GRACE_MS = { node: 10_000, nginx: 5_000, redis: 10_000 } as const;
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Runs `cluster` with `args` (after `cluster`) until it is stopped, and resolves with the exit
 * code. Never throws for bad input or a failing part; those are reported.
 */
export async function runCluster(args: string[], io: ClusterIO = {}): Promise<number> {
  const stdout = io.stdout ?? ((line: string) => console.log(line));
  const stderr = io.stderr ?? ((line: string) => console.error(line));
  let options: ClusterOptions;
  try {
    options = parseClusterOptions(args, io.env ?? Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`error: ${error.message} (see cluster --help)`);
    return 2;
  }
  if (options.help) {
    stdout(CLUSTER_HELP);
    return 0;
  }
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    stderr(
      "error: cluster starts programs (redis-server, nginx, the nodes) and needs --allow-run " +
        "(deno task cluster has it; a binary needs deno compile --allow-run)",
    );
    return 2;
  }
  const found = findPrerequisites(
    { redis: options.redisUrl === undefined },
    (name) => findExecutable(name),
    await streamModulePresent(),
  );
  if ("missing" in found) {
    stderr(`error: ${found.missing}`);
    return 2;
  }
  const { balancer, source, nodes } = options.addresses;
  for (const ip of new Set([balancer, source, ...nodes])) {
    if (!isLocalAddress(ip)) {
      stderr(`error: --addresses: ${ip} is not an address of this machine (see cluster --help)`);
      return 2;
    }
  }
  const taken = takenAddress(options);
  if (taken !== undefined) {
    stderr(`error: ${taken} (see cluster --help)`);
    return 2;
  }
  options.dataDir = absolutePath(options.dataDir);

  const running = new Running(stdout);
  let stopRequested = false;
  let wake = () => {};
  const stopSignal = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = () => {
    if (!stopRequested) stdout("⏹  Stopping the cluster: nodes, then nginx, then redis…");
    stopRequested = true;
    wake();
  };
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);
  const startup = startAll(options, found, running, stdout);
  try {
    let ready: Ready | undefined;
    try {
      ready = await Promise.race([startup, stopSignal.then(() => undefined)]);
    } catch (error) {
      stderr(`error: the cluster did not start: ${messageOf(error)}`);
      return 1;
    }
    if (ready === undefined) return 0;
    printSummary(options, ready, stdout);
    const dead = await Promise.race([running.firstExit(), stopSignal.then(() => undefined)]);
    if (dead !== undefined && !stopRequested) {
      stderr(
        `error: ${dead.process.name} (pid ${dead.process.pid}) exited (${
          describeStatus(dead.status)
        }); stopping the cluster`,
      );
      return 1;
    }
    return 0;
  } finally {
    await running.stopAll();
    // A start cut short by a signal fails once its parts are stopped; nothing is left waiting.
    await startup.catch(() => {});
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
}

/** What the summary shows. */
interface Ready {
  redisUrl: string;
  nodes: Array<{ plan: NodePlan; pid: number; spki: string }>;
  caPath?: string;
  nginxConfig: string;
}

/**
 * Starts Redis, the nodes and nginx, in that order, recording each process in `running` as it
 * is spawned; stops going once `running` is cancelled.
 */
async function startAll(
  options: ClusterOptions,
  programs: { nginx: string; redisServer?: string },
  running: Running,
  log: (line: string) => void,
): Promise<Ready> {
  const clusterDir = `${options.dataDir}/cluster`;
  const ownCert = options.nodeArgs.some((arg) => /^--(cert|key)(=|$)/.test(arg));
  const { balancer, nodes: nodeIps } = options.addresses;
  const certs = ownCert
    ? undefined
    : await ensureDevCertificates(clusterDir, new Date(), [balancer, ...nodeIps]);

  let redisUrl = options.redisUrl;
  if (redisUrl === undefined) {
    running.checkNotCancelled();
    const redis = await startRedis(
      programs.redisServer!,
      `${clusterDir}/redis`,
      log,
      (process) => (running.redis = process),
    );
    redisUrl = redis.url;
  }

  const plans = planNodes(options).map((plan) => ({
    ...plan,
    labPort: freePortOn(plan.ip, plan.labPort),
  }));
  for (const plan of plans) await Deno.mkdir(plan.dataDir, { recursive: true });
  const shared = { redisUrl, certPath: certs?.certPath, keyPath: certs?.keyPath };
  running.checkNotCancelled();
  const processes = plans.map((plan) =>
    spawnNode(
      plan.name,
      nodeArguments(options, plan, shared),
      log,
      (process) => running.nodes.push(process),
    )
  );
  const started = await Promise.all(processes.map(nodeReady));
  const spkis = new Set(started.map((node) => node.spki));
  if (spkis.size !== 1) {
    throw new Error(`the nodes serve different certificates (SPKI ${[...spkis].join(", ")})`);
  }

  running.checkNotCancelled();
  const balancerPart = await startNginx(
    programs.nginx,
    {
      listenIp: balancer,
      listenPort: options.balancerPort,
      listen: balancerAddr(options),
      source: options.addresses.source,
      nodes: plans.map((plan) => formatAddr({ hostname: plan.ip, port: plan.port })),
    },
    `${clusterDir}/nginx`,
    log,
    (process) => (running.nginx = process),
  );
  return {
    redisUrl,
    nodes: plans.map((plan, i) => ({ plan, pid: processes[i].pid, spki: started[i].spki })),
    caPath: certs?.caPath,
    nginxConfig: balancerPart.configPath,
  };
}

/** Every part spawned so far, and how to stop them in order. */
class Running {
  redis?: ManagedProcess;
  nginx?: ManagedProcess;
  readonly nodes: ManagedProcess[] = [];
  /** Set by {@link stopAll}: a start still under way spawns nothing more. */
  cancelled = false;

  constructor(private readonly log: (line: string) => void) {}

  /** Throws when the cluster is being stopped, so a start under way goes no further. */
  checkNotCancelled(): void {
    if (this.cancelled) throw new Error("stopped while starting");
  }

  /** The first part to exit, with its status. */
  firstExit(): Promise<{ process: ManagedProcess; status: Deno.CommandStatus }> {
    const all = [...this.nodes, this.nginx, this.redis].filter((p) => p !== undefined);
    return Promise.race(
      all.map((process) => process.exited.then((status) => ({ process, status }))),
    );
  }

  /** Stops the nodes (SIGTERM: they drain), then nginx, then Redis; once. */
  async stopAll(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    const stop = async (process: ManagedProcess, graceMs: number) => {
      const status = await process.stop("SIGTERM", graceMs);
      this.log(`stopped ${process.name} (${describeStatus(status)})`);
    };
    await Promise.all(this.nodes.map((node) => stop(node, STOP_GRACE_MS.node)));
    if (this.nginx) await stop(this.nginx, STOP_GRACE_MS.nginx);
    if (this.redis) await stop(this.redis, STOP_GRACE_MS.redis);
  }
}

/** Prints where everything is and how to reach it. */
function printSummary(options: ClusterOptions, ready: Ready, out: (line: string) => void): void {
  const balancer = balancerAddr(options);
  const { source } = options.addresses;
  const caFlag = ready.caPath ? `--cacert ${ready.caPath}` : "-k";
  const lines = [
    `✅ Cluster ready: ${ready.nodes.length} node(s) behind https://${balancer}/`,
    `   Balancer (nginx: UDP for HTTP/3, TCP for HTTPS): https://${balancer}/ forwarding from ${source}`,
  ];
  for (const node of ready.nodes) {
    const addr = formatAddr({ hostname: node.plan.ip, port: node.plan.port });
    const lab = formatAddr({ hostname: node.plan.ip, port: node.plan.labPort });
    lines.push(`   ${node.plan.name}: https://${addr}/ (lab https://${lab}/) pid ${node.pid}`);
  }
  lines.push(
    `   Dashboard: https://${balancer}/ (through the balancer; each node's own at its URL)`,
    `   Redis: ${ready.redisUrl}${options.redisUrl === undefined ? " (started here)" : ""}`,
    `   nginx config: ${ready.nginxConfig}`,
  );
  if (ready.caPath) lines.push(`   CA to trust: ${ready.caPath}`);
  lines.push(
    `   Leaf certificate SPKI SHA-256: ${ready.nodes[0].spki}`,
    `   Chromium over HTTP/3: ${
      chromiumCommand(ready.nodes[0].spki, options.balancerPort, options.addresses.balancer)
    }`,
    `   curl: curl ${caFlag} https://${balancer}/api/test`,
    "   Ctrl-C stops everything.",
  );
  for (const line of lines) out(line);
}

/** The first address the cluster needs that another program holds, as one line, or undefined. */
function takenAddress(options: ClusterOptions): string | undefined {
  const { balancer, nodes } = options.addresses;
  if (!portIsFree(balancer, options.balancerPort)) {
    return `--balancer-port ${options.balancerPort} is in use on ${balancer} (TCP or UDP)`;
  }
  const busy = nodes.find((ip) => !portIsFree(ip, options.port));
  return busy === undefined
    ? undefined
    : `--port ${options.port} is in use on ${busy} (TCP or UDP)`;
}

/** `path` made absolute against the working directory (nginx reads paths from its own prefix). */
function absolutePath(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path.replace(/^\.\//, "")}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
