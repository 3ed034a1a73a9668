/**
 * One node's part of the Redis-shared cluster state, wired: the sink writing this node's
 * connections and events, the directory reading everyone's, the live follower of the shared
 * event stream, and what `/healthz` and `/metrics` report. The composition root makes one when
 * a Redis URL is given, before the listeners start (so no event is missed), starts it once the
 * node's id is known, and closes it at shutdown.
 *
 * Starting never fails because Redis is away: the node then runs degraded (serving and tracking
 * locally, one warning line) and catches up when Redis appears.
 *
 * ```ts
 * const cluster = new ClusterState(tracker, { redisUrl: "redis://127.0.0.1:6379" });
 * await cluster.start("n1"); // "ok", or "degraded" after at most `connectWaitMs`
 * const page = await cluster.directory.list({ state: "all", limit: 100 });
 * await cluster.close();
 * ```
 * @module
 */

import type { ConnectionTracker } from "../tracker/tracker.ts";
import { renderClusterMetrics } from "./cluster_metrics.ts";
import { RedisDirectory } from "./redis_directory.ts";
import { errorText, guardRedisRejections, type RedisClient, redisClient } from "./redis_client.ts";
import { RedisSink, type RedisSinkOptions, type RedisState } from "./redis_sink.ts";
import { StreamFollower, type StreamFollowerOptions } from "./stream_follower.ts";

/** Settings of a node's cluster state. */
export interface ClusterStateOptions {
  /** `redis://` or `rediss://` URL of the cluster's Redis. */
  redisUrl: string;
  /** Key prefix shared by the cluster (default `quic-migration`). */
  prefix?: string;
  /** How long `start` waits for Redis before going on degraded (default 2,000 ms). */
  connectWaitMs?: number;
  /** The sink's queue, timing and stream cap. */
  sink?: Omit<RedisSinkOptions, "prefix" | "warn" | "now">;
  /** The live reader's timing and limits. */
  follower?: Omit<StreamFollowerOptions, "prefix">;
  /** Where the state lines go (Redis lost, Redis back). */
  warn?: (line: string) => void;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

/** What `/healthz` says about the cluster link. */
export interface ClusterHealth {
  status: "ok" | "degraded";
  redis: RedisState;
  node: string | undefined;
}

/** A node's writer, reader and live follower of the cluster's Redis. */
export class ClusterState {
  readonly sink: RedisSink;
  readonly directory: RedisDirectory;
  readonly follower: StreamFollower;
  readonly #writer: RedisClient;
  readonly #reader: RedisClient;
  readonly #connectWaitMs: number;
  #started = false;
  #closed = false;
  readonly #releaseGuard: () => void;

  /** Subscribes to `tracker` at once (events wait in the bounded queue until `start`). */
  constructor(tracker: ConnectionTracker, options: ClusterStateOptions) {
    this.#writer = redisClient(options.redisUrl);
    this.#reader = redisClient(options.redisUrl);
    this.#connectWaitMs = options.connectWaitMs ?? 2000;
    this.sink = new RedisSink(this.#writer, tracker, {
      ...options.sink,
      prefix: options.prefix,
      warn: options.warn,
      now: options.now,
    });
    this.directory = new RedisDirectory(this.#writer, {
      prefix: options.prefix,
      retention: tracker.retention,
      now: options.now,
    });
    this.follower = new StreamFollower(this.#reader, this.directory, {
      ...options.follower,
      prefix: options.prefix,
    });
    // Without an error listener an EventEmitter throws; the sink turns these into its state.
    this.#writer.on("error", (error: unknown) => this.sink.connectionLost(errorText(error)));
    this.#writer.on("ready", () => this.sink.wake());
    this.#reader.on("error", () => {}); // the follower's loop retries on its own
    this.#releaseGuard = guardRedisRejections(options.warn ?? ((line) => console.error(line)));
  }

  /** This node's id, once started. */
  get node(): string | undefined {
    return this.sink.node;
  }

  /** Whether this node's writes reach Redis. */
  get state(): RedisState {
    return this.sink.state;
  }

  /** For `/healthz`: `degraded` while Redis is away (the node still serves). */
  health(): ClusterHealth {
    const redis = this.sink.state;
    return { status: redis === "ok" ? "ok" : "degraded", redis, node: this.sink.node };
  }

  /** The node's cluster metrics, labelled with its id (for `Metrics.addSection`). */
  renderMetrics(): string {
    return renderClusterMetrics(this.sink.node ?? "", this.sink.state, this.sink.stats);
  }

  /**
   * Connects (waiting at most `connectWaitMs`), then writes as `node` from now on. Resolves
   * with the state reached: `degraded` when Redis did not answer in time (it keeps trying in
   * the background). Never rejects.
   */
  async start(node: string): Promise<RedisState> {
    if (this.#started || this.#closed) return this.sink.state;
    this.#started = true;
    const deadline = Date.now() + this.#connectWaitMs;
    // connect() resolves at the first successful connection, however late; failures before it
    // arrive as "error" events.
    this.#writer.connect().catch(() => {});
    this.#reader.connect().catch(() => {});
    await this.#ready(this.#writer, deadline);
    this.sink.start(node);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.sink.flush(),
      new Promise((resolve) => timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))),
    ]);
    clearTimeout(timer);
    return this.sink.state;
  }

  #ready(client: RedisClient, deadline: number): Promise<void> {
    if (client.isReady) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      client.on("ready", done);
    });
  }

  /**
   * Stops the follower, writes what the sink holds (at most `timeoutMs`) and closes both
   * connections. Resolves whether everything held reached Redis; never rejects. Idempotent.
   */
  async close(timeoutMs = 2000): Promise<boolean> {
    if (this.#closed) return this.sink.stats.queued === 0;
    this.#closed = true;
    this.follower.close();
    const ok = await this.sink.close(timeoutMs);
    // destroy(), not close(): nothing is left to send, and a Redis that is away must not
    // hold shutdown up.
    for (const client of [this.#writer, this.#reader]) {
      try {
        client.destroy();
      } catch {
        // never connected
      }
    }
    await this.follower.closed();
    this.#releaseGuard();
    return ok;
  }
}
