/**
 * Middleware that reports each request to the tracker (with the peer's address as the listener
 * sees it right now, so a request is also a migration check) and sets the `X-Connection-*`
 * headers on the response.
 *
 * The headers are set on the finished response's own `Headers`, in place. Measured in Deno
 * 2.9 (bench/request_path_bench.ts), that costs about a third of `c.header()` before
 * `next()`, which makes Hono copy a prepared `Headers` into the new `Response`, and far less than
 * `c.header()` after `next()`, which rebuilds the response. A response with immutable headers
 * (for example one returned by `fetch`) falls back to `c.header()`.
 *
 * ```ts
 * app.use(connectionHeaders(tracker));
 * ```
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../server/connection_env.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";

/** Creates the middleware for `tracker`. */
export function connectionHeaders(tracker: ConnectionTracker): MiddlewareHandler<AppEnv> {
  return async function connectionHeadersMiddleware(c, next) {
    tracker.request(c.env.connection, c.env.remoteAddr());
    await next();
    try {
      setConnectionHeaders(c, c.res.headers.set.bind(c.res.headers));
    } catch {
      setConnectionHeaders(c, c.header);
    }
  };
}

function setConnectionHeaders(c: Context<AppEnv>, set: (name: string, value: string) => void) {
  const conn = c.env.connection;
  set("x-connection-id", conn.id);
  set("x-remote-addr", conn.remoteAddr);
  set("x-protocol", conn.protocol);
  set("x-request-count", String(conn.requestCount));
  set("x-migration-count", String(conn.migrationCount));
}
