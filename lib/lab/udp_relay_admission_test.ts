/**
 * Who may open a session in the lab relay, and who gives way when it is full: only full-size
 * Initials open one, one IP holds at most `maxSessionsPerAddress`, unanswered sessions expire
 * and are pushed out first, sessions in use are never pushed out.
 */

import { strict as assert } from "node:assert";
import { clientInitialDatagram } from "../../tests/support/quic_datagrams.ts";
import { Client, Upstream } from "../../tests/support/relay_peers.ts";
import { type RelaySession, UdpRelay, type UdpRelayOptions } from "./udp_relay.ts";

type Limits = Omit<UdpRelayOptions, "targetHostname" | "targetPort">;

/** A relay in front of `upstream`, closed with everything else at the end of `fn`. */
async function withRelay(
  upstream: Upstream,
  limits: Limits,
  fn: (relay: UdpRelay, clients: Client[]) => Promise<void>,
): Promise<void> {
  const relay = new UdpRelay({ targetHostname: "127.0.0.1", targetPort: upstream.port, ...limits });
  const clients: Client[] = [];
  try {
    await fn(relay, clients);
  } finally {
    for (const client of clients) client.close();
    await relay.close();
    await upstream.close();
  }
}

/** The first DCID byte that makes {@link silentToMarked} stay silent. */
const SILENCE = 0x99;

/** An Initial the upstream below never answers, as a server never answers junk. */
function markedInitial(seed = 1): Uint8Array {
  return clientInitialDatagram({ dcid: [SILENCE, seed, 0, 0, 0, 0, 0, 0] });
}

/** An upstream that echoes everything but Initials from {@link markedInitial}. */
function silentToMarked(): Upstream {
  return new Upstream((datagram) =>
    datagram.length >= 7 && datagram[6] === SILENCE ? null : datagram
  );
}

/** Resolves when the relay opens a session for `key`. */
function openedFor(relay: UdpRelay, key: string): Promise<RelaySession> {
  return new Promise((resolve) => {
    const stop = relay.onSession((event) => {
      if (event.type === "opened" && event.session.key === key) {
        stop();
        resolve(event.session);
      }
    });
  });
}

/** Resolves with the next session the relay closes. */
function nextClosed(relay: UdpRelay): Promise<RelaySession> {
  return new Promise((resolve) => {
    const stop = relay.onSession((event) => {
      if (event.type === "closed") {
        stop();
        resolve(event.session);
      }
    });
  });
}

Deno.test("relay admission: only a full-size Initial opens a session; the rest is dropped", () =>
  withRelay(new Upstream(), {}, async (relay, clients) => {
    const stranger = new Client(relay.port);
    const witness = new Client(relay.port);
    clients.push(stranger, witness);
    const refused = [
      "hello",
      clientInitialDatagram({ size: 1199 }),
      clientInitialDatagram({ typeBits: 2 }), // a Handshake packet
      clientInitialDatagram({ version: 0xff00001d }), // a draft version
      clientInitialDatagram({ dcid: [1, 2, 3, 4] }),
    ];
    for (const datagram of refused) await stranger.send(datagram);
    // The relay reads its socket in order: once the witness is answered, the rest was handled.
    await witness.open();
    assert.equal(relay.stats().droppedNotInitial, refused.length);
    assert.equal(relay.getSession(stranger.key), undefined);
    assert.equal(relay.sessions().length, 1, "no socket for anything but the witness");
    await stranger.open();
    assert.ok(relay.getSession(stranger.key), "a full-size Initial from the same port opens one");
    assert.equal(await stranger.roundTrip("then anything flows"), "then anything flows");
  }));

Deno.test("relay admission: one IP's sessions are capped; its unanswered ones give way first", () =>
  withRelay(new Upstream(() => null), { maxSessionsPerAddress: 2 }, async (relay, clients) => {
    const [a, b, c] = [0, 1, 2].map(() => new Client(relay.port));
    const other = new Client(relay.port, "127.0.0.2");
    clients.push(a, b, c, other);
    const closed = nextClosed(relay);
    await a.sendInitial();
    await b.sendInitial();
    await c.sendInitial(); // a third from 127.0.0.1: the oldest unanswered one (a) gives way
    const evicted = await closed;
    assert.equal(evicted.key, a.key);
    assert.equal(evicted.closeReason, "evicted");
    const otherOpened = openedFor(relay, other.key);
    await other.sendInitial(); // another IP has its own share
    await otherOpened;
    const aOpened = openedFor(relay, a.key);
    await a.sendInitial(4);
    await aOpened; // a again: b gives way, since the server answered none of them
    const keys = relay.sessions().map((s) => s.key).sort();
    assert.deepEqual(keys, [a.key, c.key, other.key].sort());
    assert.equal(relay.stats().sessionsEvicted, 2);
    assert.equal(relay.stats().droppedOverAddressCap, 0);
  }));

Deno.test("relay admission: answered sessions in use are never pushed out; the newcomer is dropped", () =>
  withRelay(new Upstream(), { maxSessionsPerAddress: 2 }, async (relay, clients) => {
    const [a, b, c] = [0, 1, 2].map(() => new Client(relay.port));
    clients.push(a, b, c);
    await a.open();
    await b.open();
    await c.sendInitial();
    // In order: once a's echo is back, the relay has dealt with c's Initial.
    assert.equal(await a.roundTrip("still here"), "still here");
    assert.equal(relay.stats().droppedOverAddressCap, 1);
    assert.equal(relay.stats().sessionsEvicted, 0);
    assert.equal(relay.getSession(c.key), undefined);
    assert.deepEqual(relay.sessions().map((s) => s.key).sort(), [a.key, b.key].sort());
  }));

Deno.test("relay admission: a full table makes room from unanswered, then quiet sessions", () =>
  withRelay(
    silentToMarked(),
    { maxSessions: 3, maxSessionsPerAddress: 100, evictableIdleMs: 0 },
    async (relay, clients) => {
      // evictableIdleMs 0: every answered session counts as quiet, so only the order is tested.
      const [served, silent1, silent2, newcomer1, newcomer2] = [0, 1, 2, 3, 4].map(
        (i) => new Client(relay.port, `127.0.0.${i + 1}`),
      );
      clients.push(served, silent1, silent2, newcomer1, newcomer2);
      await served.open();
      const silentOpened = openedFor(relay, silent2.key);
      await silent1.send(markedInitial());
      await silent2.send(markedInitial());
      await silentOpened;
      const order: string[] = [];
      relay.onSession((e) => e.type === "closed" && order.push(e.session.key));
      await newcomer1.open(); // table full: silent1, the oldest unanswered, goes
      await newcomer2.open(); // silent2 goes
      const third = new Client(relay.port, "127.0.0.9");
      clients.push(third);
      await third.open(); // no unanswered left: the quietest answered one (served) goes
      assert.deepEqual(order, [silent1.key, silent2.key, served.key]);
      assert.equal(relay.sessions().length, 3);
      assert.equal(relay.stats().sessionsEvicted, 3);
    },
  ));

Deno.test("relay admission: a session the server never answers expires; an answered one stays", () =>
  withRelay(
    silentToMarked(),
    { unansweredTimeoutMs: 50 },
    async (relay, clients) => {
      const answered = new Client(relay.port);
      const ignored = new Client(relay.port);
      clients.push(answered, ignored);
      await answered.open();
      const closed = nextClosed(relay);
      const opened = performance.now();
      await ignored.send(markedInitial());
      const session = await closed;
      assert.equal(session.key, ignored.key);
      assert.equal(session.closeReason, "unanswered");
      assert.ok(performance.now() - opened >= 49, "not before its time");
      assert.equal(relay.stats().sessionsUnanswered, 1);
      assert.ok(relay.getSession(answered.key), "the answered session outlives the timeout");
      assert.equal(await answered.roundTrip("alive"), "alive");
    },
  ));
