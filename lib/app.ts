/**
 * The Hono app: mounted routes and the middleware of some of them, its `fetch` wrapped in what
 * every request gets (tracking, counting, the connection and security headers). Both listeners
 * (HTTP/3 over QUIC and HTTPS over TCP) serve this same app; each passes the connection a request
 * arrived on as `env` (see `ConnectionEnv`).
 * @module
 */

import { Hono } from "hono";
import { DEFAULT_LIMITS } from "./limits.ts";
import { errorAnswer, jsonError } from "./http_error.ts";
import { excerpt } from "./bounded_int.ts";
import { everyRequest } from "./middleware/every_request.ts";
import type { AppEnv, ConnectionEnv } from "./connection_env.ts";
import type { ConnectionTracker } from "./tracker/tracker.ts";
import type { EventFeedGauges, Metrics } from "./metrics/metrics.ts";
import { connections } from "../routes/connections.ts";
import { echo } from "../routes/echo.ts";
import { events } from "../routes/events.ts";
import { metricsRoute } from "../routes/metrics.ts";
import { simulate } from "../routes/simulate.ts";
import type { MigrationLab } from "./lab/lab.ts";
import { healthRoute } from "../routes/health.ts";
import { info, type ServerFacts } from "../routes/info.ts";
import { pages } from "../routes/pages.ts";
import { test } from "../routes/test.ts";
import type { DashboardVisibility } from "./access/visibility.ts";
import { rateLimitPerConnection } from "./middleware/rate_limit.ts";
import { sameOriginOnly } from "./middleware/same_origin.ts";
import { EventFeed } from "./tracker/event_feed.ts";
import { Visibility } from "./access/visibility.ts";
import {
  type ConnectionDirectory,
  type EventStreamSource,
  LocalConnectionDirectory,
  localEventSource,
} from "./tracker/api_sources.ts";
import type { ClusterState } from "./cluster/cluster_state.ts";
import { ClusterConnectionDirectory } from "./cluster/cluster_directory.ts";
import { ClusterEventFeed } from "./cluster/cluster_event_feed.ts";

/** What the app needs from the rest of the server. */
export interface AppDeps {
  tracker: ConnectionTracker;
  metrics: Metrics;
  /** The migration lab, once it is running (undefined when off). */
  lab?: () => MigrationLab | undefined;
  /** Token that authorizes administrative calls. */
  adminToken?: string;
  /** Where the lab is, for answers that send clients there. */
  labUrl?: () => string;
  /** Who sees other clients' connections (default `localhost`). */
  publicDashboard?: DashboardVisibility;
  /** Requests per second per connection to mutating endpoints (default: `lib/limits.ts`). */
  mutatingRequestsPerSecond?: number;
  /** Largest JSON request body in bytes (default: `lib/limits.ts`). */
  maxJsonBodyBytes?: number;
  /** `/api/events` streams open at once (default: `lib/limits.ts`). */
  maxEventStreams?: number;
  /** Bytes one `/api/events` client may fall behind by (default: `lib/limits.ts`). */
  eventStreamBufferBytes?: number;
  /** Ports, certificate hash and bound host, for the page's instructions (`GET /api/info`). */
  facts?: () => ServerFacts | undefined;
  /** Cluster mode: the API answers from the Redis-shared state (see `lib/cluster/`). */
  cluster?: ClusterState;
}

/** Where the connection and event routes read: this node's tracker, or the cluster's store. */
function apiSources(deps: AppDeps): {
  directory: ConnectionDirectory;
  events: EventStreamSource;
  gauges: EventFeedGauges;
} {
  const limits = {
    maxSubscribers: deps.maxEventStreams ?? DEFAULT_LIMITS.maxEventStreams,
    maxQueuedBytes: deps.eventStreamBufferBytes ?? DEFAULT_LIMITS.eventStreamBufferBytes,
  };
  if (deps.cluster === undefined) {
    const feed = new EventFeed(deps.tracker, limits);
    return {
      directory: new LocalConnectionDirectory(deps.tracker),
      events: localEventSource(feed),
      gauges: feed,
    };
  }
  const feed = new ClusterEventFeed(deps.tracker, deps.cluster, limits);
  return {
    directory: new ClusterConnectionDirectory(deps.tracker, deps.cluster),
    events: feed,
    gauges: feed,
  };
}

/** Builds the app. Errors become JSON `{error, detail}` with the right status. */
export async function createApp(deps: AppDeps): Promise<Hono<AppEnv>> {
  const app = new Hono<AppEnv>();
  const visibility = new Visibility(deps.publicDashboard ?? "localhost", deps.adminToken, deps.lab);
  const sources = apiSources(deps);
  deps.metrics.observeEventFeed(sources.gauges);
  const cluster = deps.cluster;
  // Only on state-changing methods, so GETs (the hot path) pass no extra middleware.
  app.on(["POST", "PUT", "PATCH", "DELETE"], "*", sameOriginOnly());
  app.use(
    "/api/simulate-migration",
    rateLimitPerConnection({
      perSecond: deps.mutatingRequestsPerSecond ?? DEFAULT_LIMITS.mutatingRequestsPerSecond,
      onLimited: (route) => deps.metrics.countRateLimited(route),
    }),
  );
  app.route(
    "/",
    healthRoute(() => {
      const report = cluster?.health();
      return report?.status === "degraded" ? { ...report, status: "degraded" } : undefined;
    }),
  );
  app.route("/", test);
  app.route("/", echo);
  app.route("/", connections(sources.directory, deps.lab, visibility));
  app.route("/", simulate(deps));
  app.route("/", events(sources.events, visibility));
  app.route("/", metricsRoute(deps.metrics));
  app.route("/", info(deps.facts ?? (() => undefined), deps.lab));
  app.route("/", await pages());
  app.notFound((c) => jsonError(404, "not_found", `no route for ${excerpt(c.req.path)}`));
  app.onError((error) => errorAnswer(error));
  // Tracking, counting, and the connection and security headers wrap the app's entry point (the
  // one both listeners call) rather than run as middleware: see `middleware/every_request.ts`.
  const wrapped = everyRequest(app.fetch, { tracker: deps.tracker, metrics: deps.metrics });
  app.fetch = (request, env) => wrapped(request, env as ConnectionEnv);
  return app;
}
