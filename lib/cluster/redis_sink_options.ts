/**
 * The settings and counters of a node's Redis sink (`redis_sink.ts`), apart from the sink so
 * that code reading its state (metrics, health) needs only these shapes.
 * @module
 */

/** Whether the node's writes reach Redis. */
export type RedisState = "ok" | "degraded";

/** Settings of a sink. */
export interface RedisSinkOptions {
  /** Key prefix shared by the cluster (default `quic-migration`). */
  prefix?: string;
  /** Events held while Redis is slow or away; beyond it the oldest are dropped (default 10,000). */
  queueCapacity?: number;
  /** Milliseconds from an event to its write (default 20). */
  intervalMs?: number;
  /** Milliseconds between refreshes of open connections' records (default 1,000). */
  refreshMs?: number;
  /** Milliseconds between attempts while Redis is away (default 500). */
  retryMs?: number;
  /** Events and records per script call (default 500). */
  batchSize?: number;
  /** The stream's approximate length cap (default 100,000). */
  streamMaxLen?: number;
  /** Where the two state lines go (Redis lost, Redis back). */
  warn?: (line: string) => void;
  /** The clock, in milliseconds since the epoch (the tracker's, for retention). */
  now?: () => number;
}

/** Counts for `/metrics`: plain numbers. `produced == written + dropped + queued` always. */
export interface RedisSinkStats {
  /** Events the tracker emitted since the sink subscribed. */
  produced: number;
  /** Events that reached the stream. */
  written: number;
  /** Events dropped because the queue was full. */
  dropped: number;
  /** Events waiting (in the queue or in a write under way). */
  queued: number;
  /** Write attempts that failed (Redis away, or erroring); each is retried. */
  failures: number;
  /** Closed connections removed by retention. */
  pruned: number;
}
