/**
 * The Redis layout a cluster shares, named once: which keys hold the connection records, the
 * paging index, the open and closed sets, and the one event stream; and how Redis stream ids
 * compare. Pure: no I/O.
 *
 * | key                      | type   | holds                                                 |
 * | ------------------------ | ------ | ----------------------------------------------------- |
 * | `P:conn`                 | hash   | connection id → record JSON (`ConnectionInfo` + node) |
 * | `P:index`                | zset   | connection id, scored by its cluster-wide sequence    |
 * | `P:open`                 | zset   | the open ones, same scores (for `state=open` pages)   |
 * | `P:closed:NODE`          | zset   | a node's closed ones, scored by last-seen ms          |
 * | `P:nodes`                | set    | every node that ever wrote                            |
 * | `P:seq`                  | string | the last sequence number handed out                   |
 * | `P:events`               | stream | every node's events: fields `node`, `type`, `json`    |
 * | `P:written:NODE`         | string | `BOOT:SEQ`: the newest event of a node's process in   |
 * |                          |        | the stream (a retried batch adds nothing twice)       |
 * | `P:summary`              | hash   | node → its migration totals as it last wrote them     |
 *
 * ```ts
 * const keys = clusterKeys("quic-migration");
 * keys.closed("n1"); // "quic-migration:closed:n1"
 * compareStreamIds("1-2", "1-10"); // negative
 * ```
 * @module
 */

/** The key prefix when none is given. */
export const DEFAULT_PREFIX = "quic-migration";

/** Every key of one cluster's layout under `prefix`. */
export interface ClusterKeys {
  readonly records: string;
  readonly index: string;
  readonly open: string;
  readonly nodes: string;
  readonly seq: string;
  readonly events: string;
  /** Each node's migration totals, as it last wrote them. */
  readonly summaries: string;
  /** A node's closed connections, by last-seen time (retention walks it oldest first). */
  closed(node: string): string;
  /** Where a node notes the newest event of its process already in the stream. */
  written(node: string): string;
}

/** The keys of the cluster layout under `prefix` (see the table above). */
export function clusterKeys(prefix: string = DEFAULT_PREFIX): ClusterKeys {
  return {
    records: `${prefix}:conn`,
    index: `${prefix}:index`,
    open: `${prefix}:open`,
    nodes: `${prefix}:nodes`,
    seq: `${prefix}:seq`,
    events: `${prefix}:events`,
    summaries: `${prefix}:summary`,
    closed: (node) => `${prefix}:closed:${node}`,
    written: (node) => `${prefix}:written:${node}`,
  };
}

const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;

/** A Redis stream id (`MS-SEQ`) as two numbers, or undefined when `id` is not one. */
export function parseStreamId(id: string): { ms: number; seq: number } | undefined {
  const match = STREAM_ID.exec(id);
  if (match === null) return undefined;
  const ms = Number(match[1]);
  const seq = Number(match[2]);
  return Number.isSafeInteger(ms) && Number.isSafeInteger(seq) ? { ms, seq } : undefined;
}

/** Whether `id` is a stream id a client may resume from (`Last-Event-ID`). */
export function isStreamId(id: string): boolean {
  return parseStreamId(id) !== undefined;
}

/**
 * Orders two stream ids as Redis does (by time, then sequence): negative, zero or positive.
 * @throws {TypeError} when either is not a stream id (callers check input with `isStreamId`).
 */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  if (x === undefined || y === undefined) {
    throw new TypeError(`not a stream id: ${x === undefined ? a : b}`);
  }
  return x.ms - y.ms || x.seq - y.seq;
}
