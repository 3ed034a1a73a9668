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
import { LightResponse } from "../light_response.ts";
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
    const res = c.res as Response | LightResponse;
    metrics?.countRequest(conn.protocol, res.status);
    if (res instanceof LightResponse && res.fields !== undefined) {
      setConnectionHeaders(c, lightFields, res);
      return;
    }
    try {
      setConnectionHeaders(c, headerSetter, res.headers);
    } catch {
      setConnectionHeaders(c, headerSetter, { set: c.header });
    }
  };
}

/** Where the fields go: a light response's list, or something with `set` (`Headers`). */
type FieldSink<T> = (target: T, name: string, value: string) => void;

const lightFields: FieldSink<LightResponse> = (res, name, value) => res.setField(name, value);
const headerSetter: FieldSink<{ set(name: string, value: string): void }> = (
  headers,
  name,
  value,
) => headers.set(name, value);

function setConnectionHeaders<T>(c: Context<AppEnv>, sink: FieldSink<T>, target: T) {
  const conn = c.env.connection;
  sink(target, "x-connection-id", conn.id);
  sink(target, "x-remote-addr", conn.remoteAddr);
  sink(target, "x-protocol", conn.protocol);
  sink(target, "x-request-count", String(conn.requestCount));
  sink(target, "x-migration-count", String(conn.migrationCount));
}
