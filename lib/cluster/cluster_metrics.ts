/**
 * A node's cluster metrics in the Prometheus text format, labelled with the node's id: whether
 * its writes reach Redis, and its events written, dropped and waiting. `lib/metrics/metrics.ts`
 * appends these lines through `Metrics.addSection`; this module only formats. Pure.
 *
 * ```ts
 * metrics.addSection(() => renderClusterMetrics("n1", sink.state, sink.stats));
 * ```
 * @module
 */

import type { RedisSinkStats, RedisState } from "./redis_sink.ts";

/** A label value with `\`, `"` and newlines escaped, as the text format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The cluster families for `node`, one line each, ending in a newline. */
export function renderClusterMetrics(
  node: string,
  state: RedisState,
  stats: RedisSinkStats,
): string {
  const n = `node="${label(node)}"`;
  const out: string[] = [];
  const family = (name: string, type: string, help: string, value: number) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${n}} ${value}`);
  family(
    "cluster_redis_up",
    "gauge",
    "1 when this node's writes reach Redis, 0 while it is degraded (serving locally).",
    state === "ok" ? 1 : 0,
  );
  family(
    "cluster_events_written_total",
    "counter",
    "Events this node wrote to the cluster's stream.",
    stats.written,
  );
  family(
    "cluster_events_dropped_total",
    "counter",
    "Events this node dropped because its queue was full while Redis was away.",
    stats.dropped,
  );
  family(
    "cluster_events_queued",
    "gauge",
    "Events this node holds for Redis now.",
    stats.queued,
  );
  family(
    "cluster_write_failures_total",
    "counter",
    "Write attempts to Redis that failed (Redis away or erroring); each is retried.",
    stats.failures,
  );
  return out.join("\n") + "\n";
}
