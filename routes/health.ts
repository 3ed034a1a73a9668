/**
 * `GET /healthz`: liveness for load balancers and scripts.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import { jsonResponse } from "../lib/json_response.ts";

/** The health route. */
export const health = new Hono<AppEnv>().get("/healthz", () => jsonResponse({ status: "ok" }));
