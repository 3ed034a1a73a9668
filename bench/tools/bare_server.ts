/**
 * A bare `Deno.serve` over TLS (HTTP/2 and HTTP/1.1): no Hono, no tracker, no middleware. The
 * benchmarks' measure of what the runtime alone does over TCP. `GET /healthz` answers the same
 * 15-byte JSON as our server; `GET /api/download?bytes=N` streams the same deterministic bytes
 * from `lib/download.ts`, paced by flow control.
 *
 * ```sh
 * deno run -A bench/tools/bare_server.ts --port 9445 --cert cert.pem --key key.pem
 * ```
 * @module
 */

import { DownloadSource } from "../../lib/download.ts";
import { flag, intFlag } from "./args.ts";

const BODY = '{"status":"ok"}';
const args = Deno.args;
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: intFlag(args, "port"),
  cert: await Deno.readTextFile(flag(args, "cert")),
  key: await Deno.readTextFile(flag(args, "key")),
  onListen: ({ port }) => console.log(`bare server ready on 127.0.0.1:${port}`),
}, (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/api/download") {
    const bytes = Number(url.searchParams.get("bytes") ?? 0);
    return new Response(new ReadableStream(new DownloadSource(bytes), { highWaterMark: 0 }), {
      headers: { "content-type": "application/octet-stream", "content-length": String(bytes) },
    });
  }
  return new Response(BODY, { headers: { "content-type": "application/json" } });
});
const stop = async () => {
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
