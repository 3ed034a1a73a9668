/**
 * A per-connection rate limit for mutating endpoints: a token bucket per connection, holding
 * up to one second's worth of requests. A request over the limit gets 429 with `Retry-After`.
 * Buckets hang off the connection's record weakly, so closed connections cost nothing.
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../connection_env.ts";
import { excerpt } from "../bounded_int.ts";
import type { TrackedConnection } from "../tracker/tracker.ts";

interface Bucket {
  tokens: number;
  at: number;
}

/** What {@link rateLimitPerConnection} is configured with. */
export interface RateLimitOptions {
  /** Requests per second per connection; bursts up to the same number. */
  perSecond: number;
  /** Called for each refused request with its route (metrics). */
  onLimited?: (route: string) => void;
  /** The clock, in ms (injectable for tests); `performance.now` by default. */
  now?: () => number;
}

/** The middleware: `perSecond` requests per second per connection, then 429. */
export function rateLimitPerConnection(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const { perSecond, onLimited } = options;
  const now = options.now ?? performance.now.bind(performance);
  const buckets = new WeakMap<TrackedConnection, Bucket>();
  return async (c, next) => {
    const t = now();
    let bucket = buckets.get(c.env.connection);
    if (bucket === undefined) {
      bucket = { tokens: perSecond, at: t };
      buckets.set(c.env.connection, bucket);
    }
    bucket.tokens = Math.min(perSecond, bucket.tokens + (t - bucket.at) * perSecond / 1000);
    bucket.at = t;
    if (bucket.tokens < 1) {
      onLimited?.(c.req.routePath);
      const retryAfter = Math.ceil((1 - bucket.tokens) * 1000 / perSecond / 1000);
      c.header("retry-after", String(Math.max(1, retryAfter)));
      return c.json({
        error: "rate_limited",
        detail: `at most ${perSecond} requests per second per connection to ${excerpt(c.req.path)}`,
      }, 429);
    }
    bucket.tokens -= 1;
    return await next();
  };
}
