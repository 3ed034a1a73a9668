/**
 * One `/api/events` stream in cluster mode: the cluster's Redis stream from the client's
 * `Last-Event-ID` on, with the stream ids as SSE ids (so a client may resume on any node).
 *
 * It runs in two phases. **Replay**: the events the client missed are read page by page with
 * `RedisDirectory.eventsSince`, one page each time the client has taken the previous one, so a
 * long catch-up is paced by the reader and holds at most a page. **Live**: a `StreamFollower`
 * takes over from the last id replayed (it catches up on what arrived meanwhile, so the
 * hand-over loses and repeats nothing), and its entries go into a byte-bounded
 * `FeedSubscription`: a reader that falls `maxQueuedBytes` behind is ended, as on a single node,
 * and resumes with its last id. When the events after the client's id are gone (trimmed, or the
 * id is from another Redis) it gets a `reset` event and then only new events.
 *
 * Redis being away never fails the stream: the replay waits and retries (a comment says so
 * once), the follower waits, and the events of the outage arrive when Redis is back (the nodes
 * hold them, or write a notice of what they dropped).
 * @module
 */

import type { SubscriptionScope } from "../tracker/event_feed.ts";
import { FeedSubscription } from "../tracker/event_feed.ts";
import type { EventStreamSubscription } from "../tracker/api_sources.ts";
import { withTimeout } from "../timeout.ts";
import { type ClusterStreamEntry, eventConnectionId } from "./cluster_record.ts";
import type { RedisDirectory } from "./redis_directory.ts";
import type { StreamFollower, StreamReset } from "./stream_follower.ts";

const encoder = new TextEncoder();

/** Retries of the live follower joining while Redis is away, before the stream ends. */
const MAX_JOIN_ATTEMPTS = 10_000;
/** Replay pages (or retries) one stream reads, at most; the client can resume past it. */
const MAX_REPLAY_ROUNDS = 1_000_000;

/** What a stream uses of its feed: the cluster's readers, its limits, shared encoding. */
export interface StreamContext {
  readonly directory: Pick<RedisDirectory, "eventsSince">;
  readonly follower: Pick<StreamFollower, "follow">;
  readonly maxQueuedBytes: number;
  /** Entries per replay page. */
  readonly pageSize: number;
  /** Milliseconds between attempts while Redis is away. */
  readonly retryMs: number;
  /** Longest wait for one replay read. */
  readonly readTimeoutMs: number;
  /** The frame of a live entry (shared by every stream: encoded once). */
  frameOf(entry: ClusterStreamEntry): Uint8Array;
}

/** The SSE frame of a stream entry: its stream id, its type, the event with its `node`. */
export function encodeEntryFrame(entry: ClusterStreamEntry): Uint8Array {
  const event = entry.event;
  // The node goes on the event and on its connection record, so a client keeping records from
  // events (the dashboard) knows where each connection is.
  const data = "connection" in event
    ? { ...event, node: entry.node, connection: { ...event.connection, node: entry.node } }
    : { ...event, node: entry.node };
  return encoder.encode(`id: ${entry.id}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`);
}

function resetFrame(reason: string): Uint8Array {
  return encoder.encode(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
}

/** One client's stream; made by `ClusterEventFeed.subscribe`. */
export class ClusterEventStream implements EventStreamSubscription {
  readonly #context: StreamContext;
  readonly #only: string | undefined;
  /** The live part, and the byte bound; it also carries heartbeats from the start. */
  readonly live: FeedSubscription;
  /** Frames to send before anything live: the greeting, then each replay page in turn. */
  #pending: Uint8Array[];
  #replaying: boolean;
  /** The stream id of the last entry replayed (or skipped as not visible). */
  #last: string;
  #saidUnreachable = false;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;

  /**
   * @param lastId the client's last stream id, or undefined for only new events
   * @param onEnd called once when the stream ends; `dropped` when it fell too far behind
   */
  constructor(
    context: StreamContext,
    greeting: Uint8Array,
    lastId: string | undefined,
    scope: SubscriptionScope,
    onEnd: (stream: ClusterEventStream, dropped: boolean) => void,
  ) {
    this.#context = context;
    this.#only = scope.only;
    this.#pending = [greeting];
    this.live = new FeedSubscription([], context.maxQueuedBytes, (_, dropped) => {
      this.#abort.abort();
      this.#wake?.();
      onEnd(this, dropped);
    });
    this.#replaying = lastId !== undefined;
    this.#last = lastId ?? "$";
    if (!this.#replaying) this.#startLive("$");
  }

  /** The next chunk; waits for one; null once the stream has ended. */
  async next(): Promise<Uint8Array | null> {
    // Bounded: each round sends a frame, reads a page that moves `#last` on, or waits a retry.
    for (let round = 0; round < MAX_REPLAY_ROUNDS; round++) {
      if (!this.live.open) return this.live.next(); // its last words, if any, then the end
      const frame = this.#pending.shift();
      if (frame !== undefined) return frame;
      if (!this.#replaying) return this.live.next();
      await this.#replayPage();
    }
    this.cancel(); // the client resumes from its last id
    return null;
  }

  /** Ends the stream (its client went away). Idempotent. */
  cancel(): void {
    this.live.cancel();
  }

  #visible(entry: ClusterStreamEntry): boolean {
    if (this.#only === undefined || entry.event.type === "events_dropped") return true;
    return eventConnectionId(entry.event) === this.#only;
  }

  async #replayPage(): Promise<void> {
    let entries: ClusterStreamEntry[] | null;
    try {
      entries = await withTimeout(
        this.#context.directory.eventsSince(this.#last, this.#context.pageSize),
        this.#context.readTimeoutMs,
        "the events to replay",
      );
    } catch {
      if (!this.#saidUnreachable) {
        this.#saidUnreachable = true;
        this.#pending.push(
          encoder.encode(": the cluster store is unreachable; waiting for it\n\n"),
        );
      }
      await this.#pause(this.#context.retryMs);
      return;
    }
    if (entries === null) {
      this.#pending.push(
        resetFrame(`events after ${this.#last} are no longer in the stream; reload`),
      );
      this.#replaying = false;
      this.#startLive("$");
      return;
    }
    if (entries.length === 0) {
      this.#replaying = false;
      this.#startLive(this.#last);
      return;
    }
    for (const entry of entries) {
      if (this.#visible(entry)) this.#pending.push(encodeEntryFrame(entry));
      this.#last = entry.id;
    }
  }

  /** Feeds the follower's entries after `from` into the live queue until the stream ends. */
  #startLive(from: string): void {
    const run = async () => {
      let last = from;
      for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS && this.live.open; attempt++) {
        try {
          const entries = this.#context.follower.follow(last, this.#abort.signal);
          for await (const item of entries) {
            last = this.#deliver(item) ?? last;
          }
          break; // ended: aborted, the follower closed, or this reader fell behind it
        } catch {
          await this.#pause(this.#context.retryMs); // Redis away while joining: try again
        }
      }
      this.live.cancel(); // its client reconnects and resumes from its last id
    };
    run();
  }

  /** Queues one follower item; returns the stream id it moves the position to, if any. */
  #deliver(item: ClusterStreamEntry | StreamReset): string | undefined {
    if (item.id === null) {
      this.live.push(resetFrame(item.reset));
      return undefined;
    }
    if (this.#visible(item)) this.live.push(this.#context.frameOf(item));
    return item.id;
  }

  /** Waits `ms`, or less if the stream ends meanwhile. */
  async #pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }
}
