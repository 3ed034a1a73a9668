/**
 * The first part of the `cluster` scenario: one node vs N nodes, with clients from many source
 * addresses. The balancer (nginx, `hash $remote_addr consistent`) picks a node by the client's
 * IP and `gtlsclient` cannot choose its source address, so the client processes run in the
 * network namespaces of a {@link ClientFleet}, each with an address of its own, and client i
 * uses namespace i mod K. The single node and every part of the cluster bind addresses of the
 * fleet's segment, so both are reached over the same path (a veth and the bridge, no NAT) from
 * the same namespaces: the node directly, the cluster through its balancer (clients that follow
 * the QUIC preferred address then move to their node).
 *
 * C `gtlsclient` processes at once, R GETs of `/api/test` each (as in `many`); interleaved
 * rounds (one, cluster, one, …) after an uncounted warm-up; the figure is the median of the
 * per-round ratios cluster/one.
 * @module
 */

import { childCpuSeconds } from "./client_output.ts";
import { ClientFleet, spreadClientsScript } from "./client_fleet.ts";
import type { BenchEnv } from "./env.ts";
import { fmt, progress, table } from "./format.ts";
import { checkResponses, gtlsCommand } from "./gtls.ts";
import type { BenchOptions } from "./options.ts";
import { capture, type ServerProcess } from "./process.ts";
import type { SummaryRow } from "./scenario_result.ts";
import { interleave, median, medianDetail, medianOf, round, roundRatios } from "./stats.ts";
import {
  type BenchCluster,
  MetricsReader,
  startCluster,
  stopCluster,
  totalCpuSeconds,
} from "./cluster_env.ts";
import { metricValue } from "./cluster_figures.ts";

const RUN_LIMIT_MS = 180_000;
const PATH = "/api/test";

/** What the comparison adds to the scenario's report. */
export interface ClusterVsOne {
  rows: SummaryRow[];
  markdown: string[];
  commands: Record<string, string>;
  data: unknown;
  errors: string[];
}

/**
 * How many client namespaces (source addresses) a comparison with `nodes` nodes and `conns`
 * clients uses: enough that the IP hash is unlikely to leave a node without clients (each
 * address lands on a node at random, so a node misses all K with chance ((N-1)/N)^K), never
 * more than there are clients, and few enough to build in moments.
 */
export function clientNamespaceCount(nodes: number, conns: number): number {
  return Math.max(1, Math.min(conns, Math.max(16, Math.min(48, 8 * nodes))));
}

/** The HTTP/3 connections each node of the cluster accepted in all (its own `/metrics`). */
async function connectionsPerNode(cluster: BenchCluster): Promise<Record<string, number>> {
  const reader = await MetricsReader.create(cluster.caPath);
  try {
    const out: Record<string, number> = {};
    for (const node of cluster.nodes) {
      const text = await reader.read(node.url);
      out[node.name] = metricValue(text, "quic_connections_total", { protocol: "h3" });
    }
    return out;
  } finally {
    reader.close();
  }
}

/** The machine's 1-minute load average now (from /proc/loadavg), NaN when unreadable. */
async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0] || NaN);
}

/** One line when this process cannot build the client namespaces, else undefined. */
export function cannotBuildFleet(uid: number | null = Deno.uid()): string | undefined {
  return uid === 0 ? undefined : "cluster: one node vs N nodes needs root (its clients run in " +
    "network namespaces, one source address each, for the balancer's IP hash): skipped";
}

/** Runs the comparison; everything it started or built is gone when it returns or throws. */
export async function compareClusterWithOne(
  env: BenchEnv,
  options: BenchOptions,
): Promise<ClusterVsOne> {
  const conns = options.quick ? 20 : 100;
  const requests = options.quick ? 20 : 50;
  const nodes = options.clusterNodes;
  const { rounds } = options;
  const errors: string[] = [];
  const k = clientNamespaceCount(nodes, conns);

  progress(`cluster: ${k} client namespaces; one node, and ${nodes} node(s) with main.ts cluster`);
  // Addresses: the balancer, its source, the cluster's nodes, then the single node.
  const fleet = await ClientFleet.create({ serverIps: nodes + 3, clients: k });
  const removeFleet = env.defer(() => fleet.close());
  const [balancer, source, ...rest] = fleet.plan.serverIps;
  const addresses = { balancer, source, nodes: rest.slice(0, nodes) };
  const oneIp = rest[nodes];
  let cluster: BenchCluster | undefined;
  let one: ServerProcess | undefined;
  try {
    const onePort = env.port();
    const oneLab = env.port();
    one = await env.startOurs(onePort, oneLab, oneIp);
    cluster = await startCluster(env, addresses);
    const targets = {
      one: { host: oneIp, port: onePort, pids: [one.pid] },
      cluster: {
        host: cluster.balancerIp,
        port: cluster.balancerPort,
        pids: [cluster.process.pid, ...cluster.children],
      },
    };
    for (const [name, t] of Object.entries(targets)) {
      const enter = fleet.plan.clients[0].enter;
      const check = await checkResponses(t.port, PATH, '"protocol":"h3"', { host: t.host, enter });
      if (check.error) throw new Error(`cluster: ${name}: ${check.error}`);
    }
    const script = (t: { host: string; port: number }) =>
      spreadClientsScript(
        fleet.plan.clients,
        gtlsCommand(t.port, requests, true, PATH, t.host),
        conns,
      );
    progress(`cluster: ${conns} connections × ${requests} GETs at once, one vs ${nodes} nodes`);
    const samples = await interleave(["one", "cluster"], rounds, async (name) => {
      const target = targets[name as keyof typeof targets];
      const load = await loadAverage();
      const cpuBefore = await totalCpuSeconds(target.pids);
      const start = performance.now();
      const run = await capture(["sh", "-c", script(target)], {}, RUN_LIMIT_MS);
      const ms = performance.now() - start;
      const serverCpu = (await totalCpuSeconds(target.pids)) - cpuBefore;
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`cluster ${name}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: Math.round((conns * requests) / (ms / 1000)),
        ok,
        detail: {
          ms: round(ms, 1),
          clientCpuS: round(childCpuSeconds(run.stdout), 2),
          serverCpuS: round(serverCpu, 2),
          load,
        },
      };
    }, "req/s");
    const perNode = await connectionsPerNode(cluster);
    const report = describe({ conns, requests, rounds, nodes, k, samples, perNode, errors });
    return {
      ...report,
      commands: {
        one: env.ourServerCommand(onePort, oneLab, oneIp).join(" "),
        cluster: cluster.command,
        clients: `sh -c '${script(targets.cluster)}'`,
      },
    };
  } finally {
    // The servers bind the fleet's addresses: they stop before it goes.
    if (one) await env.stop(one);
    if (cluster) errors.push(...await stopCluster(env, cluster));
    await removeFleet();
  }
}

/** What {@link describe} reports on. */
interface Measured {
  conns: number;
  requests: number;
  rounds: number;
  nodes: number;
  /** Client namespaces (source addresses). */
  k: number;
  samples: Awaited<ReturnType<typeof interleave>>;
  perNode: Record<string, number>;
  errors: string[];
}

/** The figures, rows and Markdown of the comparison. */
function describe(m: Measured): Omit<ClusterVsOne, "commands"> {
  const { conns, requests, rounds, nodes, k, samples, perNode } = m;
  const ratios = roundRatios(samples, "cluster", "one");
  const medians = { one: medianOf(samples, "one"), cluster: medianOf(samples, "cluster") };
  const ratio = median(ratios);
  const serving = Object.values(perNode).filter((n) => n > 0).length;
  if (serving < nodes) {
    m.errors.push(
      `cluster: ${serving} of ${nodes} nodes served (the IP hash of ${k} client addresses)`,
    );
  }
  const cpu = (target: string, key: string) => fmt(medianDetail(samples, target, key), 2);
  return {
    rows: [{
      scenario: `${conns} connections × ${requests} GETs ${PATH}, ${nodes} nodes vs one (req/s)`,
      ours: `${fmt(medians.cluster)} (${nodes} nodes, ${serving} serving)`,
      peer: `one node ${fmt(medians.one)}`,
      ratio: fmt(ratio, 2),
      target: "—",
      met: null,
    }],
    markdown: [
      "### One node vs a cluster",
      "",
      `${conns} \`gtlsclient -n ${requests}\` processes at once (one QUIC connection each, ` +
      `${fmt(conns * requests)} GETs of \`${PATH}\` per run), spread over ${k} network ` +
      "namespaces with one source address each (client i in namespace i mod " +
      `${k}, on one bridge with the servers' addresses: no NAT), against one node ` +
      "(`main.ts` bound to an address of that bridge) and against a cluster of " +
      `${nodes} node(s) started by \`main.ts cluster\` on addresses of the same bridge ` +
      "(redis-server, the nodes, nginx as the UDP balancer), reached through the balancer; a " +
      "client that follows the QUIC preferred address moves to its node. " +
      `${rounds} interleaved rounds (one, cluster) after one uncounted warm-up round; ` +
      "req/s = all requests / wall clock from the first spawn to the last exit. Both stay up " +
      "for the whole comparison.",
      "",
      `**Medians: one node ${fmt(medians.one)} req/s, ${nodes} nodes ${fmt(medians.cluster)} ` +
      `req/s. Median of the per-round ratios cluster/one: ${fmt(ratio, 3)}.**`,
      "",
      `This machine has ${navigator.hardwareConcurrency} CPU(s): the ${nodes} nodes, nginx, ` +
      "Redis and the client processes all share them. A node runs its JavaScript on one " +
      "thread, so a cluster can use cores that one node leaves to others, up to the cores " +
      "there are; beyond them more nodes only share, and pay for the balancer, the " +
      "preferred-address hand-off and the Redis writes. Other work on the machine takes its " +
      "share too (the load average before each run is in the table), and on a contended " +
      "machine more processes get a larger share of it: then the ratio is not the cluster's " +
      "alone. Server CPU seconds per run are the node's for " +
      "one node and the sum over every process of the cluster (orchestrator, nodes, nginx " +
      `and its workers, Redis) for the cluster: median one ${cpu("one", "serverCpuS")} s, ` +
      `cluster ${cpu("cluster", "serverCpuS")} s; clients ${cpu("one", "clientCpuS")} s and ` +
      `${cpu("cluster", "clientCpuS")} s.`,
      "",
      ...table(
        ["round", "server", "load avg", "ms", "req/s", "client CPU s", "server CPU s", "result"],
        samples.map((s) => [
          s.round,
          s.target,
          fmt(s.detail?.load as number, 2),
          fmt(s.detail?.ms as number, 1),
          fmt(s.value),
          fmt(s.detail?.clientCpuS as number, 2),
          fmt(s.detail?.serverCpuS as number, 2),
          s.ok ? "ok" : "FAILED",
        ]),
      ),
      "",
      `Per-round ratios cluster/one: ${ratios.join(", ")}`,
      "",
      "HTTP/3 connections each node accepted over the whole comparison (its `/metrics`, " +
      "`quic_connections_total`; the check run and the warm-up round included): " +
      Object.entries(perNode).map(([name, n]) => `${name} ${fmt(n)}`).join(", ") +
      `: ${serving} of ${nodes} node(s) served. The balancer picks a node by hashing the ` +
      `client's IP address (\`hash $remote_addr consistent\`) over ${k} client addresses, ` +
      "so the shares follow the hash, not the load.",
      "",
    ],
    data: {
      conns,
      requests,
      rounds,
      nodes,
      clientAddresses: k,
      samples,
      ratios,
      medians,
      ratio,
      perNode,
    },
    errors: m.errors,
  };
}
