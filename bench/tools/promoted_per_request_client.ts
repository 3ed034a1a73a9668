/**
 * The client side of `promoted_per_request.ts`, run in a worker so its allocations stay out of
 * the measured heap: holds `conns` HTTP/3 connections, and on each `"go"` message makes
 * `requests` `GET /healthz` over them, 8 at a time, then answers `"done"`.
 * @module
 */

import { H3Client } from "../../lib/h3/client.ts";

/** What the measuring side sends first. */
export interface ClientSetup {
  port: number;
  ca: string;
  conns: number;
  requests: number;
}

const worker = self as unknown as Worker;
worker.onmessage = async (event: MessageEvent<ClientSetup>) => {
  const { port, ca, conns, requests } = event.data;
  const clients: H3Client[] = [];
  for (let i = 0; i < conns; i++) {
    clients.push(
      await H3Client.connect({
        hostname: "127.0.0.1",
        port,
        serverName: "localhost",
        caCerts: [ca],
      }),
    );
  }
  worker.postMessage("connected");
  worker.onmessage = async () => {
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < requests) {
        const response = await clients[next++ % conns].fetch("/healthz");
        await response.arrayBuffer();
      }
    }));
    worker.postMessage("done");
  };
};
