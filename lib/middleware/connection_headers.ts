/**
 * Middleware that reports each request to the tracker (with the peer's address as the listener
 * sees it right now, so a request is also a migration check), counts it by status, and sets the
 * `X-Connection-*` headers on the response.
 *
 * The headers are set on the finished response's own `Headers`, in place: cheaper than
 * `c.header()` before `next()`, which makes Hono copy a prepared `Headers` into the new
 * `Response`, and than `c.header()` after `next()`, which rebuilds the response
 * (`bench/micro/request_path_bench.ts` compares them). A response with immutable headers
 * (for example one returned by `fetch`) falls back to `c.header()`.
 *
 * ```ts
 * app.use(connectionHeaders({ tracker, metrics }));
 * ```
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../connection_env.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";

/** What {@link connectionHeaders} is configured with. */
export interface ConnectionHeadersOptions {
  /** Told of every request, with the address it came from. */
  tracker: ConnectionTracker;
  /** Counts answered requests by protocol and status, when given. */
  metrics?: Metrics;
}

/** Creates the middleware. */
export function connectionHeaders(options: ConnectionHeadersOptions): MiddlewareHandler<AppEnv> {
  const { tracker, metrics } = options;
  return async function connectionHeadersMiddleware(c, next) {
    const conn = c.env.connection;
    tracker.request(conn, c.env.remoteAddr());
    await next();
    metrics?.countRequest(conn.protocol, c.res.status);
    try {
      setConnectionHeaders(c, c.res.headers);
    } catch {
      setConnectionHeaders(c, { set: c.header });
    }
  };
}

function setConnectionHeaders(
  c: Context<AppEnv>,
  headers: { set(name: string, value: string): void },
) {
  const conn = c.env.connection;
  headers.set("x-connection-id", conn.id);
  headers.set("x-remote-addr", conn.remoteAddr);
  headers.set("x-protocol", conn.protocol);
  headers.set("x-request-count", String(conn.requestCount));
  headers.set("x-migration-count", String(conn.migrationCount));
}
