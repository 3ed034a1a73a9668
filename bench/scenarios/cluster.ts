/**
 * Scenario `cluster`: what running as a cluster costs on this machine, in two parts.
 *
 * 1. One node vs N nodes. Many connections (C `gtlsclient` processes at once, R GETs of
 *    `/api/test` each, as in `many`) against one node started exactly as `many` starts our
 *    server, and against a cluster started by our orchestrator (`main.ts cluster --nodes N`:
 *    redis-server, N nodes on their own loopback IPs, nginx in front) reached through the
 *    balancer; clients that follow the QUIC preferred address move to their node. Interleaved
 *    rounds (one, cluster, one, …) after an uncounted warm-up; the figure is the median of the
 *    per-round ratios cluster/one. With 2 cores the N nodes, nginx, Redis and the clients all
 *    share the same cores: this measures the overhead of the balancer and of sharing, not
 *    scale-out.
 * 2. The cost of the Redis writes per event (`support/redis_event_cost.ts`).
 * @module
 */

import { childCpuSeconds } from "../support/client_output.ts";
import type { BenchEnv } from "../support/env.ts";
import { fmt, progress, table } from "../support/format.ts";
import { checkResponses } from "../support/gtls.ts";
import type { BenchOptions } from "../support/options.ts";
import { capture } from "../support/process.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import {
  interleave,
  median,
  medianDetail,
  medianOf,
  round,
  roundRatios,
} from "../support/stats.ts";
import {
  type BenchCluster,
  MetricsReader,
  startCluster,
  stopCluster,
  totalCpuSeconds,
} from "../support/cluster_env.ts";
import { metricValue } from "../support/cluster_figures.ts";
import { manyScript } from "./many.ts";
import { measureRedisEventCost } from "../support/redis_event_cost.ts";

const RUN_LIMIT_MS = 180_000;
const PATH = "/api/test";

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

/** Runs both parts of the cluster scenario. */
export async function runCluster(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const conns = options.quick ? 20 : 100;
  const requests = options.quick ? 20 : 50;
  const nodes = options.clusterNodes;
  const { rounds } = options;
  const errors: string[] = [];

  progress(`cluster: starting one node, and a cluster of ${nodes} node(s) with main.ts cluster`);
  const onePort = env.port();
  const oneLab = env.port();
  const one = await env.startOurs(onePort, oneLab);
  let cluster: BenchCluster | undefined;
  let part1: Omit<ScenarioResult, "name" | "title" | "errors">;
  try {
    cluster = await startCluster(env, nodes);
    const ports = { one: onePort, cluster: cluster.balancerPort };
    for (const [target, port] of Object.entries(ports)) {
      const check = await checkResponses(port, PATH, '"protocol":"h3"');
      if (check.error) throw new Error(`cluster: ${target}: ${check.error}`);
    }
    const clusterPids = [cluster.process.pid, ...cluster.children];
    progress(`cluster: ${conns} connections × ${requests} GETs at once, one vs ${nodes} nodes`);
    const samples = await interleave(["one", "cluster"], rounds, async (target) => {
      const pids = target === "one" ? [one.pid] : clusterPids;
      const cpuBefore = await totalCpuSeconds(pids);
      const start = performance.now();
      const script = manyScript(ports[target as "one" | "cluster"], conns, requests, PATH);
      const run = await capture(["sh", "-c", script], {}, RUN_LIMIT_MS);
      const ms = performance.now() - start;
      const serverCpu = (await totalCpuSeconds(pids)) - cpuBefore;
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`cluster ${target}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: Math.round((conns * requests) / (ms / 1000)),
        ok,
        detail: {
          ms: round(ms, 1),
          clientCpuS: round(childCpuSeconds(run.stdout), 2),
          serverCpuS: round(serverCpu, 2),
        },
      };
    }, "req/s");
    const ratios = roundRatios(samples, "cluster", "one");
    const medians = { one: medianOf(samples, "one"), cluster: medianOf(samples, "cluster") };
    const ratio = median(ratios);
    const perNode = await connectionsPerNode(cluster);
    const serving = Object.values(perNode).filter((n) => n > 0).length;
    const cpu = (target: string, key: string) => fmt(medianDetail(samples, target, key), 2);
    part1 = {
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
        `${fmt(conns * requests)} GETs of \`${PATH}\` per run), against one node (\`main.ts\` ` +
        `as the \`many\` scenario starts it) and against a cluster of ${nodes} node(s) started ` +
        "by `main.ts cluster` (redis-server, the nodes on their own loopback IPs, nginx as the " +
        "UDP balancer), reached through the balancer; a client that follows the QUIC preferred " +
        `address moves to its node. ${rounds} interleaved rounds (one, cluster) after one ` +
        "uncounted warm-up round; req/s = all requests / wall clock from the first spawn to " +
        "the last exit. Both stay up for the whole comparison.",
        "",
        `**Medians: one node ${fmt(medians.one)} req/s, ${nodes} nodes ${fmt(medians.cluster)} ` +
        `req/s. Median of the per-round ratios cluster/one: ${fmt(ratio, 3)}.**`,
        "",
        `This machine has ${navigator.hardwareConcurrency} CPU(s): the ${nodes} nodes, nginx, ` +
        "Redis and the client processes all share them, so this measures what the balancer, " +
        "the preferred-address hand-off and the Redis writes cost, not scale-out (more nodes " +
        "cannot use cores that are not there). Server CPU seconds per run are the node's for " +
        "one node and the sum over every process of the cluster (orchestrator, nodes, nginx " +
        `and its workers, Redis) for the cluster: median one ${cpu("one", "serverCpuS")} s, ` +
        `cluster ${cpu("cluster", "serverCpuS")} s; clients ${cpu("one", "clientCpuS")} s and ` +
        `${cpu("cluster", "clientCpuS")} s.`,
        "",
        ...table(
          ["round", "server", "ms", "req/s", "client CPU s", "server CPU s", "result"],
          samples.map((s) => [
            s.round,
            s.target,
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
        "`quic_connections_total`): " +
        Object.entries(perNode).map(([name, n]) => `${name} ${fmt(n)}`).join(", ") +
        `: ${serving} of ${nodes} node(s) served. The balancer (nginx) picks a node by ` +
        "hashing the client's IP address (`hash $remote_addr consistent`), and every client " +
        "here comes from 127.0.0.1 (`gtlsclient` cannot choose its source address)" +
        (serving === 1
          ? ", so all connections landed on one node: the cluster figure is one node behind " +
            "the balancer, sharing its records and events through Redis, the others idle."
          : "."),
        "",
      ],
      commands: {
        one: env.ourServerCommand(onePort, oneLab).join(" "),
        cluster: cluster.command,
        clients: `sh -c '${manyScript(cluster.balancerPort, conns, requests, PATH)}'`,
      },
      data: { conns, requests, rounds, nodes, samples, ratios, medians, ratio, perNode },
    };
  } finally {
    await env.stop(one);
    if (cluster) errors.push(...await stopCluster(env, cluster));
  }

  const cost = await measureRedisEventCost(env, options);
  errors.push(...cost.errors);
  return {
    name: "cluster",
    title: `Cluster (one node vs ${nodes} nodes; the Redis writes' CPU per event)`,
    rows: [...part1.rows, ...cost.rows],
    markdown: [...part1.markdown, ...cost.markdown],
    commands: { ...part1.commands, ...cost.commands },
    data: { oneVsCluster: part1.data, redisEventCost: cost.data },
    errors,
  };
}
