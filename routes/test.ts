/**
 * `GET /api/test`: what the server observed about the connection carrying this request, as
 * JSON: protocol, connection id, the peer's current address, and counters. The same values
 * arrive as `X-Connection-*` headers on every response.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import { jsonResponse } from "../lib/json_response.ts";

/** The test route. */
export const test = new Hono<AppEnv>().get("/api/test", (c) => {
  const conn = c.env.connection;
  return jsonResponse({
    protocol: conn.protocol,
    connection_id: conn.id,
    remote_addr: conn.remoteAddr,
    request_count: conn.requestCount,
    migration_count: conn.migrationCount,
    connection_started: conn.startTime,
  });
});
