/**
 * Opens and holds idle HTTP/3 connections to our server, in stages, for the idle-memory and
 * watcher benchmarks. Each connection makes one `GET /healthz` (so the server has set it up
 * completely) and then only sends QUIC keep-alives. Connections share client endpoints (UDP
 * sockets), `--per-endpoint` each, so 10,000 connections need 10,000 / per-endpoint sockets.
 *
 * Prints `progress <n>` every 500 connections and `held <n>` when a stage is complete; the
 * next stage starts on `SIGUSR1`. `SIGTERM` closes everything and exits.
 *
 * ```sh
 * deno run -A bench/tools/hold_clients.ts --port 9443 --ca cert.pem --counts 1000,10000
 * ```
 * @module
 */

import { H3Client } from "../../lib/h3/client.ts";
import { flag, intFlag } from "./args.ts";

const args = Deno.args;
const port = intFlag(args, "port");
const caCerts = [await Deno.readTextFile(flag(args, "ca"))];
const counts = flag(args, "counts").split(",").map(Number);
const perEndpoint = intFlag(args, "per-endpoint", 100);
const concurrency = intFlag(args, "concurrency", 32);
const keepAliveInterval = intFlag(args, "keepalive", 5000);

const clients: H3Client[] = [];
const endpoints: Deno.QuicEndpoint[] = [];
let failures = 0;
let printed = 0;
let next: () => void = () => {};
Deno.addSignalListener("SIGUSR1", () => next());
Deno.addSignalListener("SIGTERM", () => {
  for (const c of clients) c.close();
  Deno.exit(0);
});

async function connectOne(index: number): Promise<void> {
  const e = Math.floor(index / perEndpoint);
  endpoints[e] ??= new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const client = await H3Client.connect({
    hostname: "127.0.0.1",
    port,
    serverName: "localhost",
    caCerts,
    endpoint: endpoints[e],
    keepAliveInterval,
    maxIdleTimeout: 60_000,
  });
  const res = await client.fetch("/healthz");
  await res.arrayBuffer();
  clients.push(client);
}

for (const target of counts) {
  let issued = clients.length;
  const worker = async () => {
    while (issued < target) {
      const index = issued++;
      try {
        await connectOne(index);
      } catch (error) {
        if (++failures <= 5) console.error(`connect ${index} failed: ${error}`);
        if (failures > 100) throw new Error(`${failures} connections failed`);
        issued--; // try this slot again
      }
      if (clients.length >= printed + 500) {
        printed = clients.length - (clients.length % 500);
        console.log(`progress ${printed}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  console.log(`held ${clients.length} failures ${failures} endpoints ${endpoints.length}`);
  if (target !== counts.at(-1)) await new Promise<void>((resolve) => (next = resolve));
}
// Hold until SIGTERM.
setInterval(() => {}, 60_000);
