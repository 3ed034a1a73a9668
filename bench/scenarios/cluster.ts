/**
 * Scenario `cluster`: what running as a cluster costs on this machine, in two parts.
 *
 * 1. One node vs N nodes (`support/cluster_vs_one.ts`): many connections from many client
 *    addresses (network namespaces; needs root) against one node and against a cluster started
 *    by our orchestrator (`main.ts cluster --nodes N`), reached through its balancer. The N
 *    nodes, nginx, Redis and the clients all share this machine's cores: a cluster can use the
 *    cores one single-threaded node leaves to others, and no more.
 * 2. The cost of the Redis writes per event (`support/redis_event_cost.ts`).
 * @module
 */

import type { BenchEnv } from "../support/env.ts";
import { progress } from "../support/format.ts";
import type { BenchOptions } from "../support/options.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { cannotBuildFleet, compareClusterWithOne } from "../support/cluster_vs_one.ts";
import { measureRedisEventCost } from "../support/redis_event_cost.ts";

/** Runs both parts of the cluster scenario (the first only as root). */
export async function runCluster(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const nodes = options.clusterNodes;
  const notRoot = cannotBuildFleet();
  if (notRoot) progress(notRoot);
  const part1 = notRoot === undefined ? await compareClusterWithOne(env, options) : {
    rows: [],
    markdown: [`### One node vs a cluster`, "", `Not measured: ${notRoot}.`, ""],
    commands: {},
    data: undefined,
    errors: [notRoot],
  };
  const cost = await measureRedisEventCost(env, options);
  return {
    name: "cluster",
    title: `Cluster (one node vs ${nodes} nodes; the Redis writes' CPU per event)`,
    rows: [...part1.rows, ...cost.rows],
    markdown: [...part1.markdown, ...cost.markdown],
    commands: { ...part1.commands, ...cost.commands },
    data: { oneVsCluster: part1.data, redisEventCost: cost.data },
    errors: [...part1.errors, ...cost.errors],
  };
}
