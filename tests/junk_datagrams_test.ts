/**
 * Hostile traffic at the QUIC port: 20,000 random, truncated and Initial-looking datagrams must
 * leave the server answering HTTP/3 normally, on a connection opened before and on a new one.
 * Loopback only, bounded in count.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";

/** A small deterministic PRNG (xorshift32), so a failure can be replayed. */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** A datagram that looks like the start of a QUIC v1 Initial, cut or garbled somewhere. */
function initialLike(random: () => number): Uint8Array {
  const size = 1 + Math.floor(random() * 1300);
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = Math.floor(random() * 256);
  d[0] = 0xc0 | (d[0] & 0x0f); // long header, Initial
  if (size >= 5) d.set([0, 0, 0, 1], 1); // version 1
  if (size >= 6) d[5] = 8 + Math.floor(random() * 13); // a plausible DCID length
  return d;
}

Deno.test("20,000 random and truncated datagrams leave HTTP/3 working", async () => {
  const server = await startTestServer();
  const before = await server.client();
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    assert.equal((await before.fetch("/api/test")).status, 200);
    const random = prng(0x5eed);
    const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: server.port };
    for (let i = 0; i < 20_000; i++) {
      let datagram: Uint8Array;
      const pick = i % 3;
      if (pick === 0) datagram = initialLike(random);
      else {
        const size = pick === 1 ? Math.floor(random() * 64) : Math.floor(random() * 1500);
        datagram = new Uint8Array(size);
        for (let j = 0; j < size; j++) datagram[j] = Math.floor(random() * 256);
        if (pick === 1 && size > 0) datagram[0] = 0x40 | (datagram[0] & 0x3f); // short header
      }
      await socket.send(datagram, target);
    }
    const after = await before.fetch("/api/test");
    assert.equal(after.status, 200, "the connection opened before still works");
    assert.equal((await after.json()).migration_count, 0);
    const fresh = await server.client();
    try {
      const res = await fresh.fetch("/api/test");
      assert.equal(res.status, 200, "a new connection works");
      assert.equal((await res.json()).protocol, "h3");
    } finally {
      fresh.close();
    }
    // Junk never becomes a tracked connection: only our two clients were accepted.
    assert.equal(server.tracker.summary().open + server.tracker.summary().closed, 2);
  } finally {
    socket.close();
    before.close();
    await server.stop();
  }
});
