/**
 * `GET /api/test`: what the server observed about the connection carrying this request, as
 * JSON: protocol, connection id, the peer's current address, and counters. The same values
 * arrive as `X-Connection-*` headers on every response.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/server/connection_env.ts";

/** The test route. */
export const test = new Hono<AppEnv>().get("/api/test", (c) => {
  const record = c.env.connection;
  return c.json({
    protocol: record.protocol,
    connection_id: record.connection_id,
    remote_addr: c.env.remoteAddr(),
    request_count: record.request_count,
    migration_count: record.migration_count,
    connection_started: record.start_time,
    server_time: new Date().toISOString(),
  });
});
