/**
 * The floor of an HTTP/1.1 server on Deno's `node:tls`: each request head (found by its blank
 * line, nothing parsed) gets the same pre-encoded 15-byte JSON answer in one write. What our
 * TCP listener cannot beat while it keeps `node:tls` (see `lib/server/h1_listener.ts` for why it
 * does); compare with `bare_server.ts` (`Deno.serve`) under the same `h2load --h1` load.
 *
 * ```sh
 * deno run -A bench/tools/tls_floor_server.ts --port 9446 --cert cert.pem --key key.pem
 * ```
 * @module
 */

import tls from "node:tls";
import { flag, intFlag } from "./args.ts";

const ANSWER = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n" +
    '{"status":"ok"}',
);
const args = Deno.args;
const decoder = new TextDecoder("latin1");
const server = tls.createServer({
  cert: await Deno.readTextFile(flag(args, "cert")),
  key: await Deno.readTextFile(flag(args, "key")),
  ALPNProtocols: ["http/1.1"],
}, (socket) => {
  let pending = "";
  socket.on("data", (chunk: Uint8Array) => {
    pending += decoder.decode(chunk);
    // Bounded by what arrived: each pass removes one head.
    for (let at = pending.indexOf("\r\n\r\n"); at !== -1; at = pending.indexOf("\r\n\r\n")) {
      pending = pending.slice(at + 4);
      socket.write(ANSWER);
    }
    if (pending.length > 65_536) socket.destroy();
  });
  socket.on("error", () => socket.destroy());
});
server.listen(intFlag(args, "port"), "127.0.0.1", () => {
  console.log(`tls floor server ready on 127.0.0.1:${intFlag(args, "port")}`);
});
const stop = () => server.close(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
