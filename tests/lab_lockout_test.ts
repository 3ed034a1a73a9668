/**
 * The lab lockout attack, replayed on loopback: junk datagrams from more source ports than the
 * lab relay has sessions. Short junk must open no session at all; full-size junk Initials (which
 * the server cannot decrypt, so never answers) may open sessions, but never more than the caps,
 * and a real HTTP/3 client must still connect through the lab and be served during the flood and
 * right after it. The junk sessions then expire on their own, long before the idle timeout.
 * Bounded in count and time.
 */

import { strict as assert } from "node:assert";
import type { H3Client } from "../lib/h3/client.ts";
import { DEFAULT_UNANSWERED_TIMEOUT_MS, type UdpRelay } from "../lib/lab/udp_relay.ts";
import { startServer } from "../lib/start_server.ts";
import { clientInitialDatagram } from "./support/quic_datagrams.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

const MAX_SESSIONS = 100;
const MAX_PER_ADDRESS = 40;
/**
 * Junk sources, round robin: half from 127.0.0.1, where the real clients are too, so that IP
 * reaches its cap; the rest from three more loopback IPs, so the whole table fills.
 */
const JUNK_HOSTS = [
  "127.0.0.1",
  "127.0.0.10",
  "127.0.0.1",
  "127.0.0.11",
  "127.0.0.1",
  "127.0.0.12",
];
/** Most junk sockets one flood may use, so the test ends even if the clients never get in. */
const MAX_JUNK_SOURCES = 20_000;

/** Requests `/api/test` on `client` and checks it is served over HTTP/3. */
async function served(client: H3Client): Promise<void> {
  const res = await client.fetch("/api/test");
  assert.equal(res.status, 200);
  assert.equal((await res.json()).protocol, "h3");
}

/** Watches the relay's table: the most sessions it ever held, in all and per client IP. */
function watchPeaks(relay: UdpRelay) {
  const peaks = { sessions: 0, perAddress: 0 };
  const stop = relay.onSession((event) => {
    if (event.type !== "opened") return;
    const sessions = relay.sessions();
    peaks.sessions = Math.max(peaks.sessions, sessions.length);
    const perIp = new Map<string, number>();
    for (const s of sessions) {
      const ip = s.key.slice(0, s.key.lastIndexOf(":"));
      perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
    }
    peaks.perAddress = Math.max(peaks.perAddress, ...perIp.values());
  });
  return { peaks, stop };
}

/**
 * Sends one full-size junk Initial from each of a stream of fresh source ports, round robin over
 * {@link JUNK_HOSTS}, until `keepGoing()` is false or `limit` were sent; `count.sent` says how
 * many so far.
 */
async function floodInitials(
  labPort: number,
  limit: number,
  count: { sent: number },
  keepGoing: () => boolean = () => true,
): Promise<void> {
  for (let i = 0; i < limit && keepGoing(); i++) {
    const hostname = JUNK_HOSTS[count.sent % JUNK_HOSTS.length];
    const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    try {
      await socket.send(clientInitialDatagram({ seed: count.sent }), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: labPort,
      });
    } finally {
      socket.close();
    }
    count.sent++;
  }
}

/** Resolves once every session left in the relay is one the server answered; false on timeout. */
function junkGone(relay: UdpRelay, timeoutMs: number): Promise<boolean> {
  const clean = () => relay.sessions().every((s) => s.datagramsFromServer > 0);
  if (clean()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (value: boolean) => {
      clearTimeout(timer);
      stop();
      resolve(value);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const stop = relay.onSession((event) => event.type === "closed" && clean() && finish(true));
  });
}

async function withLockoutServer(fn: (server: TestServer, relay: UdpRelay) => Promise<void>) {
  const server = await startTestServer([], {
    limits: { labMaxSessions: MAX_SESSIONS, labMaxSessionsPerAddress: MAX_PER_ADDRESS },
  });
  try {
    await fn(server, server.labRelay!);
  } finally {
    await server.stop();
  }
}

Deno.test("lab lockout: short junk from 1,100 ports opens no session; a client gets in at once", () =>
  withLockoutServer(async (server, relay) => {
    const ports = 1100;
    assert.ok(ports > MAX_SESSIONS);
    const sockets: Deno.DatagramConn[] = [];
    let client: H3Client | undefined;
    try {
      // All open at once, so no two share a port; each sends one datagram a relay used to take
      // as a new client: an Initial-looking header, cut short of 1200 bytes.
      for (let i = 0; i < ports; i++) {
        const hostname = JUNK_HOSTS[i % JUNK_HOSTS.length];
        const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
        sockets.push(socket);
        await socket.send(clientInitialDatagram({ seed: i, size: 1 + (i * 37) % 1199 }), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: server.labPort!,
        });
      }
      // The relay reads its socket in order: the client's Initial comes after all the junk.
      client = await server.labClient();
      await served(client);
      const stats = relay.stats();
      assert.equal(stats.droppedNotInitial, ports);
      assert.equal(stats.sessionsOpened, 1, "only the real client has a session (and a socket)");
      assert.equal(relay.sessions().length, 1);
    } finally {
      client?.close();
      for (const socket of sockets) socket.close();
    }
  }));

Deno.test("lab lockout: a flood of junk Initials stays within the caps, and real clients are served during and after it", () =>
  withLockoutServer(async (server, relay) => {
    const labPort = server.labPort!;
    const { peaks, stop: stopWatching } = watchPeaks(relay);
    const pushedOut: { key: string; answered: boolean; reason: string | null }[] = [];
    const stopNoting = relay.onSession((event) => {
      if (event.type !== "closed") return;
      const { key, datagramsFromServer, closeReason } = event.session;
      pushedOut.push({ key, answered: datagramsFromServer > 0, reason: closeReason });
    });
    const junk = { sent: 0 };
    let flooding = true;
    let flood: Promise<void> | undefined;
    const clients: H3Client[] = [];
    try {
      // The table full of junk first, from three times as many ports as it has sessions.
      await floodInitials(labPort, 3 * MAX_SESSIONS, junk);
      // Then the flood goes on while real clients connect and make requests.
      flood = floodInitials(labPort, MAX_JUNK_SOURCES, junk, () => flooding);
      for (let i = 0; i < 2; i++) {
        const sentBefore = junk.sent;
        const client = await server.labClient();
        clients.push(client);
        for (let r = 0; r < 3; r++) await served(client);
        assert.ok(junk.sent > sentBefore, "the flood went on while the client connected");
      }
      flooding = false;
      await flood;
      assert.ok(junk.sent < MAX_JUNK_SOURCES, "the clients got in before the flood's bound");
      // Right after the flood: a new client gets in, the earlier ones still work.
      const after = await server.labClient();
      clients.push(after);
      await served(after);
      for (const client of clients) await served(client);

      assert.equal(peaks.sessions, MAX_SESSIONS, "the junk did fill the table");
      assert.equal(peaks.perAddress, MAX_PER_ADDRESS, "127.0.0.1 reached its cap, never more");
      const stats = relay.stats();
      console.log(`junk Initials from ${junk.sent} ports; relay: ${JSON.stringify(stats)}`);
      assert.ok(stats.sessionsEvicted > 0);
      assert.equal(stats.droppedOverSessionCap + stats.droppedOverAddressCap, 0, "nobody refused");
      assert.equal(stats.sessionsOpened - stats.sessionsClosed, relay.sessions().length);
      assert.ok(relay.sessions().length <= MAX_SESSIONS);
      assert.deepEqual(pushedOut.filter((s) => s.answered), [], "no served session gave way");
      const answered = relay.sessions().filter((s) => s.datagramsFromServer > 0);
      assert.equal(answered.length, clients.length, "each client kept its one session");

      // The junk sessions (and their sockets) go by themselves, well before the idle timeout.
      const stoppedAt = performance.now();
      assert.ok(await junkGone(relay, DEFAULT_UNANSWERED_TIMEOUT_MS + 2000), "junk outlived");
      assert.ok(performance.now() - stoppedAt < DEFAULT_UNANSWERED_TIMEOUT_MS + 2000);
      assert.equal(relay.sessions().length, clients.length);
      assert.ok(pushedOut.every((s) => s.reason === "evicted" || s.reason === "unanswered"));
      for (const client of clients) await served(client);
    } finally {
      flooding = false;
      await flood;
      stopWatching();
      stopNoting();
      for (const client of clients) client.close();
    }
  }));

Deno.test("lab lockout: the lab listens on loopback even when the server listens everywhere", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "quic-test-" });
  const server = await startServer({ hostname: "::", port: 0, labPort: 0, dataDir, log: () => {} });
  try {
    const hosts = server.labRelay!.addrs.map((addr) => addr.hostname);
    assert.equal(hosts[0], "127.0.0.1");
    assert.ok(hosts.every((h) => h === "127.0.0.1" || h === "::1"), `lab on ${hosts}`);
    // HTTPS on the lab port answers on each loopback it listens on, advertising HTTP/3 there.
    const caPem = (server.certificates as { caPem?: string }).caPem!;
    const http = Deno.createHttpClient({ caCerts: [caPem] });
    try {
      for (const host of hosts) {
        const url = `https://${host.includes(":") ? `[${host}]` : host}:${server.labPort}/healthz`;
        const res = await fetch(url, { client: http });
        await res.body?.cancel();
        assert.equal(res.status, 200, url);
        assert.equal(res.headers.get("alt-svc"), `h3=":${server.labPort}"; ma=86400`);
      }
    } finally {
      http.close();
    }
  } finally {
    await server.shutdown(1000);
    await Deno.remove(dataDir, { recursive: true });
  }
});
