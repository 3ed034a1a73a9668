/**
 * The tracker's events as Server-Sent Events frames for many live subscribers (`/api/events`),
 * at a cost that does not grow with their number:
 *
 * - each event is encoded **once**, when it happens, and the same bytes go to every subscriber
 *   that may see it (and to a resuming one's replay), so a thousand watchers cost one
 *   `JSON.stringify`, not a thousand;
 * - a subscriber restricted to its own connection is filed under that connection's id, so an
 *   event reaches only the subscribers allowed to see it, without a check per subscriber;
 * - at most `maxSubscribers` subscriptions exist at once ({@link EventFeed.subscribe} answers
 *   undefined beyond that);
 * - each subscriber's queue is bounded in bytes: one that does not read is ended once it is
 *   `maxQueuedBytes` behind, never buffered without bound. It can resume with its last event id;
 * - a subscription made on a connection ends when the tracker reports that connection closed,
 *   so a client that went away gives its slot back even if nothing is written to it (a write to
 *   a closed QUIC stream is not guaranteed to fail).
 *
 * It performs no I/O: a subscription hands out chunks through {@link FeedSubscription.next}
 * and the caller writes them (`routes/events.ts` wraps one in a `ReadableStream`).
 *
 * ```ts
 * const feed = new EventFeed(tracker, { maxSubscribers: 256, maxQueuedBytes: 1 << 20 });
 * const subscription = feed.subscribe(lastEventId, { owner: conn.id, only: conn.id });
 * if (subscription === undefined) return tooMany();
 * for (let chunk = await subscription.next(); chunk !== null; chunk = await subscription.next()) {
 *   await write(chunk);
 * }
 * ```
 * @module
 */

import type { ConnectionTracker } from "./tracker.ts";
import type { TrackerEvent } from "./types.ts";

const encoder = new TextEncoder();
/** Sent to every subscriber now and then, so proxies and idle timeouts keep the stream. */
const HEARTBEAT = encoder.encode(": heartbeat\n\n");
/** Default milliseconds between heartbeats. */
const HEARTBEAT_MS = 15_000;
/** What a browser waits before reconnecting a dropped stream (the SSE `retry` field). */
const RETRY_MS = 2000;

/** The connection an event is about. */
export function eventConnectionId(event: TrackerEvent): string {
  return "connection_id" in event ? event.connection_id : event.connection.connection_id;
}

/** The SSE frame of `event`: its id, its type, and the event as JSON. */
export function encodeEventFrame(event: TrackerEvent): Uint8Array {
  return encoder.encode(
    `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`,
  );
}

/** Limits of an {@link EventFeed}. */
export interface EventFeedOptions {
  /** Subscriptions at once; more are refused. */
  maxSubscribers: number;
  /** Bytes one subscriber may fall behind by before it is ended. */
  maxQueuedBytes: number;
  /** Milliseconds between heartbeat comments (default 15 s). */
  heartbeatMs?: number;
}

/** Whose subscription it is and what it may see. */
export interface SubscriptionScope {
  /** Only this connection's events (a client restricted to its own connection). */
  only?: string;
  /** The connection the subscription was made on: it ends when that connection closes. */
  owner?: string;
}

/** Totals since the feed started. */
export interface EventFeedStats {
  /** Events encoded: one per event, however many subscribers saw it. */
  encoded: number;
  /** Subscriptions refused because `maxSubscribers` were open. */
  refused: number;
  /** Subscribers ended because they fell `maxQueuedBytes` behind. */
  dropped: number;
}

/** Fans the tracker's events out to live subscribers; see the module documentation. */
export class EventFeed {
  readonly #tracker: ConnectionTracker;
  readonly #maxSubscribers: number;
  readonly #maxQueuedBytes: number;
  readonly #heartbeatMs: number;
  /** Each event's frame, for as long as the tracker's resume buffer keeps the event. */
  readonly #frames = new WeakMap<TrackerEvent, Uint8Array>();
  /** Subscribers that see every event. */
  readonly #everything = new Set<FeedSubscription>();
  /** Subscribers that see only one connection's events, by its id. */
  readonly #byConnection = new Map<string, Set<FeedSubscription>>();
  /** Subscriptions by the connection they were made on, ended when it closes. */
  readonly #byOwner = new Map<string, Set<FeedSubscription>>();
  #subscribers = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #unsubscribe: () => void;
  /** Totals since the feed started. */
  readonly stats: EventFeedStats = { encoded: 0, refused: 0, dropped: 0 };

  /** Starts following `tracker`'s events. */
  constructor(tracker: ConnectionTracker, options: EventFeedOptions) {
    this.#tracker = tracker;
    this.#maxSubscribers = options.maxSubscribers;
    this.#maxQueuedBytes = options.maxQueuedBytes;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#unsubscribe = tracker.subscribe(this.#onEvent);
  }

  /** Subscriptions open now. */
  get subscribers(): number {
    return this.#subscribers;
  }

  /** The most subscriptions open at once. */
  get maxSubscribers(): number {
    return this.#maxSubscribers;
  }

  /** The id of the newest event (where a subscriber with no `Last-Event-ID` starts). */
  get lastEventId(): number {
    return this.#tracker.lastEventId;
  }

  /**
   * A new subscription, or undefined when `maxSubscribers` are open. It first replays the
   * events after `lastId` that it may see (or a `reset` event when they are no longer all
   * buffered), then every new one.
   */
  subscribe(lastId: number, scope: SubscriptionScope = {}): FeedSubscription | undefined {
    const { only: onlyConnection, owner } = scope;
    if (this.#subscribers >= this.#maxSubscribers) {
      this.stats.refused++;
      return undefined;
    }
    const replay: Uint8Array[] = [
      encoder.encode(
        `retry: ${RETRY_MS}\n: connected, last event id ${this.#tracker.lastEventId}\n\n`,
      ),
    ];
    const missed = this.#tracker.eventsSince(lastId);
    if (missed === null) {
      replay.push(encoder.encode(
        `event: reset\ndata: {"reason":"events after ${lastId} are no longer buffered; reload"}\n\n`,
      ));
    } else {
      for (const event of missed) {
        if (onlyConnection === undefined || eventConnectionId(event) === onlyConnection) {
          replay.push(this.#frameOf(event));
        }
      }
    }
    const subscription = new FeedSubscription(
      replay,
      this.#maxQueuedBytes,
      (ended, dropped) => this.#release(ended, scope, dropped),
    );
    if (onlyConnection === undefined) this.#everything.add(subscription);
    else addTo(this.#byConnection, onlyConnection, subscription);
    if (owner !== undefined) addTo(this.#byOwner, owner, subscription);
    this.#subscribers++;
    this.#heartbeat ??= setInterval(() => this.heartbeat(), this.#heartbeatMs);
    return subscription;
  }

  /** Sends a heartbeat comment to every subscriber (the feed's timer calls it). */
  heartbeat(): void {
    for (const subscription of this.#everything) subscription.push(HEARTBEAT);
    for (const set of this.#byConnection.values()) {
      for (const subscription of set) subscription.push(HEARTBEAT);
    }
  }

  /** Stops following the tracker and ends every subscription. */
  close(): void {
    this.#unsubscribe();
    for (const subscription of [...this.#everything]) subscription.cancel();
    for (const set of [...this.#byConnection.values()]) {
      for (const subscription of [...set]) subscription.cancel();
    }
  }

  readonly #onEvent = (event: TrackerEvent): void => {
    const frame = this.#frameOf(event);
    // A push may end a subscriber that is too far behind, which removes it from its set while
    // the loop runs; a Set iterator skips removed entries, so that is safe.
    for (const subscription of this.#everything) subscription.push(frame);
    const id = eventConnectionId(event);
    const own = this.#byConnection.get(id);
    if (own !== undefined) { for (const subscription of own) subscription.push(frame); }
    if (event.type === "connection_closed") {
      const owned = this.#byOwner.get(id);
      if (owned !== undefined) { for (const subscription of [...owned]) subscription.cancel(); }
    }
  };

  /**
   * The event's frame, encoded the first time it is needed: when it happens (the feed follows
   * the tracker), or at a replay for an event from before the feed started.
   */
  #frameOf(event: TrackerEvent): Uint8Array {
    let frame = this.#frames.get(event);
    if (frame === undefined) {
      frame = encodeEventFrame(event);
      this.#frames.set(event, frame);
      this.stats.encoded++;
    }
    return frame;
  }

  #release(subscription: FeedSubscription, scope: SubscriptionScope, dropped: boolean): void {
    if (dropped) this.stats.dropped++;
    if (scope.only === undefined) this.#everything.delete(subscription);
    else removeFrom(this.#byConnection, scope.only, subscription);
    if (scope.owner !== undefined) removeFrom(this.#byOwner, scope.owner, subscription);
    this.#subscribers--;
    if (this.#subscribers === 0) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }
}

/** One subscriber's queue: its replay, then live frames up to a byte bound. */
export class FeedSubscription {
  /** Frames from before the subscription (shared with the feed; not counted in the bound). */
  #replay: Uint8Array[];
  #replayAt = 0;
  /** Live frames not yet taken, from `#queueAt` on. */
  #queue: Uint8Array[] = [];
  #queueAt = 0;
  #queuedBytes = 0;
  readonly #maxQueuedBytes: number;
  /** A `next()` waiting for a frame, when the queue was empty. */
  #waiter: ((chunk: Uint8Array | null) => void) | undefined;
  /** The last words of a subscription ended for falling behind, sent before the end. */
  #farewell: Uint8Array | undefined;
  #open = true;
  readonly #onEnd: (subscription: FeedSubscription, dropped: boolean) => void;

  /** Made by {@link EventFeed.subscribe}. */
  constructor(
    replay: Uint8Array[],
    maxQueuedBytes: number,
    onEnd: (subscription: FeedSubscription, dropped: boolean) => void,
  ) {
    this.#replay = replay;
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#onEnd = onEnd;
  }

  /** Live bytes waiting to be taken (the replay is not counted). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** False once the subscription was cancelled or ended for falling behind. */
  get open(): boolean {
    return this.#open;
  }

  /**
   * Queues a live frame. A frame that would take the queue past its bound ends the
   * subscription instead (a frame larger than the bound still goes to an empty queue, so one
   * big event cannot end a reader that keeps up).
   */
  push(frame: Uint8Array): void {
    if (!this.#open) return;
    if (this.#waiter !== undefined) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(frame);
      return;
    }
    if (this.#queuedBytes > 0 && this.#queuedBytes + frame.length > this.#maxQueuedBytes) {
      this.#end(true);
      return;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
  }

  /** The next chunk to send; waits for one; null once the subscription has ended. */
  next(): Promise<Uint8Array | null> {
    const chunk = this.poll();
    if (chunk !== undefined) return Promise.resolve(chunk);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** {@link next} without waiting: the next chunk, undefined when none is ready, null at the end. */
  poll(): Uint8Array | null | undefined {
    return this.#take() ?? (this.#open ? undefined : null);
  }

  /** Ends the subscription (its client went away). Idempotent. */
  cancel(): void {
    this.#end(false);
  }

  #take(): Uint8Array | undefined {
    if (this.#replayAt < this.#replay.length) {
      const frame = this.#replay[this.#replayAt];
      this.#replay[this.#replayAt++] = EMPTY; // let go of it: the reader has it now
      return frame;
    }
    if (this.#queueAt < this.#queue.length) {
      const frame = this.#queue[this.#queueAt++];
      this.#queuedBytes -= frame.length;
      if (this.#queueAt === this.#queue.length) {
        this.#queue = [];
        this.#queueAt = 0;
      }
      return frame;
    }
    const farewell = this.#farewell;
    this.#farewell = undefined;
    return farewell;
  }

  #end(dropped: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    this.#replay = [];
    this.#replayAt = 0;
    this.#queue = [];
    this.#queueAt = 0;
    this.#queuedBytes = 0;
    if (dropped) {
      this.#farewell = encoder.encode(
        `: ended: more than ${this.#maxQueuedBytes} bytes of events went unread; ` +
          "reconnect with Last-Event-ID\n\n",
      );
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(null);
    this.#onEnd(this, dropped);
  }
}

const EMPTY = new Uint8Array(0);

function addTo<V>(map: Map<string, Set<V>>, key: string, value: V): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, set = new Set());
  set.add(value);
}

function removeFrom<V>(map: Map<string, Set<V>>, key: string, value: V): void {
  const set = map.get(key);
  set?.delete(value);
  if (set?.size === 0) map.delete(key);
}
