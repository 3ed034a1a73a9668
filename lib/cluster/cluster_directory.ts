/**
 * The API's connection directory in cluster mode: every node's connections from the shared
 * Redis state (each record names its `node`), with the listing's filters and paging cursor; this
 * node's own connections from its tracker, which is fresher than what it last wrote. While the
 * cluster store is unreachable (this node's writes fail, or a read fails or stalls) it answers
 * from this node's tracker instead and says so in `source`: the API degrades, it never errors.
 *
 * ```ts
 * const directory = new ClusterConnectionDirectory(tracker, clusterState);
 * const page = await directory.list({ state: "all", limit: 100 });
 * page.source; // "cluster", or "local (cluster store unreachable)"
 * ```
 * @module
 */

import type {
  ConnectionDirectory,
  ConnectionListing,
  ConnectionLookup,
  ListedConnection,
} from "../tracker/api_sources.ts";
import type { ConnectionTracker, ListFilter } from "../tracker/tracker.ts";
import type { TrackedConnection } from "../tracker/tracked_connection.ts";
import { withTimeout } from "../timeout.ts";
import type { RedisDirectory } from "./redis_directory.ts";
import type { RedisState } from "./redis_sink.ts";

/** `source` of an answer read from the cluster store (or this node's share of it). */
export const FROM_CLUSTER = "cluster";
/** `source` of an answer from this node alone, because the cluster store is unreachable. */
export const LOCAL_FALLBACK = "local (cluster store unreachable)";

/** What the directory reads of a node's cluster state (`ClusterState` has it). */
export interface ClusterView {
  readonly directory: Pick<RedisDirectory, "list" | "get" | "counts">;
  /** This node's id, once started. */
  readonly node: string | undefined;
  /** Whether this node's writes reach Redis. */
  readonly state: RedisState;
}

/** Settings of a cluster directory. */
export interface ClusterDirectoryOptions {
  /** Longest wait for one read before answering locally (default 1,000 ms). */
  readTimeoutMs?: number;
}

/** Every node's connections, or this node's while Redis is away; see the module documentation. */
export class ClusterConnectionDirectory implements ConnectionDirectory {
  readonly #tracker: ConnectionTracker;
  readonly #cluster: ClusterView;
  readonly #readTimeoutMs: number;

  /** Reads `cluster`'s store, and `tracker` for this node's connections. */
  constructor(
    tracker: ConnectionTracker,
    cluster: ClusterView,
    options: ClusterDirectoryOptions = {},
  ) {
    this.#tracker = tracker;
    this.#cluster = cluster;
    this.#readTimeoutMs = options.readTimeoutMs ?? 1000;
  }

  /** A read of the store, or undefined when it is unreachable (degraded, failed, stalled). */
  async #read<T>(read: () => Promise<T>, what: string): Promise<{ value: T } | undefined> {
    if (this.#cluster.state !== "ok") return undefined;
    try {
      return { value: await withTimeout(read(), this.#readTimeoutMs, what) };
    } catch {
      return undefined; // the sink reports the outage (log line, /healthz, metric)
    }
  }

  async list(filter: ListFilter): Promise<ConnectionListing> {
    const store = this.#cluster.directory;
    const read = await this.#read(
      () => Promise.all([store.list(filter), store.counts()]),
      "the cluster's connections",
    );
    const local = this.#tracker.summary();
    if (read !== undefined) {
      const [page, counts] = read.value;
      const { migrations } = counts;
      return {
        connections: page.connections,
        summary: {
          open: counts.open,
          closed: Math.max(0, counts.total - counts.open),
          total_migrations: migrations.total_migrations,
          migrations_by_outcome: migrations.migrations_by_outcome,
          node: this.#cluster.node,
          note: `the whole cluster; migration totals add up what each of ${migrations.nodes} ` +
            "node(s) last wrote (each node's /metrics has its own)",
        },
        nextCursor: page.nextCursor,
        source: FROM_CLUSTER,
      };
    }
    const page = this.#tracker.list(filter);
    return {
      connections: page.connections.map((conn) => this.own(conn)),
      summary: { ...local, node: this.#cluster.node, note: "this node's connections only" },
      nextCursor: page.nextCursor,
      source: LOCAL_FALLBACK,
    };
  }

  async get(id: string): Promise<{ found?: ConnectionLookup; source: string }> {
    const conn = this.#tracker.get(id);
    if (conn !== undefined) {
      // This node holds it: its tracker is what the store is written from, only fresher.
      const source = this.#cluster.state === "ok" ? FROM_CLUSTER : LOCAL_FALLBACK;
      return { found: { info: this.own(conn), local: conn, source }, source };
    }
    const read = await this.#read(() => this.#cluster.directory.get(id), "a cluster connection");
    if (read === undefined) return { source: LOCAL_FALLBACK };
    const info = read.value;
    return {
      found: info === undefined ? undefined : { info, local: undefined, source: FROM_CLUSTER },
      source: FROM_CLUSTER,
    };
  }

  own(conn: TrackedConnection): ListedConnection {
    const node = this.#cluster.node;
    const info = conn.toJSON();
    return node === undefined ? info : { ...info, node };
  }
}
