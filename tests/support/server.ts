/**
 * Test helpers: start a server on a free port in this process, and an HTTP/3 client that
 * trusts its development CA. Reusable for your own `deno test` migration checks.
 *
 * ```ts
 * const server = await startTestServer();
 * const client = await server.client();
 * const res = await client.fetch("/api/test");
 * client.close();
 * await server.stop();
 * ```
 * @module
 */

import { H3Client } from "../../lib/h3/client.ts";
import { type RunningServer, type StartOptions, startServer } from "../../lib/start_server.ts";

/** A running test server plus conveniences. */
export interface TestServer extends RunningServer {
  /** The development CA in PEM, for clients to trust. */
  readonly caPem: string;
  /** The data directory: a temporary one, removed by `stop()`, unless the caller gave one. */
  readonly dataDir: string;
  /** Opens an HTTP/3 client connection to the server. */
  client(): Promise<H3Client>;
  /** Opens an HTTP/3 client connection through the migration lab's relay. */
  labClient(options?: { keepAliveInterval?: number }): Promise<H3Client>;
  /** Shuts the server down and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * What a test may change: any start option (limits, visibility, history, tracker retention…).
 * A `dataDir` the test gives is kept by `stop()`; otherwise a temporary one is removed.
 */
export type TestServerOptions = Partial<StartOptions>;

/**
 * Starts a server on 127.0.0.1 (or `options.hostname`) and a free port, logging into `lines` instead of stdout.
 * History is off unless `options.history` is given (a restart test passes its own `dataDir`).
 */
export async function startTestServer(
  lines: string[] = [],
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "quic-test-" });
  const hostname = options.hostname ?? "127.0.0.1";
  const server = await startServer({
    ...options,
    hostname,
    port: 0,
    labPort: 0,
    dataDir,
    log: (line) => lines.push(line),
  });
  const caPem = (server.certificates as { caPem?: string }).caPem;
  if (!caPem) throw new Error("test server has no development CA");
  return {
    ...server,
    port: server.port,
    tracker: server.tracker,
    certificates: server.certificates,
    caPem,
    dataDir,
    client: () =>
      H3Client.connect({
        hostname,
        port: server.port,
        serverName: "localhost",
        caCerts: [caPem],
      }),
    labClient: (options = {}) =>
      H3Client.connect({
        hostname: "127.0.0.1",
        port: server.labPort!,
        serverName: "localhost",
        caCerts: [caPem],
        keepAliveInterval: options.keepAliveInterval,
      }),
    async stop() {
      await server.shutdown(1000);
      if (options.dataDir === undefined) await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** Hex SHA-256 of everything a stream yields, computed as it streams. */
export async function sha256Stream(
  stream: ReadableStream<Uint8Array>,
): Promise<{ hex: string; bytes: number }> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { hex: hash.digest("hex"), bytes };
}

export { freePort } from "./free_port.ts";
