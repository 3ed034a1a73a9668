/**
 * Soak-test helpers: `main.ts` in its own process on free loopback ports (so its memory is its
 * own, not the test's), its `/metrics` read over HTTPS, and HTTP/3 clients that trust its CA.
 *
 * ```ts
 * const server = await spawnServer(["--max-closed", "100"]);
 * const metrics = await server.metrics();
 * console.log(metrics.get("deno_heap_used_bytes"));
 * await server.stop();
 * ```
 * @module
 */

import { withTimeout as within } from "../../lib/timeout.ts";
export { within };
import { strict as assert } from "node:assert";
import { H3Client } from "../../lib/h3/client.ts";
import { serverV8FlagsArg } from "../../lib/runtime_flags.ts";
import { freePort } from "./server.ts";

/** Parses Prometheus text into `name{labels}` → value (names without labels stay bare). */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The sum of every series of metric `name` whose labels include all of `labels`. */
export function sumOf(metrics: Map<string, number>, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (labels.every((label) => key.includes(label))) sum += value;
  }
  return sum;
}

/** A server process and what a test needs to talk to it. */
export interface ServerProcess {
  /** HTTP/3 (UDP) and HTTPS (TCP) port. */
  readonly port: number;
  /** The migration lab's port. */
  readonly labPort: number;
  /** The process id, for `/proc/<pid>/status`. */
  readonly pid: number;
  /** The admin token from `<data-dir>/admin-token`. */
  readonly adminToken: string;
  /** Its development CA in PEM, for clients to trust. */
  readonly caPem: string;
  /** Its metrics, fetched now over HTTPS (TCP, so HTTP/3 counts are not disturbed). */
  metrics(): Promise<Map<string, number>>;
  /** A JSON API answer over HTTPS (TCP). */
  getJson(path: string): Promise<unknown>;
  /**
   * An HTTP/3 connection to the server's port, or through the lab relay with `lab: true`; from
   * `endpoint` (a local UDP socket) when given, else from a new one.
   */
  client(
    options?: { lab?: boolean; keepAliveInterval?: number; endpoint?: Deno.QuicEndpoint },
  ): Promise<H3Client>;
  /**
   * A full garbage collection in the server, now, through V8's inspector
   * (`HeapProfiler.collectGarbage`); only with `inspect: true`.
   */
  collectGarbage(): Promise<void>;
  /** The last lines the process printed, for failure messages. */
  tail(): string;
  /** Its exit code, once it has exited. */
  readonly exited: Promise<number>;
  /** SIGTERM, then waits (bounded) for the exit; returns its code. Removes the data directory. */
  stop(): Promise<number>;
}

/**
 * Starts `main.ts` with the V8 options `deno task start` passes, on 127.0.0.1 with free ports, a
 * temporary data directory and `extraArgs`, and resolves once its banner is printed (rejects if it
 * exits first or takes over 30 s). With `inspect`, V8's inspector listens on another free loopback
 * port, for `collectGarbage()`. Its stdout and stderr are drained continuously (only the last lines
 * are kept), so a busy server never blocks on a full pipe.
 */
export async function spawnServer(
  extraArgs: string[],
  options: { inspect?: boolean } = {},
): Promise<ServerProcess> {
  const dataDir = await Deno.makeTempDir({ prefix: "quic-soak-" });
  const port = freePort();
  const labPort = freePort();
  const inspectPort = options.inspect ? freePort() : undefined;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // The young generation `deno task start` gives the server: its memory is what users get.
      serverV8FlagsArg(),
      ...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
      "main.ts",
      ...["--host", "127.0.0.1", "--port", String(port), "--lab-port", String(labPort)],
      ...["--data-dir", dataDir, ...extraArgs],
    ],
    cwd: new URL("../..", import.meta.url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let banner = false;
  let onBanner = () => {};
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 40) lines.shift();
        if (!banner && line.includes("Admin token")) {
          banner = true;
          onBanner();
        }
      }
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const tail = () => lines.join("\n");
  let httpClient: Deno.HttpClient | undefined;
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        onBanner = resolve;
        if (banner) resolve();
        child.status.then((s) => reject(new Error(`server exited ${s.code}:\n${tail()}`)));
      }),
      30_000,
      "the server's banner",
    );
    const caPem = await Deno.readTextFile(`${dataDir}/certs/ca.pem`);
    const adminToken = (await Deno.readTextFile(`${dataDir}/admin-token`)).trim();
    httpClient = Deno.createHttpClient({ caCerts: [caPem] });
    const http = httpClient;
    const get = async (path: string) => {
      const res = await within(
        fetch(`https://localhost:${port}${path}`, { client: http }),
        10_000,
        `GET ${path}`,
      );
      assert.equal(res.status, 200, `GET ${path}`);
      return res;
    };
    return {
      port,
      labPort,
      pid: child.pid,
      adminToken,
      caPem,
      metrics: async () => parseMetrics(await (await get("/metrics")).text()),
      getJson: async (path) => await (await get(path)).json(),
      client: (options = {}) =>
        H3Client.connect({
          hostname: "127.0.0.1",
          port: options.lab ? labPort : port,
          serverName: "localhost",
          caCerts: [caPem],
          keepAliveInterval: options.keepAliveInterval,
          endpoint: options.endpoint,
          // A connection the server silently dropped fails in bounded time, not the default 30 s.
          maxIdleTimeout: 10_000,
        }),
      collectGarbage: () => {
        assert.ok(
          inspectPort !== undefined,
          "collectGarbage needs spawnServer(…, { inspect: true })",
        );
        return within(collectGarbage(inspectPort), 10_000, "a garbage collection");
      },
      tail,
      exited: child.status.then((status) => status.code),
      async stop() {
        http.close();
        try {
          child.kill("SIGTERM");
        } catch {
          // exited already (a test signalled it itself)
        }
        try {
          return (await within(child.status, 15_000, `the server's exit:\n${tail()}`)).code;
        } catch (error) {
          child.kill("SIGKILL");
          throw error;
        } finally {
          await child.status;
          await drained;
          await Deno.remove(dataDir, { recursive: true });
        }
      },
    };
  } catch (error) {
    httpClient?.close();
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await drained;
    await Deno.remove(dataDir, { recursive: true });
    throw error;
  }
}

/** `VmRSS` and `VmHWM` (peak RSS) of process `pid` from `/proc`, in bytes. */
export async function procMemory(pid: number): Promise<{ rss: number; peakRss: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) => {
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    assert.ok(match, `${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib("VmRSS"), peakRss: kib("VmHWM") };
}

/** Connects to the V8 inspector on `port`, runs a full collection, and disconnects. */
async function collectGarbage(port: number): Promise<void> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  try {
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("cannot reach the inspector"));
    });
    await new Promise<void>((resolve, reject) => {
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.id !== 1) return;
        if (message.error) reject(new Error(JSON.stringify(message.error)));
        else resolve();
      };
      socket.onclose = () => reject(new Error("the inspector closed the connection"));
      socket.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
    });
  } finally {
    socket.onclose = null;
    socket.close();
  }
}
