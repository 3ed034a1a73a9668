/**
 * NAT rebinding over real QUIC: our HTTP/3 client talks to our server through the `UdpRelay`,
 * which moves the connection to a new upstream port or address while requests keep flowing.
 * The client never changes its socket; the server must see the new address, keep the
 * connection, and serve every request.
 */

import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./support/server.ts";
import { H3Client } from "../lib/h3/client.ts";
import { type RebindKind, type RelaySession, UdpRelay } from "../lib/lab/udp_relay.ts";
import { downloadByte } from "../lib/download.ts";

const REBINDINGS = 50;
/** Requests allowed after a rebinding before the server must report the new address. */
const MAX_REQUESTS_TO_FOLLOW = 50;

interface TestRouteBody {
  remote_addr: string;
  connection_id: string;
}

/** A server, a relay in front of it, and a client connected through the relay. */
interface Rig {
  server: TestServer;
  relay: UdpRelay;
  client: H3Client;
  session: RelaySession;
  close(): Promise<void>;
}

async function startRig(keepAliveInterval?: number): Promise<Rig> {
  const server = await startTestServer();
  const relay = new UdpRelay({ targetHostname: "127.0.0.1", targetPort: server.port });
  const client = await H3Client.connect({
    hostname: "127.0.0.1",
    port: relay.port,
    serverName: "localhost",
    caCerts: [server.caPem],
    keepAliveInterval,
  });
  const sessions = relay.sessions();
  assert.equal(sessions.length, 1, "the client's one socket is one relay session");
  return {
    server,
    relay,
    client,
    session: sessions[0],
    async close() {
      client.close();
      await relay.close();
      await server.stop();
    },
  };
}

async function getTestRoute(client: H3Client): Promise<TestRouteBody> {
  const res = await client.fetch("/api/test");
  assert.equal(res.status, 200);
  return await res.json() as TestRouteBody;
}

function host(addr: string): string {
  return addr.slice(0, addr.lastIndexOf(":"));
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `min ${sorted[0].toFixed(2)} median ${median.toFixed(2)} max ${
    sorted.at(-1)!.toFixed(2)
  } ms`;
}

Deno.test("NAT rebinding: 50 rebindings under load keep one connection, the server follows each", async () => {
  const rig = await startRig();
  const { client, relay, session } = rig;
  let stopBackground = false;
  let background: Promise<number> | undefined;
  try {
    const first = await getTestRoute(client);
    const connectionId = first.connection_id;
    assert.equal(first.remote_addr, session.upstreamAddr);

    // A second flow of requests that is in flight across every rebinding.
    background = (async () => {
      let served = 0;
      while (!stopBackground) {
        assert.equal((await getTestRoute(client)).connection_id, connectionId);
        served++;
      }
      return served;
    })();

    const moves: Array<{ oldAddr: string; newAddr: string }> = [];
    const followLatencies: number[] = [];
    const answerLatencies: number[] = [];
    for (let i = 0; i < REBINDINGS; i++) {
      const kind: RebindKind = i % 2 === 0 ? "port" : "address";
      const { oldAddr, newAddr, at } = relay.rebind(session.key, kind);
      moves.push({ oldAddr, newAddr });
      const expectedHost = kind === "port" ? host(oldAddr) : `127.0.0.${2 + (i - 1) / 2}`;
      assert.equal(host(newAddr), expectedHost);
      assert.notEqual(newAddr, oldAddr);

      // Each request is an event: the server must report the new address within the bound.
      let followedAt: number | undefined;
      for (let n = 0; n < MAX_REQUESTS_TO_FOLLOW && followedAt === undefined; n++) {
        const body = await getTestRoute(client);
        assert.equal(body.connection_id, connectionId);
        if (body.remote_addr === newAddr) followedAt = performance.now();
        else assert.equal(body.remote_addr, oldAddr, "the server sees either path, never a third");
      }
      assert.ok(followedAt !== undefined, `rebinding ${i} (${kind}): server still at ${oldAddr}`);
      followLatencies.push(followedAt - at);
      // Once on the new path, the server stays there.
      assert.equal((await getTestRoute(client)).remote_addr, newAddr);
      const record = session.rebindings.at(-1)!;
      assert.ok(record.clientForwardedAt !== null && record.serverAnsweredAt !== null);
      answerLatencies.push(record.serverAnsweredAt - at);
    }
    stopBackground = true;
    const served = await background;
    assert.ok(served > 0, "the background flow kept running");
    assert.equal(session.rebindings.length, REBINDINGS);
    assert.equal(relay.stats().sessionsOpened, 1, "the client never appeared as a new session");

    // The tracker recorded exactly one migration per rebinding, with the right addresses.
    const tracked = rig.server.tracker.get(connectionId)!.toJSON();
    assert.equal(tracked.migration_count, REBINDINGS);
    assert.equal(tracked.migration_events.length, REBINDINGS);
    for (const [i, event] of tracked.migration_events.entries()) {
      assert.equal(event.old_addr, moves[i].oldAddr, `migration ${i} old address`);
      assert.equal(event.new_addr, moves[i].newAddr, `migration ${i} new address`);
      assert.equal(event.kind, i % 2 === 0 ? "port_change" : "address_change");
      assert.equal(event.validated, true);
      assert.equal(event.outcome, "validated");
    }
    assert.equal(rig.server.tracker.summary().total_migrations, REBINDINGS);
    console.log(
      `rebind → server reports new address: ${summary(followLatencies)}; ` +
        `rebind → first server datagram on new mapping: ${summary(answerLatencies)}; ` +
        `${served} background requests`,
    );
  } finally {
    stopBackground = true;
    await background?.catch(() => {});
    await rig.close();
  }
});

Deno.test("NAT rebinding: a 16 MiB download survives 10 rebindings mid-transfer", async () => {
  // Keep-alives: a downloading client whose every packet was acknowledged before a rebinding
  // has nothing to send after it, and would wait silently for data lost on the old mapping.
  const rig = await startRig(50);
  const { client, relay, session } = rig;
  try {
    const size = 16 * 1024 * 1024;
    const res = await client.fetch(`/api/download?bytes=${size}`);
    assert.equal(res.status, 200);
    let received = 0;
    let mismatch = -1;
    let rebindings = 0;
    for await (const chunk of res.body!) {
      for (let i = 0; i < chunk.length && mismatch === -1; i++) {
        if (chunk[i] !== downloadByte(received + i)) mismatch = received + i;
      }
      received += chunk.length;
      // Rebind at every 1.5 MiB received: the server has data in flight to the old mapping.
      if (rebindings < 10 && received >= (rebindings + 1) * 1.5 * 1024 * 1024) {
        relay.rebind(session.key, rebindings % 2 === 0 ? "address" : "port");
        rebindings++;
      }
    }
    assert.equal(received, size);
    assert.equal(mismatch, -1, `content differs at byte ${mismatch}`);
    assert.equal(rebindings, 10);
    const body = await getTestRoute(client);
    assert.equal(body.remote_addr, session.upstreamAddr);
    for (const record of session.rebindings) {
      assert.ok(record.serverAnsweredAt !== null, `no answer on ${record.newAddr}`);
    }
  } finally {
    await rig.close();
  }
});

Deno.test("NAT rebinding: the watcher catches a migration on an idle connection", async () => {
  // No requests after the rebinding: only QUIC keep-alive packets carry the connection to its
  // new path, so only the watcher can notice.
  const rig = await startRig(100);
  const { server, relay, client, session } = rig;
  try {
    const before = await getTestRoute(client);
    const detected = new Promise<{ detected_by: string; new_addr: string; old_addr: string }>(
      (resolve) => {
        const stop = server.tracker.subscribe((event) => {
          if (event.type === "migration") {
            stop();
            resolve(event.migration);
          }
        });
      },
    );
    const requestsBefore = server.tracker.get(before.connection_id)!.requestCount;
    const move = relay.rebind(session.key, "address");
    const migration = await detected;
    assert.equal(migration.detected_by, "watcher");
    assert.equal(migration.old_addr, move.oldAddr);
    assert.equal(migration.new_addr, move.newAddr);
    assert.equal(server.tracker.get(before.connection_id)!.requestCount, requestsBefore);
  } finally {
    await rig.close();
  }
});
