/**
 * A burst of new connections at once, as after a load balancer's failover or a network's return:
 * each of 100 ngtcp2 clients (`gtlsclient`, one process each) handshakes and sends three GETs at
 * the same moment. Every client must be served, and the kernel must have dropped no datagram on
 * the server's QUIC socket: with the kernel's default receive buffer, such a burst overflows it
 * while the handshakes run on the server's one thread, and each dropped Initial costs its client
 * a retransmission timeout.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";
import { DEFAULT_LIMITS } from "../lib/limits.ts";
import { threeGetsAtOnce } from "./support/ngtcp2.ts";

const CLIENTS = 100;
/** What each client sends (`threeGetsAtOnce`). */
const REQUESTS = 3;

/** The value of the `quic` socket's sample of `name` in Prometheus text. */
function quicSocketMetric(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{socket="quic",`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

Deno.test("a burst of 100 handshakes at once: every client served, no datagram dropped", async () => {
  const server = await startTestServer();
  try {
    assert.equal(server.receiveBuffer.bytes, DEFAULT_LIMITS.udpReceiveBufferBytes);
    const runs = await Promise.all(
      Array.from({ length: CLIENTS }, () => threeGetsAtOnce(server.port)),
    );
    const failed = runs.filter((r) => r.code !== 0 || r.statuses.length !== REQUESTS);
    assert.equal(
      failed.length,
      0,
      `${failed.length} clients failed; one: ${failed[0]?.text.slice(-500)}`,
    );
    assert.ok(runs.every((r) => r.statuses.every((s) => s === "200")));
    const client = await server.client();
    try {
      const text = await (await client.fetch("/metrics")).text();
      assert.equal(
        quicSocketMetric(text, "quic_udp_receive_buffer_bytes"),
        DEFAULT_LIMITS.udpReceiveBufferBytes,
      );
      assert.equal(quicSocketMetric(text, "quic_udp_receive_drops_total"), 0);
    } finally {
      await client.close();
    }
    const served = [...server.tracker.closedConnections(), ...server.tracker.openConnections()]
      .filter((c) => c.requestCount === REQUESTS);
    assert.equal(served.length, CLIENTS, "one tracked connection per client, each with its GETs");
  } finally {
    await server.stop();
  }
});
