/**
 * Middleware that sets the browser-facing security headers on every response:
 * `X-Content-Type-Options: nosniff` (a browser takes the declared type, never a guess from the
 * bytes) and a Content-Security-Policy. A response that already has its own policy (the
 * dashboard's page, `routes/pages.ts`) keeps it; every other one gets
 * {@link API_CONTENT_SECURITY_POLICY}, which lets nothing load, run or frame it.
 *
 * Like `connection_headers.ts`, it adds to a light response's field list (`lib/light_response.ts`),
 * or sets the headers on the finished response's own `Headers` in place, and falls back to
 * `c.header()` for a response whose headers are immutable. {@link setSecurityFields} is the same
 * work on a finished response, for code that runs around the app (`every_request.ts`).
 *
 * ```ts
 * app.use(securityHeaders());
 * ```
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../connection_env.ts";
import { API_CONTENT_SECURITY_POLICY } from "../http_error.ts";
import { LightResponse } from "../light_response.ts";

/** What {@link securityHeaders} is configured with. */
export interface SecurityHeadersOptions {
  /** The policy for responses without one of their own (default: no loading, no framing). */
  contentSecurityPolicy?: string;
}

/** Creates the middleware. */
export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler<AppEnv> {
  const policy = options.contentSecurityPolicy ?? API_CONTENT_SECURITY_POLICY;
  return async function securityHeadersMiddleware(c, next) {
    await next();
    if (!setSecurityFields(c.res, policy)) {
      setSecurityHeaders(c.res.headers, { set: c.header }, policy);
    }
  };
}

/**
 * Sets the security headers on `res` in place (`policy` unless it has a policy of its own);
 * false, with nothing set, when its headers are immutable.
 */
export function setSecurityFields(res: Response | LightResponse, policy: string): boolean {
  if (res instanceof LightResponse && res.fields !== undefined) {
    res.setField("x-content-type-options", "nosniff");
    if (!res.hasField("content-security-policy")) res.setField("content-security-policy", policy);
    return true;
  }
  try {
    setSecurityHeaders(res.headers, res.headers, policy);
    return true;
  } catch {
    return false;
  }
}

function setSecurityHeaders(
  current: Headers,
  headers: { set(name: string, value: string): void },
  policy: string,
): void {
  headers.set("x-content-type-options", "nosniff");
  if (!current.has("content-security-policy")) headers.set("content-security-policy", policy);
}
