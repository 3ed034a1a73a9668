/**
 * Writes one node's connections and events to the cluster's Redis. It subscribes to the node's
 * tracker: an event is serialised once, into a bounded queue, and marks its connection dirty;
 * a timer `intervalMs` later writes the queue's events and the dirty connections' records in
 * one script call per batch (see `flush_script.ts`). The request path pays nothing: requests
 * emit no events, and the records of open connections are refreshed every `refreshMs` (their
 * counts and last-seen time) by the same timer.
 *
 * Degraded mode: when Redis cannot be reached, the node keeps serving and tracking; the sink
 * says so once (`warn`), reports `state` `degraded`, holds at most `queueCapacity` events
 * (dropping, and counting, the oldest beyond that), and when Redis is back writes what it holds
 * in order, a notice of any dropped events first. A Redis that came back empty (restarted
 * without persistence) gets all of the node's records again. No failure reaches the tracker or
 * the server: every write is caught, and retried.
 *
 * ```ts
 * const sink = new RedisSink(client, tracker, { warn: console.error });
 * sink.start("n1"); // writes from now on (events before it wait in the queue)
 * await sink.close(1000);
 * ```
 * @module
 */

import type { ConnectionTracker } from "../tracker/tracker.ts";
import type { TrackerEvent } from "../tracker/types.ts";
import {
  type ClusterConnectionInfo,
  decodeRecord,
  encodeDroppedNotice,
  encodeNodeSummary,
  encodeRecord,
  eventConnectionId,
  lostAtRestart,
} from "./cluster_record.ts";
import { EventQueue } from "./event_queue.ts";
import {
  FLUSH_SCRIPT,
  flushArguments,
  flushKeys,
  parseFlushReply,
  type QueuedEvent,
  type RecordWrite,
} from "./flush_script.ts";
import { errorText, LuaScript, type RedisClient } from "./redis_client.ts";
import { type ClusterKeys, clusterKeys, DEFAULT_PREFIX } from "./redis_keys.ts";
import type { RedisSinkOptions, RedisSinkStats, RedisState } from "./redis_sink_options.ts";

export type { RedisSinkOptions, RedisSinkStats, RedisState } from "./redis_sink_options.ts";

/** The writer of one node's share of the cluster state. */
export class RedisSink {
  readonly #client: RedisClient;
  readonly #tracker: ConnectionTracker;
  readonly #keys: ClusterKeys;
  readonly #queue: EventQueue<QueuedEvent>;
  readonly #intervalMs: number;
  readonly #refreshMs: number;
  readonly #retryMs: number;
  readonly #batchSize: number;
  readonly #streamMaxLen: number;
  readonly #warn: (line: string) => void;
  readonly #now: () => number;
  readonly #script = new LuaScript(FLUSH_SCRIPT);
  readonly #boot = crypto.randomUUID();
  /** Connections whose record changed since it was last written. */
  readonly #dirty = new Set<string>();
  /** Open connections' last-seen time as last written (a change is worth a refresh). */
  readonly #writtenSeen = new Map<string, number>();
  /** Records of this node's previous process found open, to write back as lost. */
  #lost: RecordWrite[] = [];
  #reconciled = false;
  /** Whether a write of this process has left its mark in Redis (see `flush_script.ts`). */
  #marked = false;
  #notice: { no: number; count: number } | undefined;
  #noticeNo = 0;
  #node: string | undefined;
  #state: RedisState = "degraded";
  #warned = false;
  #droppedAtLoss = 0;
  readonly #stateListeners = new Set<(state: RedisState) => void>();
  #unsubscribe: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refresh: ReturnType<typeof setInterval> | undefined;
  #lastWrite: Promise<unknown> = Promise.resolve();
  #closed = false;
  #produced = 0;
  #written = 0;
  #inFlight = 0;
  #failures = 0;
  #pruned = 0;

  /** Subscribes to `tracker` at once; nothing is written before `start`. */
  constructor(client: RedisClient, tracker: ConnectionTracker, options: RedisSinkOptions = {}) {
    this.#client = client;
    this.#tracker = tracker;
    this.#keys = clusterKeys(options.prefix ?? DEFAULT_PREFIX);
    this.#queue = new EventQueue(options.queueCapacity ?? 10_000);
    this.#intervalMs = options.intervalMs ?? 20;
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#retryMs = options.retryMs ?? 500;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#streamMaxLen = options.streamMaxLen ?? 100_000;
    this.#warn = options.warn ?? ((line) => console.error(line));
    this.#now = options.now ?? Date.now;
    this.#unsubscribe = tracker.subscribe(this.#onEvent);
  }

  /** The tracker subscriber: one serialisation, one queue slot, one dirty mark. Never throws. */
  readonly #onEvent = (event: TrackerEvent): void => {
    this.#queue.push({ seq: ++this.#produced, type: event.type, json: JSON.stringify(event) });
    this.#dirty.add(eventConnectionId(event));
    this.#arm(this.#queue.size >= this.#batchSize ? 0 : this.#intervalMs);
  };

  /** Whether writes reach Redis now. */
  get state(): RedisState {
    return this.#state;
  }

  /** The node's name in records and stream entries, once started. */
  get node(): string | undefined {
    return this.#node;
  }

  /** The counts so far. */
  get stats(): RedisSinkStats {
    return {
      produced: this.#produced,
      written: this.#written,
      dropped: this.#queue.dropped,
      queued: this.#queue.size + this.#inFlight,
      failures: this.#failures,
      pruned: this.#pruned,
    };
  }

  /** Calls `listener` on each change of `state`; returns the unsubscribe function. */
  onStateChange(listener: (state: RedisState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Starts writing as `node`: what is queued goes now, and open records refresh periodically. */
  start(node: string): void {
    if (this.#closed || this.#node !== undefined) return;
    this.#node = node;
    this.#refresh = setInterval(() => {
      for (const conn of this.#tracker.openConnections()) {
        if (this.#writtenSeen.get(conn.id) !== conn.lastSeenMs) this.#dirty.add(conn.id);
      }
      // Also the retention tick, and a probe: a write with nothing in it still prunes.
      this.#arm(0);
    }, this.#refreshMs);
    this.#arm(0);
  }

  /** Redis is reachable again (the client is ready): write what is held now. */
  wake(): void {
    this.#arm(0);
  }

  /** The connection to Redis failed or dropped: degraded until a write succeeds. */
  connectionLost(reason: string): void {
    if (this.#node !== undefined) this.#degrade(reason);
  }

  #arm(delayMs: number): void {
    if (this.#closed || this.#node === undefined) return;
    if (this.#timer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, delayMs);
  }

  /**
   * Writes everything held now, after any write under way. Resolves true when all of it reached
   * Redis, false when Redis could not be reached (degraded; retried every `retryMs`). Never
   * rejects.
   */
  flush(): Promise<boolean> {
    // Writes run one after another: a batch taken from the queue is back in it (or written)
    // before the next one is taken.
    const write = this.#lastWrite.then(() => this.#write());
    this.#lastWrite = write;
    return write;
  }

  async #write(): Promise<boolean> {
    const node = this.#node;
    if (node === undefined) return false;
    if (!this.#client.isReady) {
      this.#failures++;
      this.#degrade("not connected");
      this.#arm(this.#retryMs);
      return false;
    }
    try {
      if (!this.#reconciled) await this.#reconcile(node);
      // Bounded: each round takes a batch of what was held when the flush began.
      const rounds = Math.ceil(
        (this.#queue.size + this.#dirty.size + this.#lost.length) /
          this.#batchSize,
      ) + 1;
      for (let round = 0; round < rounds; round++) {
        await this.#writeBatch(node);
        if (this.#queue.size === 0 && this.#dirty.size === 0 && this.#lost.length === 0) break;
      }
    } catch (error) {
      this.#failures++;
      this.#degrade(errorText(error));
      this.#arm(this.#retryMs);
      return false;
    }
    this.#recovered();
    if (this.#queue.size > 0 || this.#dirty.size > 0) this.#arm(0);
    return true;
  }

  /** One script call: a batch of events, of records, the pending notice. Rejects on failure. */
  async #writeBatch(node: string): Promise<void> {
    const events = this.#queue.take(this.#batchSize);
    const lost = this.#lost.splice(0, this.#batchSize);
    const ids: string[] = [];
    for (const id of this.#dirty) {
      if (ids.length + lost.length >= this.#batchSize) break;
      ids.push(id);
    }
    for (const id of ids) this.#dirty.delete(id);
    const records: RecordWrite[] = [...lost];
    const deletes: string[] = [];
    const seen = new Map<string, number>();
    for (const id of ids) {
      const conn = this.#tracker.get(id);
      if (conn === undefined) {
        deletes.push(id); // retention already dropped it here: the same in Redis
        continue;
      }
      const info = conn.toJSON();
      records.push({
        id,
        state: info.state,
        lastSeenMs: conn.lastSeenMs,
        json: encodeRecord(info, node),
      });
      seen.set(id, conn.state === "open" ? conn.lastSeenMs : -1);
    }
    if (this.#notice === undefined && this.#queue.unreported > 0) {
      this.#notice = { no: ++this.#noticeNo, count: this.#queue.takeUnreported() };
    }
    const notice = this.#notice;
    const { closedRetentionMs, maxClosed } = this.#tracker.retention;
    this.#inFlight = events.length;
    try {
      const reply = await this.#script.run(
        this.#client,
        flushKeys(this.#keys, node),
        flushArguments({
          node,
          boot: this.#boot,
          streamMaxLen: this.#streamMaxLen,
          cutoffMs: this.#now() - closedRetentionMs,
          maxClosed,
          records,
          deletes,
          notice: notice && { no: notice.no, json: encodeDroppedNotice(node, notice.count) },
          events,
          summary: encodeNodeSummary(this.#tracker.summary()),
        }),
      );
      const { pruned, known } = parseFlushReply(reply);
      this.#pruned += pruned;
      if (!known && this.#marked) this.#rewriteAll();
      this.#marked = true;
    } catch (error) {
      // Everything goes back; the notice keeps its number, so a retry never writes it twice.
      this.#queue.putBack(events);
      this.#lost.unshift(...lost);
      for (const id of ids) this.#dirty.add(id);
      throw error;
    } finally {
      this.#inFlight = 0;
    }
    this.#written += events.length;
    if (this.#notice === notice) this.#notice = undefined;
    for (const [id, lastSeen] of seen) {
      if (lastSeen < 0) this.#writtenSeen.delete(id);
      else this.#writtenSeen.set(id, lastSeen);
    }
  }

  /** Redis lost what this node wrote (it restarted empty): every record is written again. */
  #rewriteAll(): void {
    for (const conn of this.#tracker.openConnections()) this.#dirty.add(conn.id);
    for (const conn of this.#tracker.closedConnections()) this.#dirty.add(conn.id);
  }

  /**
   * Once per process, before its first write: this node's records still open in Redis belong
   * to a previous process that ended without closing them. They become closed, `lost_at_restart`.
   */
  async #reconcile(node: string): Promise<void> {
    const ids = await this.#client.zRange(this.#keys.open, 0, -1);
    const lost: RecordWrite[] = [];
    for (let start = 0; start < ids.length; start += this.#batchSize) {
      const chunk = ids.slice(start, start + this.#batchSize);
      const values = await this.#client.hmGet(this.#keys.records, chunk);
      for (const value of values) {
        const info: ClusterConnectionInfo | undefined = decodeRecord(value as string | null);
        if (info === undefined || info.node !== node) continue;
        if (this.#tracker.get(info.connection_id) !== undefined) continue;
        const closed = lostAtRestart(info);
        lost.push({
          id: closed.connection_id,
          state: "closed",
          lastSeenMs: Date.parse(closed.last_seen),
          json: JSON.stringify(closed),
        });
      }
    }
    this.#lost.push(...lost);
    this.#reconciled = true;
  }

  #degrade(reason: string): void {
    if (this.#closed || (this.#state === "degraded" && this.#warned)) return;
    const wasOk = this.#state === "ok";
    this.#state = "degraded";
    this.#droppedAtLoss = this.#queue.dropped;
    if (!this.#warned) {
      this.#warned = true;
      this.#warn(
        `⚠️  cluster: Redis unreachable (${reason}); serving and tracking locally, holding up to ${this.#queue.capacity} events until it returns`,
      );
    }
    if (wasOk) this.#tellState();
  }

  #recovered(): void {
    if (this.#state === "ok") return;
    this.#state = "ok";
    if (this.#warned) {
      this.#warned = false;
      const dropped = this.#queue.dropped - this.#droppedAtLoss;
      this.#warn(
        `✅ cluster: Redis reachable again; held events written${
          dropped > 0 ? `, ${dropped} dropped while it was away (counted)` : ", none dropped"
        }`,
      );
    }
    this.#tellState();
  }

  #tellState(): void {
    for (const listener of this.#stateListeners) {
      try {
        listener(this.#state);
      } catch {
        this.#stateListeners.delete(listener);
      }
    }
  }

  /**
   * Stops recording, and writes what is held for up to `timeoutMs`. Resolves whether all of it
   * reached Redis; never rejects. Idempotent. The client stays open (its owner closes it).
   */
  async close(timeoutMs = 1000): Promise<boolean> {
    if (this.#closed) return this.#queue.size === 0;
    this.#unsubscribe();
    clearInterval(this.#refresh);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ok = await Promise.race([
      this.flush(),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
    ]);
    clearTimeout(timer);
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return ok;
  }
}
