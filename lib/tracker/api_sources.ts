/**
 * Where the connection and event routes read from, as interfaces the routes depend on: a
 * {@link ConnectionDirectory} (the listing and one connection) and an {@link EventStreamSource}
 * (live `/api/events` streams). A single node answers from its own tracker and event feed
 * (the local implementations here); a cluster node answers from the shared Redis state
 * (`lib/cluster/cluster_directory.ts`, `lib/cluster/cluster_event_feed.ts`). `lib/app.ts`
 * chooses which to pass, so the routes never know about Redis.
 *
 * ```ts
 * const directory = new LocalConnectionDirectory(tracker);
 * const page = await directory.list({ state: "all", limit: 100 });
 * const events = localEventSource(new EventFeed(tracker, limits));
 * ```
 * @module
 */

import type { EventFeed, SubscriptionScope } from "./event_feed.ts";
import type { ConnectionTracker, ListFilter, TrackerSummary } from "./tracker.ts";
import type { TrackedConnection } from "./tracked_connection.ts";
import type { ConnectionInfo } from "./types.ts";

/** A connection as the API lists it: in cluster mode it names the `node` that holds it. */
export type ListedConnection = ConnectionInfo & { node?: string };

/** One page of connections with the totals the listing reports. */
export interface ConnectionListing {
  connections: ListedConnection[];
  /** Totals (the tracker's summary; a cluster's adds where its figures come from). */
  summary: TrackerSummary & { node?: string; note?: string };
  /** The cursor for the next page, or null when this was the last. */
  nextCursor: number | null;
  /** Cluster mode only: where the answer came from (the cluster store or, degraded, this node). */
  source?: string;
}

/** One connection found by id. */
export interface ConnectionLookup {
  info: ListedConnection;
  /** The tracker's live object when this node holds the connection (its activity, its lab view). */
  local: TrackedConnection | undefined;
  /** Cluster mode only: where the answer came from. */
  source?: string;
}

/** The connections the API shows: one node's, or the whole cluster's. */
export interface ConnectionDirectory {
  /** One page matching `filter`, in a stable order, after `filter.cursor`. Never rejects. */
  list(filter: ListFilter): Promise<ConnectionListing>;
  /**
   * A connection by id, or undefined, and in cluster mode why it may be missing (the cluster
   * store was unreachable, so only this node's connections could be searched). Never rejects.
   */
  get(id: string): Promise<{ found?: ConnectionLookup; source?: string }>;
  /** This connection (the caller's own) as the API shows it. */
  own(conn: TrackedConnection): ListedConnection;
}

/** A live `/api/events` stream: chunks of SSE text to write, in order; null at its end. */
export interface EventStreamSubscription {
  /** The next chunk; waits for one; null once the stream has ended. */
  next(): Promise<Uint8Array | null>;
  /** Ends the stream (its client went away). Idempotent. */
  cancel(): void;
}

/** Where `/api/events` streams come from, with their limit. */
export interface EventStreamSource {
  /** The most streams open at once (`--max-event-streams`). */
  readonly maxSubscribers: number;
  /**
   * A new stream resuming after `lastEventId` (the client's `Last-Event-ID`, undefined or not
   * an id of this source: only new events), or undefined when `maxSubscribers` are open.
   */
  subscribe(
    lastEventId: string | undefined,
    scope: SubscriptionScope,
  ): EventStreamSubscription | undefined;
}

/** The connections of this node's tracker: the API of a server without a cluster. */
export class LocalConnectionDirectory implements ConnectionDirectory {
  /** Reads `tracker`. */
  constructor(private readonly tracker: ConnectionTracker) {}

  list(filter: ListFilter): Promise<ConnectionListing> {
    const page = this.tracker.list(filter);
    return Promise.resolve({
      connections: page.connections.map((conn) => conn.toJSON()),
      summary: this.tracker.summary(),
      nextCursor: page.nextCursor,
    });
  }

  get(id: string): Promise<{ found?: ConnectionLookup }> {
    const conn = this.tracker.get(id);
    return Promise.resolve(
      conn === undefined ? {} : { found: { info: conn.toJSON(), local: conn } },
    );
  }

  own(conn: TrackedConnection): ListedConnection {
    return conn.toJSON();
  }
}

/** `feed` as an event stream source: ids are the tracker's event numbers. */
export function localEventSource(feed: EventFeed): EventStreamSource {
  return {
    get maxSubscribers() {
      return feed.maxSubscribers;
    },
    subscribe(lastEventId, scope) {
      const lastId = lastEventId !== undefined && /^[0-9]+$/.test(lastEventId)
        ? Number(lastEventId)
        : feed.lastEventId;
      return feed.subscribe(lastId, scope);
    },
  };
}
