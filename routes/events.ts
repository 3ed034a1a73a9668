/**
 * `GET /api/events`: the tracker's events as Server-Sent Events (`connection_opened`,
 * `migration`, `migration_outcome`, `connection_closed`), each with its id. A client that
 * reconnects with `Last-Event-ID` (or `?last_event_id=`) gets what it missed from a bounded
 * buffer; when that is no longer possible it gets a `reset` event and should reload its state.
 *
 * The fan-out is `lib/tracker/event_feed.ts`: each event is encoded once for all streams; at
 * most `--max-event-streams` streams are open at once (more get 503 with `Retry-After`), and a
 * stream whose client falls `--event-stream-buffer` bytes behind is ended (it can resume).
 * In cluster mode the streams come from the cluster's shared Redis stream instead (its ids are
 * stream ids, valid on every node; see `lib/cluster/cluster_event_feed.ts`), with the same limits.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import type { EventStreamSource, EventStreamSubscription } from "../lib/tracker/api_sources.ts";
import { Visibility } from "../lib/access/visibility.ts";
import { jsonError } from "../lib/http_error.ts";

/** Seconds a refused client is asked to wait: streams end when their clients leave. */
const RETRY_AFTER_SECONDS = 10;

/** The body of one client's stream: its subscription's chunks, pulled as the client reads. */
function streamOf(subscription: EventStreamSubscription): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await subscription.next();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      subscription.cancel();
    },
  }, { highWaterMark: 0 });
}

/** The event stream route over `feed` (which holds the limits). */
export function events(
  feed: EventStreamSource,
  visibility: Visibility = new Visibility("on"),
): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/api/events", (c) => {
    const raw = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    const own = c.env.connection.id;
    const subscription = feed.subscribe(raw, {
      only: visibility.seesAll(c) ? undefined : own,
      owner: own,
    });
    if (subscription === undefined) {
      return jsonError(
        503,
        "too_many_event_streams",
        `${feed.maxSubscribers} event streams are open (--max-event-streams); try again later`,
        { "retry-after": String(RETRY_AFTER_SECONDS) },
      );
    }
    return c.body(streamOf(subscription), 200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
    });
  });
}
