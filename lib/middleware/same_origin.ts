/**
 * Same-origin only for state-changing requests. The server sends no CORS headers, so browsers
 * already keep other sites from reading its answers; this also refuses the requests a
 * cross-site page could still *send* (a form post, a "simple" fetch): any POST, PUT, PATCH or
 * DELETE whose `Origin` is not this server's own, or that the browser marks `Sec-Fetch-Site:
 * cross-site`, gets 403.
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../connection_env.ts";
import { excerpt } from "../bounded_int.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** True when `origin` names the same host and port as the request's own URL. */
export function isSameOrigin(origin: string, requestUrl: string): boolean {
  try {
    const o = new URL(origin);
    const r = new URL(requestUrl);
    return o.protocol === r.protocol && o.host === r.host;
  } catch {
    return false;
  }
}

/** What {@link sameOriginOnly} is configured with (nothing yet: the rule has no settings). */
export type SameOriginOptions = Record<never, never>;

/** The middleware; GET, HEAD and OPTIONS pass untouched. */
export function sameOriginOnly(_options: SameOriginOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return await next();
    const origin = c.req.header("origin");
    const foreign = c.req.header("sec-fetch-site") === "cross-site" ||
      (origin !== undefined && (origin === "null" || !isSameOrigin(origin, c.req.url)));
    if (foreign) {
      return c.json({
        error: "cross_origin",
        detail:
          `${c.req.method} from another origin (${excerpt(origin ?? "cross-site")}) is refused; ` +
          "call the API from this server's own pages or without an Origin header (curl)",
      }, 403);
    }
    return await next();
  };
}
