/**
 * How many bytes each request leaves in the server's old generation: our server (`startServer`,
 * lab off, the migration watcher's interval pushed out of the way) answers `GET /healthz` from
 * a client in a worker (its own heap, so only the server's allocations count), and after each
 * round of `--requests` the growth of V8's old space, after two scavenges, is divided by the
 * requests. What a request promotes is what makes the young generation's collections long
 * (`bench/results/2026-11-28-gc.md`). `--responder bare` answers from a minimal responder on the
 * same QUIC API instead, which parses nothing: the runtime's own share.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/tools/promoted_per_request.ts --requests 5000
 * ```
 * @module
 */

import v8 from "node:v8";
import { startServer } from "../../lib/start_server.ts";
import { flag, intFlag, sleep } from "./args.ts";
import type { ClientSetup } from "./promoted_per_request_client.ts";

const args = Deno.args;
const gc = (globalThis as { gc?: (options?: { type: "minor" }) => void }).gc;
const responder = flag(args, "responder", "app");
if (gc === undefined || (responder !== "app" && responder !== "bare")) {
  console.error("error: run with --v8-flags=--expose-gc; --responder is app or bare");
  Deno.exit(2);
}
const requests = intFlag(args, "requests", 5000);
const conns = intFlag(args, "conns", 100);
const rounds = intFlag(args, "rounds", 3);

const dataDir = await Deno.makeTempDir({ prefix: "promoted-per-request-" });
const server = await startServer({
  hostname: "127.0.0.1",
  port: 0,
  dataDir,
  log: () => {},
  // A round over every connection per interval would add its own allocations to each request's.
  watchIntervalMs: 10_000,
});
const ca = await Deno.readTextFile(`${dataDir}/certs/ca.pem`);
const bare = responder === "bare" ? serveBare(server.certificates) : undefined;

const worker = new Worker(new URL("./promoted_per_request_client.ts", import.meta.url), {
  type: "module",
});
const reply = () => new Promise<void>((resolve) => (worker.onmessage = () => resolve()));
const setup: ClientSetup = { port: bare?.port ?? server.port, ca, conns, requests };
worker.postMessage(setup);
await reply();

const oldSpace = () =>
  v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!.space_used_size;
for (let round = 1; round <= rounds; round++) {
  // A full collection first, so the round starts from live objects only.
  gc();
  await sleep(50);
  const before = oldSpace();
  worker.postMessage("go");
  await reply();
  // Two scavenges, each after a turn of the event loop: what survives them was promoted.
  for (let i = 0; i < 2; i++) {
    await sleep(50);
    gc({ type: "minor" });
  }
  const perRequest = Math.round((oldSpace() - before) / requests);
  console.log(`round ${round}: old space +${perRequest} bytes per request (${responder})`);
}
worker.terminate();
bare?.close();
await server.shutdown(1000);
await Deno.remove(dataDir, { recursive: true });

/**
 * A responder that parses nothing: every request stream is read to its end and answered with
 * one fixed HEADERS frame (`:status 200`).
 */
function serveBare(certificates: { certPem: string; keyPem: string }) {
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({
    cert: certificates.certPem,
    key: certificates.keyPem,
    alpnProtocols: ["h3"],
  });
  // HEADERS (type 1, length 3): QPACK prefix 00 00, then static entry 25 (:status 200).
  const answer = new Uint8Array([0x01, 0x03, 0x00, 0x00, 0xc0 | 25]);
  const settings = new Uint8Array([0x00, 0x04, 0x00]); // control stream, empty SETTINGS
  const controls: WritableStreamDefaultWriter<Uint8Array>[] = [];
  const readToEnd = async (readable: ReadableStream<Uint8Array>) => {
    const reader = readable.getReader();
    try {
      while (!(await reader.read()).done);
    } catch {
      // reset by the peer
    }
  };
  const serve = async (conn: Deno.QuicConn) => {
    conn.closed.catch(() => {});
    const control = (await conn.createUnidirectionalStream()).getWriter();
    controls.push(control); // a collected control stream would be closed
    control.write(settings).catch(() => {});
    (async () => {
      for await (const uni of conn.incomingUnidirectionalStreams) readToEnd(uni);
    })().catch(() => {});
    for await (const stream of conn.incomingBidirectionalStreams) {
      readToEnd(stream.readable).then(async () => {
        const writer = stream.writable.getWriter();
        await writer.write(answer);
        await writer.close();
      }).catch(() => {});
    }
  };
  (async () => {
    for await (const incoming of listener) {
      Promise.resolve(incoming.accept()).then(serve).catch(() => {});
    }
  })().catch(() => {});
  return {
    port: endpoint.addr.port,
    close: () => {
      listener.stop();
      endpoint.close();
    },
  };
}
