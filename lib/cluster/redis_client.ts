/**
 * The Redis connections a node opens, set up the way degraded mode needs them: a command sent
 * while disconnected fails at once instead of waiting in the client's own unbounded queue (the
 * sink holds what must wait, bounded), and a lost connection is retried forever with a capped
 * back-off. Also runs Lua scripts by their SHA-1, sending the text only when Redis does not
 * know it yet.
 *
 * ```ts
 * const client = redisClient("redis://127.0.0.1:6379");
 * client.on("error", () => {}); // a listener is required: see ClusterState
 * client.connect().catch(() => {}); // resolves at the first connection, however late
 * ```
 * @module
 */

import { createClient } from "redis";

/** A node-redis client as `redisClient` makes it. */
export type RedisClient = ReturnType<typeof createClient>;

/** Longest wait between reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** A client for `url` (not yet connected). */
export function redisClient(url: string, options: { connectTimeoutMs?: number } = {}): RedisClient {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), MAX_RECONNECT_DELAY_MS),
    },
  });
}

/** A Lua script and its SHA-1 (what `EVALSHA` names it by). */
export class LuaScript {
  #sha: Promise<string> | undefined;

  /** @param source the script's text */
  constructor(readonly source: string) {}

  /** The script's SHA-1 in hex. */
  sha(): Promise<string> {
    return this.#sha ??= crypto.subtle.digest("SHA-1", new TextEncoder().encode(this.source))
      .then((digest) =>
        Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
      );
  }

  /** Runs the script on `client` with `keys` and `args`; rejects when Redis does. */
  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    const options = { keys, arguments: args };
    try {
      return await client.evalSha(await this.sha(), options);
    } catch (error) {
      // A Redis that restarted (or another program's SCRIPT FLUSH) forgot the script.
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await client.eval(this.source, options);
    }
  }
}

/** An error's message, for one log line. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
