/**
 * A throw-away Redis for tests: `redis-server` in the foreground on a free loopback port, with
 * no persistence and its working directory in a temporary one; `pause()` stops it and `resume()`
 * starts it again on the same port (a Redis outage); `stop()` ends it and removes the directory.
 * Fails (never skips) when redis-server is not installed.
 *
 * ```ts
 * const redis = await startRedis();
 * // … redis.url …
 * await redis.stop();
 * ```
 * @module
 */

import { freePort } from "./free_port.ts";

/** A running test Redis. */
export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** Stops the server (its data goes: no persistence); the port stays reserved for `resume`. */
  pause(): Promise<void>;
  /** Starts it again on the same port and waits until it accepts. */
  resume(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** Starts redis-server and waits (at most 5 s) until it accepts connections. */
export async function startRedis(): Promise<TestRedis> {
  const dir = await Deno.makeTempDir({ prefix: "quic-redis-" });
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  const launch = async () => {
    try {
      child = new Deno.Command("redis-server", {
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error("redis-server is missing: apt-get install redis-server");
      }
      throw error;
    }
    const exited = child.status;
    for (let attempt = 0; attempt < 100; attempt++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => undefined);
      if (conn !== undefined) {
        conn.close();
        return;
      }
      const gone = await Promise.race([exited.then(() => true), delay(50).then(() => false)]);
      if (gone) break;
    }
    await halt();
    throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
  };
  const halt = async () => {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    try {
      running.kill("SIGTERM");
    } catch {
      // already gone
    }
    await running.status;
  };
  try {
    await launch();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: halt,
    resume: launch,
    async stop() {
      await halt();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
