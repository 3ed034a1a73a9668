/**
 * `GET /metrics`: Prometheus text format.
 * @module
 */

import { Hono } from "hono";
import type { Metrics } from "../lib/metrics/metrics.ts";
import type { AppEnv } from "../lib/connection_env.ts";

/** The metrics route over `metrics`. */
export function metricsRoute(metrics: Metrics): Hono<AppEnv> {
  return new Hono<AppEnv>().get(
    "/metrics",
    (c) =>
      c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
}
