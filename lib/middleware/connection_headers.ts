/**
 * Middleware that counts each request on its connection and sets the `X-Connection-*`
 * headers. The headers are set before the handler runs, so Hono builds the response with them
 * once; setting them after `await next()` would rebuild the response, which costs several
 * microseconds a request.
 *
 * ```ts
 * app.use(connectionHeaders(tracker));
 * ```
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../server/connection_env.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";

/** Creates the middleware for `tracker`. */
export function connectionHeaders(tracker: ConnectionTracker): MiddlewareHandler<AppEnv> {
  return async function connectionHeadersMiddleware(c, next) {
    const env = c.env;
    const record = env.connection;
    tracker.request(record);
    c.header("x-connection-id", record.connection_id);
    c.header("x-remote-addr", env.remoteAddr());
    c.header("x-protocol", record.protocol);
    c.header("x-request-count", String(record.request_count));
    c.header("x-migration-count", String(record.migration_count));
    await next();
  };
}
