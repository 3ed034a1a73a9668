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

import {
  ClientClosedError,
  ConnectionTimeoutError,
  createClient,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
} from "redis";

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

/** Node's codes for a socket the network closed under it. */
const SOCKET_ERROR_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"]);

/**
 * Whether `reason` is a Redis connection's failure: one of the client's own error classes, or
 * a socket's read, write or connect error.
 */
export function isRedisConnectionError(reason: unknown): boolean {
  if (
    reason instanceof SocketClosedUnexpectedlyError || reason instanceof ConnectionTimeoutError ||
    reason instanceof ClientClosedError || reason instanceof ReconnectStrategyError
  ) {
    return true;
  }
  const { code, syscall } = (reason ?? {}) as { code?: unknown; syscall?: unknown };
  return typeof code === "string" && SOCKET_ERROR_CODES.has(code) &&
    (syscall === "read" || syscall === "write" || syscall === "connect");
}

const warners = new Set<(line: string) => void>();

function dropRedisRejection(event: PromiseRejectionEvent): void {
  if (!isRedisConnectionError(event.reason)) return;
  event.preventDefault();
  const reason = event.reason instanceof Error ? event.reason.message : String(event.reason);
  for (const warn of warners) {
    warn(`Redis connection failure inside the client, not handled there: ${reason}`);
  }
}

/**
 * Keeps a Redis outage from ending the process. node-redis reports a lost connection as an
 * "error" event (which the caller listens to) and retries; but under load a promise inside the
 * client can reject with the same failure with nothing to catch it, and an unhandled rejection
 * ends a Deno process. While at least one guard is held, such a rejection is told to every
 * holder's `warn` and dropped; any other rejection is left alone. Returns the release function.
 */
export function guardRedisRejections(warn: (line: string) => void): () => void {
  // A function object of its own, so two holders with the same `warn` release separately.
  const holder = (line: string) => warn(line);
  if (warners.size === 0) globalThis.addEventListener("unhandledrejection", dropRedisRejection);
  warners.add(holder);
  return () => {
    if (!warners.delete(holder)) return;
    if (warners.size === 0) {
      globalThis.removeEventListener("unhandledrejection", dropRedisRejection);
    }
  };
}
