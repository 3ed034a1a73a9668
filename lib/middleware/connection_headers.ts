/**
 * Middleware that reports each request to the tracker (with the peer's address as the listener
 * sees it right now, so a request is also a migration check), counts it by status, and sets the
 * `X-Connection-*` headers on the response.
 *
 * The headers are set on the finished response's own `Headers`, in place: cheaper than
 * `c.header()` before `next()`, which makes Hono copy a prepared `Headers` into the new
 * `Response`, and than `c.header()` after `next()`, which rebuilds the response
 * (`bench/micro/request_path_bench.ts` compares them). A response with immutable headers
 * (for example one returned by `fetch`) falls back to `c.header()`. {@link setConnectionFields}
 * is the same work on a finished response, for code that runs around the app
 * (`every_request.ts`).
 *
 * ```ts
 * app.use(connectionHeaders({ tracker, metrics }));
 * ```
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { LightResponse } from "../light_response.ts";
import type { AppEnv } from "../connection_env.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";

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
    if (!setConnectionFields(c.res, conn)) {
      setConnectionHeaders(conn, headerSetter, { set: c.header });
    }
  };
}

/**
 * Sets the `X-Connection-*` headers of `conn` on `res` in place; false, with nothing set, when
 * its headers are immutable.
 */
export function setConnectionFields(
  res: Response | LightResponse,
  conn: TrackedConnection,
): boolean {
  if (res instanceof LightResponse && res.fields !== undefined) {
    setConnectionHeaders(conn, lightFields, res);
    return true;
  }
  try {
    setConnectionHeaders(conn, headerSetter, res.headers);
    return true;
  } catch {
    return false;
  }
}

/** Where the fields go: a light response's list, or something with `set` (`Headers`). */
type FieldSink<T> = (target: T, name: string, value: string) => void;

const lightFields: FieldSink<LightResponse> = (res, name, value) => res.setField(name, value);
const headerSetter: FieldSink<{ set(name: string, value: string): void }> = (
  headers,
  name,
  value,
) => headers.set(name, value);

function setConnectionHeaders<T>(conn: TrackedConnection, sink: FieldSink<T>, target: T) {
  sink(target, "x-connection-id", conn.id);
  sink(target, "x-remote-addr", conn.remoteAddr);
  sink(target, "x-protocol", conn.protocol);
  sink(target, "x-request-count", String(conn.requestCount));
  sink(target, "x-migration-count", String(conn.migrationCount));
}
