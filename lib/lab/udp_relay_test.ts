import { strict as assert } from "node:assert";
import { hex } from "./quic_header.ts";
import { clientInitialDatagram } from "../../tests/support/quic_datagrams.ts";
import { Client, Upstream } from "../../tests/support/relay_peers.ts";
import { nextLoopbackAddress } from "./loopback.ts";
import { type RelaySession, UdpRelay } from "./udp_relay.ts";

const encoder = new TextEncoder();

function relayTo(
  upstream: Upstream,
  options: { maxSessions?: number; idleTimeoutMs?: number } = {},
) {
  return new UdpRelay({ targetHostname: "127.0.0.1", targetPort: upstream.port, ...options });
}

function host(addr: string): string {
  return addr.slice(0, addr.lastIndexOf(":"));
}

Deno.test("udp relay: forwards both ways and counts datagrams", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream);
  const client = new Client(relay.port);
  try {
    await client.open();
    assert.equal(await client.roundTrip("one"), "one");
    assert.equal(await client.roundTrip("two"), "two");
    const session = relay.getSession(client.key);
    assert.ok(session);
    assert.equal(session.datagramsFromClient, 3);
    assert.equal(session.datagramsFromServer, 3);
    assert.deepEqual(upstream.sources, Array(3).fill(session.upstreamAddr));
    assert.notEqual(session.upstreamAddr, client.key, "the server sees the relay, not the client");
    assert.equal(relay.sessions().length, 1);
    assert.equal(relay.stats().datagramsFromClients, 3);
  } finally {
    client.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: a port rebinding keeps the address and changes the port", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream);
  const client = new Client(relay.port);
  try {
    await client.open();
    const result = relay.rebind(client.key, "port");
    assert.equal(result.oldAddr, upstream.sources[0]);
    assert.equal(host(result.newAddr), "127.0.0.1");
    assert.notEqual(result.newAddr, result.oldAddr);
    assert.equal(await client.roundTrip("after"), "after");
    assert.equal(upstream.sources[1], result.newAddr);
    const [record] = relay.getSession(client.key)!.rebindings;
    assert.equal(record.kind, "port");
    assert.ok(record.clientForwardedAt !== null && record.clientForwardedAt >= result.at);
    assert.ok(
      record.serverAnsweredAt !== null && record.serverAnsweredAt >= record.clientForwardedAt,
    );
  } finally {
    client.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: address rebindings walk 127.0.0.2, 127.0.0.3", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream);
  const client = new Client(relay.port);
  try {
    await client.open();
    const first = relay.rebind(client.key, "address");
    assert.equal(host(first.newAddr), "127.0.0.2");
    await client.roundTrip("via .2");
    const second = relay.rebind(client.key, "address");
    assert.equal(second.oldAddr, first.newAddr);
    assert.equal(relay.sessionByUpstream(first.newAddr), undefined, "the old mapping is gone");
    assert.equal(relay.sessionByUpstream(second.newAddr)?.key, client.key);
    assert.equal(host(second.newAddr), "127.0.0.3");
    await client.roundTrip("via .3");
    assert.deepEqual(upstream.sources.map(host), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert.deepEqual(upstream.sources.slice(1), [first.newAddr, second.newAddr]);
    const all = relay.rebind("all", "port");
    assert.equal(all.length, 1);
    assert.equal(host(all[0].newAddr), "127.0.0.3");
  } finally {
    client.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: the next loopback address cycles and skips the current one", () => {
  assert.equal(nextLoopbackAddress("127.0.0.1"), "127.0.0.2");
  assert.equal(nextLoopbackAddress("127.0.0.2"), "127.0.0.3");
  assert.equal(nextLoopbackAddress("127.0.0.253"), "127.0.0.254");
  assert.equal(nextLoopbackAddress("127.0.0.254"), "127.0.0.2");
  assert.throws(() => nextLoopbackAddress("::1"));
  assert.throws(() => nextLoopbackAddress("10.0.0.1"));
});

Deno.test("udp relay: datagrams the server sends to the old mapping never reach the client", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream);
  const client = new Client(relay.port);
  try {
    await client.open();
    const { oldAddr, newAddr } = relay.rebind(client.key, "address");
    const to = (addr: string): Deno.NetAddr => ({
      transport: "udp",
      hostname: host(addr),
      port: Number(addr.slice(addr.lastIndexOf(":") + 1)),
    });
    // The old mapping first: if it were still open, its datagram would arrive first.
    await upstream.socket.send(encoder.encode("to old"), to(oldAddr));
    await upstream.socket.send(encoder.encode("to new"), to(newAddr));
    assert.equal(await client.receiveText(), "to new");
  } finally {
    client.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: unknown sessions cannot be rebound, and targets must be addresses", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream);
  try {
    assert.throws(() => relay.rebind("127.0.0.1:1", "port"), /no relay session/);
    assert.throws(() => new UdpRelay({ targetHostname: "localhost", targetPort: 1 }), TypeError);
    assert.deepEqual(relay.rebind("all", "address"), []);
  } finally {
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: client addresses beyond maxSessions are dropped and counted", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream, { maxSessions: 1 });
  const first = new Client(relay.port);
  const second = new Client(relay.port);
  try {
    await first.open();
    await second.send(clientInitialDatagram());
    // Datagrams to the relay are handled in arrival order: once this echo is back, the relay
    // has already dealt with (and dropped) the second client's datagram.
    await first.roundTrip("first again");
    assert.equal(relay.stats().droppedOverSessionCap, 1);
    assert.equal(relay.sessions().length, 1);
    assert.equal(relay.getSession(second.key), undefined);
    assert.equal(upstream.sources.length, 2);
  } finally {
    first.close();
    second.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: an idle session is closed, and a new Initial opens a new one", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream, { idleTimeoutMs: 50 });
  const client = new Client(relay.port);
  try {
    const closed = new Promise<RelaySession>((resolve) => {
      relay.onSession((event) => event.type === "closed" && resolve(event.session));
    });
    await client.open();
    const opened = relay.getSession(client.key)!;
    const session = await closed;
    assert.equal(session, opened);
    assert.equal(session.closeReason, "idle");
    assert.ok(performance.now() - session.lastActivityAt >= 49, "closed only after 50 ms idle");
    assert.equal(relay.sessions().length, 0);
    assert.equal(relay.sessionByUpstream(opened.upstreamAddr), undefined, "unindexed when closed");
    await client.open();
    assert.equal(await client.roundTrip("again"), "again");
    assert.notEqual(relay.getSession(client.key), opened);
    assert.equal(relay.stats().sessionsOpened, 2);
  } finally {
    client.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: records client → server connection IDs in order of first sight", async () => {
  const serverCid = [1, 2, 3, 4, 5, 6, 7, 8];
  // The "server" answers everything with a v1 Handshake whose SCID is serverCid.
  const handshake = new Uint8Array([0xe0, 0, 0, 0, 1, 4, 9, 9, 9, 9, 8, ...serverCid, 0, 0]);
  const upstream = new Upstream(() => handshake);
  const relay = relayTo(upstream);
  const client = new Client(relay.port);
  try {
    const clientCid = [0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11];
    const initial = clientInitialDatagram({ dcid: clientCid });
    await client.send(initial); // before the server spoke: the long header is readable anyway
    await client.socket.receive();
    await client.send(new Uint8Array([0x40, ...serverCid, 0x77]));
    await client.socket.receive();
    await client.send(initial);
    await client.socket.receive();
    assert.deepEqual(relay.getSession(client.key)!.dcidsSeen, [
      hex(new Uint8Array(clientCid)),
      hex(new Uint8Array(serverCid)),
    ]);
  } finally {
    client.close();
    await relay.close();
    await upstream.close();
  }
});

Deno.test("udp relay: close() ends every loop and may be called twice", async () => {
  const upstream = new Upstream();
  const relay = relayTo(upstream);
  const clients = [new Client(relay.port), new Client(relay.port)];
  const events: string[] = [];
  relay.onSession((event) => events.push(event.type));
  try {
    for (const client of clients) await client.open();
    relay.rebind("all", "address");
  } finally {
    await Promise.all([relay.close(), relay.close()]);
    for (const client of clients) client.close();
    await upstream.close();
  }
  assert.deepEqual(events, ["opened", "opened", "rebound", "rebound", "closed", "closed"]);
  assert.equal(relay.sessions().length, 0);
  assert.equal(relay.stats().sessionsClosed, 2);
});
