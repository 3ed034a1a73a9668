/**
 * The one Redis call a node's sink makes per batch: a Lua script that, atomically, writes the
 * batch's connection records (a new connection gets the next cluster-wide sequence number and
 * its place in the paging index), applies the node's retention to its closed connections, and
 * appends the batch's events to the stream. Atomic, so a reader that sees an event finds its
 * connection's record at least as new; one call, so a batch costs one round trip.
 *
 * A batch whose reply was lost (the connection dropped after Redis ran it) is sent again; the
 * script skips the events it already appended, by the node's process (`boot`) and event
 * sequence noted under `P:written:NODE`, so no event appears twice. Pure: the script text and
 * the argument list, no I/O.
 * @module
 */

import type { ClusterKeys } from "./redis_keys.ts";

/** An event waiting for the stream: the sink's sequence number, its type and its JSON. */
export interface QueuedEvent {
  seq: number;
  type: string;
  json: string;
}

/** A connection record to write: `lastSeenMs` orders closed ones for retention. */
export interface RecordWrite {
  id: string;
  state: "open" | "closed";
  lastSeenMs: number;
  json: string;
}

/** Everything one script call writes. */
export interface FlushBatch {
  node: string;
  /** This process's random id: sequence numbers restart with the process. */
  boot: string;
  /** The stream's approximate length cap (`XADD … MAXLEN ~`). */
  streamMaxLen: number;
  /** Closed connections last seen before this time (ms) are removed… */
  cutoffMs: number;
  /** …and at most this many of the node's closed connections are kept, newest. */
  maxClosed: number;
  records: readonly RecordWrite[];
  /** Connections to remove (the tracker no longer holds them). */
  deletes: readonly string[];
  /** A dropped-events notice to put before the events, numbered per process; or undefined. */
  notice?: { no: number; json: string };
  events: readonly QueuedEvent[];
  /** The node's migration totals now, as JSON (`NodeSummary`). */
  summary: string;
}

/**
 * KEYS: records, index, open, closed(node), seq, events, written(node), nodes, summaries.
 * ARGV: node, boot, maxlen, cutoff, maxClosed, then counted lists (records as id, state,
 * lastSeen, json; deletes as id; events as seq, type, json), the notice (number, json), and
 * the node's migration totals (JSON).
 * Returns { events appended, closed connections pruned, whether the node's mark was there }:
 * a node that wrote before and finds no mark knows Redis lost its data (restarted without
 * persistence), and writes all its records again.
 */
export const FLUSH_SCRIPT = `
local node, boot = ARGV[1], ARGV[2]
local maxlen, cutoff, maxClosed = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 6
redis.call('SADD', KEYS[8], node)
local function forget(id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local id, state, lastSeen, json = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local seq = redis.call('ZSCORE', KEYS[2], id)
  if not seq then
    seq = redis.call('INCR', KEYS[5])
    redis.call('ZADD', KEYS[2], seq, id)
  end
  redis.call('HSET', KEYS[1], id, json)
  if state == 'open' then
    redis.call('ZADD', KEYS[3], seq, id)
  else
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZADD', KEYS[4], lastSeen, id)
  end
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  forget(ARGV[i]); i = i + 1
end
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. cutoff)
for _, id in ipairs(old) do forget(id) end
local pruned = #old
local excess = redis.call('ZCARD', KEYS[4]) - maxClosed
if excess > 0 then
  local ids = redis.call('ZRANGE', KEYS[4], 0, excess - 1)
  for _, id in ipairs(ids) do forget(id) end
  pruned = pruned + #ids
end
local lastSeq, lastNotice = 0, 0
local written = redis.call('GET', KEYS[7])
local known = 0
if written then
  known = 1
  local b, s, m = string.match(written, '^(.*):(%d+):(%d+)$')
  if b == boot then lastSeq, lastNotice = tonumber(s), tonumber(m) end
end
local added = 0
local noticeNo, noticeJson = tonumber(ARGV[i]), ARGV[i + 1]
i = i + 2
if noticeNo > lastNotice then
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', maxlen, '*',
    'node', node, 'type', 'events_dropped', 'json', noticeJson)
  lastNotice = noticeNo
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local seq, kind, json = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  if seq > lastSeq then
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', maxlen, '*', 'node', node, 'type', kind, 'json', json)
    lastSeq = seq
    added = added + 1
  end
end
redis.call('SET', KEYS[7], boot .. ':' .. string.format('%d', lastSeq) .. ':' .. string.format('%d', lastNotice))
redis.call('HSET', KEYS[9], node, ARGV[i])
return { added, pruned, known }
`;

/** The script's keys for `node`. */
export function flushKeys(keys: ClusterKeys, node: string): string[] {
  return [
    keys.records,
    keys.index,
    keys.open,
    keys.closed(node),
    keys.seq,
    keys.events,
    keys.written(node),
    keys.nodes,
    keys.summaries,
  ];
}

/** The script's arguments for `batch`, in the order it reads them. */
export function flushArguments(batch: FlushBatch): string[] {
  const args = [
    batch.node,
    batch.boot,
    String(batch.streamMaxLen),
    String(Math.floor(batch.cutoffMs)),
    String(batch.maxClosed),
    String(batch.records.length),
  ];
  for (const r of batch.records) args.push(r.id, r.state, String(Math.floor(r.lastSeenMs)), r.json);
  args.push(String(batch.deletes.length), ...batch.deletes);
  args.push(String(batch.notice?.no ?? 0), batch.notice?.json ?? "");
  args.push(String(batch.events.length));
  for (const e of batch.events) args.push(String(e.seq), e.type, e.json);
  args.push(batch.summary);
  return args;
}

/** The script's reply, checked. */
export function parseFlushReply(
  reply: unknown,
): { added: number; pruned: number; known: boolean } {
  if (Array.isArray(reply) && reply.length === 3) {
    const [added, pruned, known] = reply.map(Number);
    if (Number.isInteger(added) && Number.isInteger(pruned)) {
      return { added, pruned, known: known === 1 };
    }
  }
  throw new Error(`unexpected reply from the flush script: ${JSON.stringify(reply)}`);
}
