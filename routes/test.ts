/**
 * `GET /api/test`: what the server observed about the connection carrying this request, as
 * JSON: protocol, connection id, the peer's current address, and counters. The same values
 * arrive as `X-Connection-*` headers on every response.
 *
 * This is the route clients poll, so its JSON is put together from two pieces of text kept per
 * connection (everything but the two counters), made again only when the peer's address
 * changes, instead of serializing an object per request. The output is exactly what
 * `JSON.stringify` gives for the object in {@link testBody}'s documentation.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import { jsonTextResponse } from "../lib/json_response.ts";
import type { TrackedConnection } from "../lib/tracker/tracker.ts";

/** The JSON text around the counters, for one address of one connection. */
interface BodyParts {
  addr: string;
  head: string;
  tail: string;
}

const partsByConnection = new WeakMap<TrackedConnection, BodyParts>();

/**
 * The answer for `conn`: `JSON.stringify({ protocol, connection_id, remote_addr, request_count,
 * migration_count, connection_started })`, in that order.
 */
export function testBody(conn: TrackedConnection): string {
  let parts = partsByConnection.get(conn);
  if (parts === undefined || parts.addr !== conn.remoteAddr) {
    const addr = conn.remoteAddr;
    parts = {
      addr,
      head: `{"protocol":${JSON.stringify(conn.protocol)},"connection_id":${
        JSON.stringify(conn.id)
      },"remote_addr":${JSON.stringify(addr)},"request_count":`,
      tail: `,"connection_started":${JSON.stringify(conn.startTime)}}`,
    };
    partsByConnection.set(conn, parts);
  }
  return parts.head + conn.requestCount + ',"migration_count":' + conn.migrationCount +
    parts.tail;
}

/** The test route. */
export const test = new Hono<AppEnv>().get("/api/test", (c) => {
  return jsonTextResponse(testBody(c.env.connection));
});
