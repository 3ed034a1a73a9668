/**
 * The child processes of a local cluster: each started in its own session, its output passed on
 * line by line with its name in front, watched for a readiness line, and stopped with a signal
 * and a bounded wait (then SIGKILL). Also the small network probes that tell when a part is up.
 *
 * Why each child gets its own session (`detached`): Ctrl-C in a terminal signals the whole
 * foreground process group at once, so nginx and Redis would stop while the nodes still drain
 * their connections. In their own sessions only the orchestrator hears Ctrl-C, and it stops
 * the parts in order: nodes, then nginx, then Redis.
 *
 * ```ts
 * const redis = ManagedProcess.spawn({ name: "redis", command: "redis-server", args: [] }, log);
 * await redis.stop("SIGTERM", 10_000);
 * ```
 * @module
 */

import { withTimeout } from "../timeout.ts";

/** What to start. */
export interface ProcessSpec {
  /** Its log prefix and its name in messages: `node1`, `nginx`, `redis`. */
  name: string;
  command: string;
  args: string[];
}

/** Lines kept per process for a failure message. */
const TAIL_LINES = 20;

/** A running child whose output is relayed with its name in front. */
export class ManagedProcess {
  /** Resolves with the exit status (never rejects). */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The last lines it printed, oldest first. */
  readonly tail: string[] = [];
  #exitedNow = false;
  #watchers: Array<(line: string) => void> = [];
  readonly #relayed: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: Deno.ChildProcess,
    log: (line: string) => void,
  ) {
    this.exited = child.status.then((status) => {
      this.#exitedNow = true;
      return status;
    });
    const relay = async (stream: ReadableStream<Uint8Array>) => {
      let partial = "";
      const take = (line: string) => {
        log(`[${name}] ${line}`);
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        for (const watcher of this.#watchers) watcher(line);
      };
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (partial + text).split("\n");
        partial = parts.pop()!;
        for (const line of parts) take(line);
      }
      if (partial !== "") take(partial);
    };
    this.#relayed = Promise.all([relay(child.stdout), relay(child.stderr)]).then(() => {});
  }

  /** Starts `spec` in its own session with piped output; `log` gets each line, prefixed. */
  static spawn(spec: ProcessSpec, log: (line: string) => void): ManagedProcess {
    const child = new Deno.Command(spec.command, {
      args: spec.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    return new ManagedProcess(spec.name, child, log);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** True once it has exited. */
  get hasExited(): boolean {
    return this.#exitedNow;
  }

  /**
   * The first output line matching `pattern` (including lines already printed), within
   * `timeoutMs`.
   * @throws {Error} if it exits first or the time runs out, naming the process.
   */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const earlier = this.tail.map((line) => line.match(pattern)).find((match) => match !== null);
    if (earlier) return earlier;
    let watcher: (line: string) => void = () => {};
    const found = new Promise<RegExpMatchArray>((resolve) => {
      watcher = (line) => {
        const match = line.match(pattern);
        if (match) resolve(match);
      };
      this.#watchers.push(watcher);
    });
    const died = this.exited.then((status) => {
      throw new Error(`${this.name} exited (${describeStatus(status)}) before it was ready`);
    });
    try {
      return await withTimeout(Promise.race([found, died]), timeoutMs, `${this.name} to be ready`);
    } finally {
      this.#watchers = this.#watchers.filter((other) => other !== watcher);
      died.catch(() => {});
    }
  }

  /**
   * Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs it; resolves with the
   * status once its output is fully relayed. Harmless when it has already exited.
   */
  async stop(signal: Deno.Signal, graceMs: number): Promise<Deno.CommandStatus> {
    if (!this.#exitedNow) {
      try {
        this.child.kill(signal);
      } catch {
        // it exited between the check and the signal
      }
      try {
        await withTimeout(this.exited, graceMs, `${this.name} to stop`);
      } catch {
        try {
          this.child.kill("SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
    }
    const status = await this.exited;
    await this.#relayed;
    return status;
  }
}

/** `code 1`, or `signal SIGKILL`, for messages. */
export function describeStatus(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

/**
 * Resolves once `hostname:port` accepts a TCP connection, within `timeoutMs`.
 * @throws {Error} when `gaveUp` resolves first (its process exited) or time runs out.
 */
export async function waitForTcp(
  hostname: string,
  port: number,
  timeoutMs: number,
  gaveUp: Promise<unknown>,
): Promise<void> {
  let stopped = false;
  gaveUp.then(() => (stopped = true));
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 10_000 && Date.now() < deadline && !stopped; attempt++) {
    const conn = await Deno.connect({ hostname, port }).catch(() => undefined);
    if (conn) {
      conn.close();
      return;
    }
    await Promise.race([gaveUp, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  throw new Error(`nothing accepted TCP on ${hostname}:${port} within ${timeoutMs} ms`);
}

/**
 * Whether a Redis at `hostname:port` answers PING with PONG (within `timeoutMs`): an inline
 * command, so no client library is needed.
 */
export async function redisAnswersPing(
  hostname: string,
  port: number,
  timeoutMs = 1000,
): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await withTimeout(Deno.connect({ hostname, port }), timeoutMs, "connect");
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    const read = await withTimeout(conn.read(buffer), timeoutMs, "PONG");
    return read !== null && new TextDecoder().decode(buffer.subarray(0, read)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/** Whether `port` is free for both TCP and UDP on `hostname` right now. */
export function portIsFree(hostname: string, port: number): boolean {
  let tcp: Deno.Listener | undefined;
  try {
    tcp = Deno.listen({ hostname, port });
    Deno.listenDatagram({ transport: "udp", hostname, port }).close();
    return true;
  } catch {
    return false;
  } finally {
    tcp?.close();
  }
}

/** A port free for TCP and UDP on `hostname`: `preferred` if it is, else one the system picks. */
export function freePortOn(hostname: string, preferred?: number): number {
  if (preferred !== undefined && portIsFree(hostname, preferred)) return preferred;
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = Deno.listen({ hostname, port: 0 });
    const port = (tcp.addr as Deno.NetAddr).port;
    tcp.close();
    if (portIsFree(hostname, port)) return port;
  }
  throw new Error(`no free TCP+UDP port on ${hostname} after 50 attempts`);
}

/** Whether `ip` is an address of this machine (a socket can be bound to it). */
export function isLocalAddress(ip: string): boolean {
  try {
    Deno.listenDatagram({ transport: "udp", hostname: ip, port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}
