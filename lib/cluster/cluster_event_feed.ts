/**
 * `/api/events` in cluster mode: live streams of the cluster's shared Redis stream, with the
 * single-node feed's limits (`lib/tracker/event_feed.ts`): at most `maxSubscribers` streams at
 * once (more are refused, and counted), each bounded to `maxQueuedBytes` of unread events, a
 * heartbeat now and then, and a stream made on a connection ends when that connection closes.
 * Each live entry is encoded once for every stream (the node's one follower loop hands the same
 * entry to all of them); a replay is read per client, paced by its reading (see
 * `cluster_event_stream.ts`). SSE ids are the Redis stream ids, so a client resumes on any node.
 *
 * ```ts
 * const feed = new ClusterEventFeed(tracker, clusterState, { maxSubscribers: 256, maxQueuedBytes: 1 << 20 });
 * const stream = feed.subscribe(request.headers.get("last-event-id") ?? undefined, { owner: conn.id });
 * ```
 * @module
 */

import type { EventStreamSource } from "../tracker/api_sources.ts";
import type { EventFeedStats, SubscriptionScope } from "../tracker/event_feed.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";
import type { ClusterStreamEntry } from "./cluster_record.ts";
import {
  ClusterEventStream,
  encodeEntryFrame,
  type StreamContext,
} from "./cluster_event_stream.ts";
import { isStreamId } from "./redis_keys.ts";

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");
/** What a browser waits before reconnecting a dropped stream (the SSE `retry` field). */
const RETRY_MS = 2000;

/** Limits and timing of a cluster feed. */
export interface ClusterEventFeedOptions {
  /** Streams at once; more are refused. */
  maxSubscribers: number;
  /** Bytes one stream may fall behind by before it is ended. */
  maxQueuedBytes: number;
  /** Milliseconds between heartbeat comments (default 15 s). */
  heartbeatMs?: number;
  /** Milliseconds between attempts while Redis is away (default 500). */
  retryMs?: number;
  /** Entries per replay page (default 256). */
  pageSize?: number;
  /** Longest wait for one replay read (default 2,000 ms). */
  readTimeoutMs?: number;
}

/** What the feed uses of a node's cluster state (`ClusterState` has it). */
export interface ClusterStreams {
  readonly directory: StreamContext["directory"];
  readonly follower: StreamContext["follower"];
  readonly node: string | undefined;
}

/** Live cluster event streams for `/api/events`; see the module documentation. */
export class ClusterEventFeed implements EventStreamSource {
  readonly #cluster: ClusterStreams;
  readonly #maxSubscribers: number;
  readonly #heartbeatMs: number;
  readonly #context: StreamContext;
  /** Each live entry's frame, while some stream may still need it. */
  readonly #frames = new WeakMap<ClusterStreamEntry, Uint8Array>();
  readonly #streams = new Set<ClusterEventStream>();
  /** Streams by the connection they were made on, ended when it closes. */
  readonly #byOwner = new Map<string, Set<ClusterEventStream>>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #unsubscribe: () => void;
  /** Totals since the feed started (the same families as a single node's feed). */
  readonly stats: EventFeedStats = { encoded: 0, refused: 0, dropped: 0 };

  /** Serves `cluster`'s stream; follows `tracker` for the closes of streams' connections. */
  constructor(
    tracker: ConnectionTracker,
    cluster: ClusterStreams,
    options: ClusterEventFeedOptions,
  ) {
    this.#cluster = cluster;
    this.#maxSubscribers = options.maxSubscribers;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#context = {
      directory: cluster.directory,
      follower: cluster.follower,
      maxQueuedBytes: options.maxQueuedBytes,
      pageSize: options.pageSize ?? 256,
      retryMs: options.retryMs ?? 500,
      readTimeoutMs: options.readTimeoutMs ?? 2000,
      frameOf: (entry) => this.#frameOf(entry),
    };
    this.#unsubscribe = tracker.subscribe((event) => {
      if (event.type !== "connection_closed") return;
      const owned = this.#byOwner.get(event.connection.connection_id);
      if (owned !== undefined) { for (const stream of [...owned]) stream.cancel(); }
    });
  }

  /** Streams open now. */
  get subscribers(): number {
    return this.#streams.size;
  }

  /** The most streams open at once. */
  get maxSubscribers(): number {
    return this.#maxSubscribers;
  }

  /**
   * A new stream from after `lastEventId` (a stream id; anything else: only new events), or
   * undefined when `maxSubscribers` are open.
   */
  subscribe(
    lastEventId: string | undefined,
    scope: SubscriptionScope = {},
  ): ClusterEventStream | undefined {
    if (this.#streams.size >= this.#maxSubscribers) {
      this.stats.refused++;
      return undefined;
    }
    const from = lastEventId !== undefined && isStreamId(lastEventId) ? lastEventId : undefined;
    const greeting = encoder.encode(
      `retry: ${RETRY_MS}\n: connected to the cluster's event stream on node ${
        this.#cluster.node ?? "(starting)"
      }; ids are valid on every node\n\n`,
    );
    const stream = new ClusterEventStream(
      this.#context,
      greeting,
      from,
      scope,
      (ended, dropped) => this.#release(ended, scope, dropped),
    );
    this.#streams.add(stream);
    if (scope.owner !== undefined) {
      let owned = this.#byOwner.get(scope.owner);
      if (owned === undefined) this.#byOwner.set(scope.owner, owned = new Set());
      owned.add(stream);
    }
    this.#heartbeat ??= setInterval(() => this.heartbeat(), this.#heartbeatMs);
    return stream;
  }

  /** Sends a heartbeat comment to every stream (the feed's timer calls it). */
  heartbeat(): void {
    for (const stream of this.#streams) stream.live.push(HEARTBEAT);
  }

  /** Stops following the tracker and ends every stream. */
  close(): void {
    this.#unsubscribe();
    for (const stream of [...this.#streams]) stream.cancel();
  }

  #frameOf(entry: ClusterStreamEntry): Uint8Array {
    let frame = this.#frames.get(entry);
    if (frame === undefined) {
      frame = encodeEntryFrame(entry);
      this.#frames.set(entry, frame);
      this.stats.encoded++;
    }
    return frame;
  }

  #release(stream: ClusterEventStream, scope: SubscriptionScope, dropped: boolean): void {
    if (!this.#streams.delete(stream)) return;
    if (dropped) this.stats.dropped++;
    if (scope.owner !== undefined) {
      const owned = this.#byOwner.get(scope.owner);
      owned?.delete(stream);
      if (owned?.size === 0) this.#byOwner.delete(scope.owner);
    }
    if (this.#streams.size === 0) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }
}
