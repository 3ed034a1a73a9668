/**
 * Reads the cluster's view from Redis, for any node's API: every node's connections, paged with
 * the same filter and cursor rules as `ConnectionTracker.list` (each record names its `node`),
 * one connection by id, and the shared event stream from a stream id on. The cursor is the
 * cluster-wide sequence number Redis gave each connection when it was first written, so paging
 * is stable while connections open and close on any node. A listing never shows what retention
 * already dropped (closed longer than `closedRetentionMs` ago), even before a writer prunes it.
 *
 * ```ts
 * const directory = new RedisDirectory(client, { retention: tracker.retention });
 * const page = await directory.list({ state: "all", limit: 100 });
 * const missed = await directory.eventsSince("1700000000000-0"); // null: reload
 * ```
 * @module
 */

import type { ListFilter } from "../tracker/tracker.ts";
import {
  type ClusterConnectionInfo,
  type ClusterStreamEntry,
  decodeRecord,
  decodeStreamEntry,
  type NodeSummary,
  sumNodeSummaries,
} from "./cluster_record.ts";
import { LuaScript, type RedisClient } from "./redis_client.ts";
import {
  type ClusterKeys,
  clusterKeys,
  compareStreamIds,
  DEFAULT_PREFIX,
  isStreamId,
} from "./redis_keys.ts";

/** Settings of a directory. */
export interface RedisDirectoryOptions {
  /** Key prefix shared by the cluster (default `quic-migration`). */
  prefix?: string;
  /** The retention the nodes apply (a listing hides closed connections past it). */
  retention?: { closedRetentionMs: number };
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

/** The cluster's connection counts and migration totals. */
export interface ClusterCounts {
  open: number;
  /** Open, and closed ones still retained. */
  total: number;
  /** Summed over the nodes' stored totals; `nodes` is how many nodes had written some. */
  migrations: NodeSummary & { nodes: number };
}

/** One page of the cluster's connections. */
export interface ClusterPage {
  connections: ClusterConnectionInfo[];
  /** The cursor for the next page, or null when this was the last. */
  nextCursor: number | null;
}

/** Index entries read per round trip while filling a page. */
const SCAN_CHUNK = 256;
/** Events per stream read. */
const DEFAULT_EVENT_PAGE = 1000;

/**
 * Reads, atomically, a page of the stream after ARGV[1] and what tells whether entries after it
 * were already trimmed: the highest deleted id, and the last id the stream ever had.
 */
const EVENTS_SINCE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return { '0-0', '0-0', {} } end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local deleted, last = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then deleted = info[i + 1] end
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
return { deleted, last, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2]) }
`;

/** The stream entries of a reply (`[id, [field, value, …]]` pairs), decoded; others skipped. */
export function decodeEntries(raw: unknown): ClusterStreamEntry[] {
  const out: ClusterStreamEntry[] = [];
  if (!Array.isArray(raw)) return out;
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== "string") continue;
    const fields: Record<string, string> = {};
    const list = item[1];
    if (Array.isArray(list)) {
      for (let i = 0; i + 1 < list.length; i += 2) fields[String(list[i])] = String(list[i + 1]);
    } else if (typeof list === "object" && list !== null) {
      for (const [k, v] of Object.entries(list)) fields[k] = String(v);
    }
    const entry = decodeStreamEntry(item[0], fields);
    if (entry !== undefined) out.push(entry);
  }
  return out;
}

/** The cluster's records and event stream, as any node reads them. */
export class RedisDirectory {
  readonly #client: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #eventsSince = new LuaScript(EVENTS_SINCE_SCRIPT);

  /** Reads through `client` (shared with other non-blocking work). */
  constructor(client: RedisClient, options: RedisDirectoryOptions = {}) {
    this.#client = client;
    this.#keys = clusterKeys(options.prefix ?? DEFAULT_PREFIX);
    this.#retentionMs = options.retention?.closedRetentionMs ?? Infinity;
    this.#now = options.now ?? Date.now;
  }

  #retained(info: ClusterConnectionInfo): boolean {
    return info.state === "open" ||
      Date.parse(info.last_seen) >= this.#now() - this.#retentionMs;
  }

  /**
   * One page of the cluster's connections in the order they were first written, after
   * `filter.cursor`: each connection appears exactly once across pages. Rejects when Redis
   * cannot be reached.
   */
  async list(filter: ListFilter): Promise<ClusterPage> {
    const state = filter.state ?? "all";
    const source = state === "open" ? this.#keys.open : this.#keys.index;
    const matching: { info: ClusterConnectionInfo; seq: number }[] = [];
    let after = filter.cursor ?? 0;
    // Bounded: every round moves `after` past what it read, and the index is finite; the cap
    // stops a pathological index (a sequence that no longer advances) all the same.
    for (let round = 0; round < 100_000 && matching.length <= filter.limit; round++) {
      const chunk = await this.#client.zRangeByScoreWithScores(source, `(${after}`, "+inf", {
        LIMIT: { offset: 0, count: SCAN_CHUNK },
      });
      if (chunk.length === 0) break;
      const values = await this.#client.hmGet(this.#keys.records, chunk.map((e) => e.value));
      for (let i = 0; i < chunk.length && matching.length <= filter.limit; i++) {
        const info = decodeRecord(values[i] as string | null);
        if (info === undefined || !this.#retained(info)) continue;
        if (state !== "all" && info.state !== state) continue;
        if (filter.protocol !== undefined && info.protocol !== filter.protocol) continue;
        if (filter.migrated === true && info.migration_count === 0) continue;
        matching.push({ info, seq: chunk[i].score });
      }
      after = chunk[chunk.length - 1].score;
      if (chunk.length < SCAN_CHUNK) break;
    }
    const page = matching.slice(0, filter.limit);
    const more = matching.length > page.length;
    return {
      connections: page.map((m) => m.info),
      nextCursor: more ? page[page.length - 1].seq : null,
    };
  }

  /** One connection by id, from any node, or undefined. Rejects when Redis cannot be reached. */
  async get(id: string): Promise<ClusterConnectionInfo | undefined> {
    const info = decodeRecord(await this.#client.hGet(this.#keys.records, id) as string | null);
    return info !== undefined && this.#retained(info) ? info : undefined;
  }

  /**
   * How many connections the cluster holds (open, and closed within retention or not yet
   * pruned), and its migration totals: the sum of what each node last wrote.
   */
  async counts(): Promise<ClusterCounts> {
    const [open, total, summaries] = await Promise.all([
      this.#client.zCard(this.#keys.open),
      this.#client.zCard(this.#keys.index),
      this.#client.hGetAll(this.#keys.summaries),
    ]);
    return { open, total, migrations: sumNodeSummaries(Object.values(summaries)) };
  }

  /** The stream id of the newest event ("0-0" before any). */
  async lastEventId(): Promise<string> {
    const [, last] = await this.#readSince("0-0", 0);
    return last;
  }

  /**
   * Events after stream id `lastId`, oldest first, at most `limit` (ask again from the last
   * one for more). Null when some events after `lastId` are gone (trimmed by the stream's
   * length cap) or `lastId` is newer than anything this stream ever had (it came from another
   * Redis): the caller missed events and should reload. Rejects when Redis cannot be reached.
   * @throws {TypeError} when `lastId` is not a stream id (check input with `isStreamId`).
   */
  async eventsSince(
    lastId: string,
    limit: number = DEFAULT_EVENT_PAGE,
  ): Promise<ClusterStreamEntry[] | null> {
    if (!isStreamId(lastId)) throw new TypeError(`not a stream id: ${lastId}`);
    const [deleted, last, raw] = await this.#readSince(lastId, Math.max(1, limit));
    if (compareStreamIds(lastId, last) > 0) return null;
    if (compareStreamIds(lastId, deleted) < 0) return null;
    return decodeEntries(raw);
  }

  async #readSince(lastId: string, count: number): Promise<[string, string, unknown]> {
    const reply = await this.#eventsSince.run(this.#client, [this.#keys.events], [
      lastId,
      String(count),
    ]);
    if (!Array.isArray(reply) || reply.length !== 3) {
      throw new Error(`unexpected reply from the stream read: ${JSON.stringify(reply)}`);
    }
    const [deleted, last, raw] = reply;
    return [String(deleted), String(last), raw];
  }
}
