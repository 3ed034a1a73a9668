/**
 * `GET /healthz`: liveness for load balancers and scripts. A cluster node whose Redis is away
 * answers `{status: "degraded", cluster: …}`, still with 200: it serves and tracks locally, so
 * a balancer must keep sending it traffic.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import { jsonResponse, jsonTextResponse } from "../lib/json_response.ts";

/** A degraded part of the node, as `/healthz` reports it. */
export interface DegradedReport {
  status: "degraded";
  [detail: string]: unknown;
}

/**
 * The health route; `degraded` (cluster mode) says what is degraded now, or undefined when all
 * is well (the answer is then the plain `{status: "ok"}`).
 */
export function healthRoute(degraded?: () => DegradedReport | undefined): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/healthz", () => {
    const report = degraded?.();
    return report === undefined
      ? jsonTextResponse(OK)
      : jsonResponse({ status: "degraded", cluster: report });
  });
}

/** The healthy answer's JSON, serialized once: it never changes. */
const OK = JSON.stringify({ status: "ok" });

/** The health route of a node with nothing that can degrade. */
export const health: Hono<AppEnv> = healthRoute();
