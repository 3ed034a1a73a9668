/**
 * What every request gets, wrapped around the app's `fetch` instead of running as Hono
 * middleware: the tracker is told of the request (with the peer's current address, so a
 * request is also a migration check) before the app sees it, and the answer is counted and
 * given the `X-Connection-*` headers (`connection_headers.ts`) and the security headers
 * (`security_headers.ts`), the latter first, as the two middleware did in that order.
 *
 * Why around the app: with no middleware of its own, a route that Hono matches alone (a GET of
 * `/healthz` or `/api/test`) takes Hono's single-handler path, without a middleware chain
 * composed and awaited for every request. Errors and unknown paths are answered by the app's
 * own handlers (`onError`, `notFound`) inside Hono, so every answer, theirs included, passes
 * here, as it passed through the middleware.
 *
 * ```ts
 * app.fetch = everyRequest(app.fetch, { tracker, metrics });
 * ```
 * @module
 */

import type { ConnectionEnv } from "../connection_env.ts";
import { API_CONTENT_SECURITY_POLICY } from "../http_error.ts";
import type { LightResponse } from "../light_response.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import { setConnectionFields } from "./connection_headers.ts";
import { setSecurityFields } from "./security_headers.ts";

/** An app's entry point, as the listeners call it. */
export type AppFetch = (
  request: Request,
  env: ConnectionEnv,
) => Response | Promise<Response>;

/** What {@link everyRequest} is configured with. */
export interface EveryRequestOptions {
  /** Told of every request, with the address it came from. */
  tracker: ConnectionTracker;
  /** Counts answered requests by protocol and status, when given. */
  metrics?: Metrics;
  /** The policy for answers without one of their own (default: the API's). */
  contentSecurityPolicy?: string;
}

/** `fetch`, with the tracking, counting and headers every request gets. */
export function everyRequest(fetch: AppFetch, options: EveryRequestOptions): AppFetch {
  const { tracker, metrics } = options;
  const policy = options.contentSecurityPolicy ?? API_CONTENT_SECURITY_POLICY;
  const finish = (res: Response | LightResponse, conn: TrackedConnection): Response => {
    metrics?.countRequest(conn.protocol, res.status);
    if (!setSecurityFields(res, policy)) {
      // Immutable headers (a response from `fetch`): a copy takes them, as `c.header()` does.
      res = new Response(res.body, res as Response);
      setSecurityFields(res, policy);
    }
    setConnectionFields(res, conn);
    return res as Response;
  };
  return function everyRequestFetch(request, env) {
    const conn = env.connection;
    tracker.request(conn, env.remoteAddr());
    const answer = fetch(request, env);
    // A handler that answers at once (Hono then returns its answer, not a promise) is finished
    // at once too: no promise is made for it here.
    return answer instanceof Promise
      ? answer.then((res) => finish(res, conn))
      : finish(answer, conn);
  };
}
