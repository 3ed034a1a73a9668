/**
 * Live readers of the cluster's event stream, for a node's SSE clients. One `XREAD BLOCK` loop
 * per node (on its own connection: a blocked connection can do nothing else) serves every
 * follower; a follower first catches up from its `Last-Event-ID` with `RedisDirectory.
 * eventsSince`, then gets what the loop reads. It joins the loop *before* catching up, and skips
 * what it already has by stream id, so the hand-over loses nothing and repeats nothing. Stream
 * ids are cluster-wide, so a client may resume on any node.
 *
 * While Redis is away the loop retries every `retryMs` from where it was; followers wait. A
 * follower that does not keep up (more than `maxBuffered` entries waiting) is ended; its client
 * reconnects and resumes from its last id.
 *
 * ```ts
 * const follower = new StreamFollower(blockingClient, directory);
 * for await (const item of follower.follow(lastId, request.signal)) {
 *   if ("reset" in item) send("reset", item.reset);
 *   else send(item.event.type, item.event, item.id);
 * }
 * follower.close();
 * ```
 * @module
 */

import type { ClusterStreamEntry } from "./cluster_record.ts";
import { decodeEntries, type RedisDirectory } from "./redis_directory.ts";
import type { RedisClient } from "./redis_client.ts";
import { clusterKeys, compareStreamIds, DEFAULT_PREFIX, isStreamId } from "./redis_keys.ts";

/** What a follower yields instead of an entry when it cannot resume: the client should reload. */
export interface StreamReset {
  id: null;
  reset: string;
}

/** Settings of a follower. */
export interface StreamFollowerOptions {
  prefix?: string;
  /** How long one `XREAD` blocks, in ms (default 2,000); bounds how long `close` waits. */
  blockMs?: number;
  /** Entries per read (default 256). */
  count?: number;
  /** Entries waiting for one follower before it is ended (default 1,000). */
  maxBuffered?: number;
  /** Milliseconds between reads while Redis is away (default 500). */
  retryMs?: number;
}

/** XREAD with a block time; a script would not block, so this is a plain command. */
const READ = (key: string, id: string, count: number, blockMs: number) => [
  "XREAD",
  "COUNT",
  String(count),
  "BLOCK",
  String(blockMs),
  "STREAMS",
  key,
  id,
];

interface Follower {
  buffer: ClusterStreamEntry[];
  wake: () => void;
  overflowed: boolean;
}

/** The node's live reader of the cluster's event stream. */
export class StreamFollower {
  readonly #client: RedisClient;
  readonly #directory: RedisDirectory;
  readonly #key: string;
  readonly #blockMs: number;
  readonly #count: number;
  readonly #maxBuffered: number;
  readonly #retryMs: number;
  readonly #followers = new Set<Follower>();
  /** The last id the loop has read; defined while the loop runs. */
  #cursor: string | undefined;
  #loop: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #closed = false;
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;

  /** @param client a connection for this follower alone (it blocks) */
  constructor(
    client: RedisClient,
    directory: RedisDirectory,
    options: StreamFollowerOptions = {},
  ) {
    this.#client = client;
    this.#directory = directory;
    this.#key = clusterKeys(options.prefix ?? DEFAULT_PREFIX).events;
    this.#blockMs = options.blockMs ?? 2000;
    this.#count = options.count ?? 256;
    this.#maxBuffered = options.maxBuffered ?? 1000;
    this.#retryMs = options.retryMs ?? 500;
  }

  /** Followers connected now. */
  get size(): number {
    return this.#followers.size;
  }

  /**
   * Every entry after `lastId` (`"$"`: only new ones), then live entries, until `signal` aborts,
   * the follower falls behind, or `close` is called. Yields a {@link StreamReset} first when
   * entries after `lastId` are gone. Rejects only if Redis cannot be reached while joining or
   * catching up (the caller answers 503; its client retries).
   */
  async *follow(
    lastId: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ClusterStreamEntry | StreamReset> {
    if (this.#closed || signal?.aborted) return;
    const self: Follower = { buffer: [], wake: () => {}, overflowed: false };
    const onAbort = () => self.wake();
    signal?.addEventListener("abort", onAbort);
    try {
      // Where the loop stood when this follower joined: it gets every entry after that.
      const joinedAt = await this.#join(self);
      let last = joinedAt;
      if (lastId !== "$") {
        if (!isStreamId(lastId)) throw new TypeError(`not a stream id: ${lastId}`);
        last = lastId;
        // Bounded: each page starts after the previous one, and the stream is capped.
        for (let page = 0; page < 100_000 && !signal?.aborted; page++) {
          const entries = await this.#directory.eventsSince(last);
          if (entries === null) {
            yield { id: null, reset: `events after ${last} are no longer in the stream; reload` };
            last = joinedAt;
            break;
          }
          if (entries.length === 0) break;
          for (const entry of entries) yield entry;
          last = entries[entries.length - 1].id;
        }
      }
      while (!signal?.aborted && !this.#closed && !self.overflowed) {
        const entry = self.buffer.shift();
        if (entry === undefined) {
          await new Promise<void>((resolve) => self.wake = resolve);
          continue;
        }
        if (compareStreamIds(entry.id, last) <= 0) continue; // already sent while catching up
        last = entry.id;
        yield entry;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#followers.delete(self);
    }
  }

  /**
   * Adds `self` once the loop runs with a known cursor (starting it if needed); returns the
   * cursor at that moment.
   */
  async #join(self: Follower): Promise<string> {
    if (this.#started === undefined) {
      const started = this.#directory.lastEventId().then((id) => {
        this.#cursor = id;
      });
      this.#started = started;
      try {
        await started;
      } catch (error) {
        if (this.#started === started) this.#started = undefined; // the next follower retries
        throw error;
      }
      this.#loop ??= this.#run();
    } else {
      await this.#started;
      this.#loop ??= this.#run();
    }
    this.#followers.add(self);
    return this.#cursor ?? "0-0";
  }

  async #run(): Promise<void> {
    // Runs from the first follower until `close`: one read per `blockMs` when all is quiet.
    while (!this.#closed && this.#cursor !== undefined) {
      let reply: unknown;
      try {
        reply = await this.#client.sendCommand(
          READ(this.#key, this.#cursor, this.#count, this.#blockMs),
        );
      } catch {
        if (this.#closed) return;
        await this.#pause(this.#retryMs); // Redis away: followers wait, nothing is lost
        continue;
      }
      const entries = decodeEntries(streamOf(reply));
      if (entries.length > 0) this.#cursor = entries[entries.length - 1].id;
      for (const follower of this.#followers) {
        follower.buffer.push(...entries);
        if (follower.buffer.length > this.#maxBuffered) follower.overflowed = true;
        follower.wake();
      }
    }
  }

  async #pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#sleep = { timer: setTimeout(resolve, ms), resolve };
    });
    this.#sleep = undefined;
  }

  /** Ends every follower and the loop. The blocking client's owner closes it (that ends a read). */
  close(): void {
    this.#closed = true;
    if (this.#sleep !== undefined) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
    }
    for (const follower of this.#followers) follower.wake();
  }

  /** Resolves when the loop has ended (after `close` and the client's close). */
  async closed(): Promise<void> {
    await this.#loop;
  }
}

/**
 * The entries of an XREAD reply: RESP3 gives a map (stream name → entries), RESP2 a list of
 * [name, entries] pairs; null when the block timed out.
 */
function streamOf(reply: unknown): unknown {
  if (reply === null || reply === undefined) return [];
  if (reply instanceof Map) return [...reply.values()][0] ?? [];
  if (Array.isArray(reply)) return Array.isArray(reply[0]) ? reply[0][1] : [];
  if (typeof reply === "object") return Object.values(reply)[0] ?? [];
  return [];
}
