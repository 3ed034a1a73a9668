/**
 * What the tracker records for a migration still inside its validation window when the
 * connection ends, over real QUIC through the NAT-like `UdpRelay`: a client that closes
 * normally right after a rebinding was not lost (validated when the new path carried its upload
 * on, `closed_before_validation` when nothing followed the move), while a connection that dies
 * right after a rebinding (an idle timeout once the relay is gone) is `connection_lost`.
 */

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { startTestServer, type TestServer, type TestServerOptions } from "./support/server.ts";
import { H3Client } from "../lib/h3/client.ts";
import { type RelaySession, UdpRelay } from "../lib/lab/udp_relay.ts";
import type { MigrationEvent, TrackerEvent } from "../lib/tracker/types.ts";

/** A server, a relay in front of it, and one client connected through the relay. */
interface Rig {
  server: TestServer;
  relay: UdpRelay;
  client: H3Client;
  session: RelaySession;
  /** The tracker's events since the client connected, in order. */
  events: TrackerEvent[];
  /** The client's connection id on the server. */
  id: string;
  close(): Promise<void>;
}

async function startRig(options: TestServerOptions): Promise<Rig> {
  const server = await startTestServer([], options);
  const relay = new UdpRelay({ targetHostname: "127.0.0.1", targetPort: server.port });
  const events: TrackerEvent[] = [];
  const unsubscribe = server.tracker.subscribe((event) => events.push(event));
  // Keep-alives make the client send on its own, so a rebinding shows even while it is quiet.
  const client = await H3Client.connect({
    hostname: "127.0.0.1",
    port: relay.port,
    serverName: "localhost",
    caCerts: [server.caPem],
    keepAliveInterval: 50,
  });
  const sessions = relay.sessions();
  assert.equal(sessions.length, 1, "the client's one socket is one relay session");
  const res = await client.fetch("/api/test");
  const { connection_id: id } = await res.json() as { connection_id: string };
  return {
    server,
    relay,
    client,
    session: sessions[0],
    events,
    id,
    async close() {
      unsubscribe();
      client.close();
      await relay.close();
      await server.stop();
    },
  };
}

/** Resolves with the first tracker event (from now on) that `match` accepts, or fails. */
function nextEvent<T extends TrackerEvent>(
  server: TestServer,
  match: (event: TrackerEvent) => event is T,
  what: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = server.tracker.subscribe((event) => {
      if (!match(event)) return;
      clearTimeout(timer);
      stop();
      resolve(event);
    });
  });
}

type MigrationDetected = Extract<TrackerEvent, { type: "migration" }>;
type ConnectionClosed = Extract<TrackerEvent, { type: "connection_closed" }>;

function detectionOf(server: TestServer, id: string, newAddr: string): Promise<MigrationDetected> {
  return nextEvent(
    server,
    (e): e is MigrationDetected =>
      e.type === "migration" && e.connection_id === id && e.migration.new_addr === newAddr,
    `detection of the move to ${newAddr}`,
    5000,
  );
}

function closeOf(server: TestServer, id: string, timeoutMs: number): Promise<ConnectionClosed> {
  return nextEvent(
    server,
    (e): e is ConnectionClosed =>
      e.type === "connection_closed" && e.connection.connection_id === id,
    "connection close",
    timeoutMs,
  );
}

/**
 * Checks that the last migration was still pending when the connection ended: its outcome was
 * the last event about the connection before its close, so the close decided it.
 */
function assertSettledByClose(events: TrackerEvent[], id: string): MigrationEvent {
  const mine = events.filter((e) =>
    e.type === "connection_closed" ? e.connection.connection_id === id : "connection_id" in e &&
      e.connection_id === id
  );
  const [settled, closed] = mine.slice(-2);
  assert.equal(closed?.type, "connection_closed");
  assert.equal(settled?.type, "migration_outcome", "the close settled the last migration");
  const last = closed.type === "connection_closed"
    ? closed.connection.migration_events.at(-1)!
    : undefined;
  assert.ok(last);
  assert.equal(settled.type === "migration_outcome" && settled.migration.new_addr, last.new_addr);
  return last;
}

const CHUNK = 64 * 1024;
const UPLOAD = 48 * 1024 * 1024;
/** The upload's pace: slow enough that rebinding every 250 ms moves it several times. */
const BYTES_PER_MS = 24 * 1024;
const REBIND_EVERY_MS = 250;
/** The upload's last bytes, sent after the last rebinding was detected (on the new path). */
const AFTER_LAST_DETECTION = 2 * 1024 * 1024;

Deno.test("migration outcome: an upload that closes normally right after its last rebinding is not lost", async () => {
  // The window is longer than the default so a busy machine cannot let it run out first: this
  // test is about what the close decides.
  const rig = await startRig({ tracker: { validationWindowMs: 5000 } });
  const { server, relay, session, client, id } = rig;
  try {
    const sent = createHash("sha256");
    const start = performance.now();
    let offset = 0;
    let lastRebindAt = start;
    let rebindings = 0;
    let lastNewAddr = "";
    let finalPart = false;
    let seen: Promise<unknown> = Promise.resolve();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (offset >= UPLOAD) return controller.close();
        const now = performance.now();
        const last = !finalPart && UPLOAD - offset <= AFTER_LAST_DETECTION;
        if (last || (!finalPart && now - lastRebindAt >= REBIND_EVERY_MS)) {
          // The server can only report an address it saw: a mapping replaced before any of
          // its datagrams was read (a loaded machine can stall the server that long) would
          // show as one move from the one before to the one after. So each rebinding waits
          // until the previous one was detected, and the count below is exact.
          await seen;
          lastNewAddr = relay.rebind(session.key, rebindings % 2 ? "port" : "address").newAddr;
          lastRebindAt = performance.now();
          rebindings++;
          seen = detectionOf(server, id, lastNewAddr);
          if (last) {
            // The last rebinding: the rest of the upload goes only once the server has seen it.
            finalPart = true;
            await seen;
          }
        }
        // Paced: the body runs ahead of its schedule by at most one chunk.
        const due = start + offset / BYTES_PER_MS;
        if (!finalPart && due > now) await new Promise((r) => setTimeout(r, due - now));
        const chunk = new Uint8Array(Math.min(CHUNK, UPLOAD - offset));
        for (let i = 0; i < chunk.length; i += 4096) chunk[i] = (offset + i) >>> 12;
        sent.update(chunk);
        offset += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await client.fetch("/api/echo", { method: "POST", body });
    assert.equal(res.status, 200);
    const echoed = createHash("sha256");
    let received = 0;
    for await (const chunk of res.body!) {
      echoed.update(chunk);
      received += chunk.length;
    }
    const uploadEnded = performance.now();
    assert.equal(received, UPLOAD);
    assert.equal(echoed.digest("hex"), sent.digest("hex"), "the echo is intact");
    assert.ok(finalPart && rebindings >= 4, `${rebindings} rebindings`);
    const sinceLastRebind = uploadEnded - lastRebindAt;
    assert.ok(
      sinceLastRebind < 1000,
      `last rebinding ${sinceLastRebind.toFixed(0)} ms before the end`,
    );

    const closed = closeOf(server, id, 5000);
    client.close(); // H3_NO_ERROR
    const info = (await closed).connection;
    assert.match(info.close_reason ?? "", /^H3_NO_ERROR/);
    assert.equal(info.migration_count, rebindings);
    const last = assertSettledByClose(rig.events, id);
    assert.equal(last.new_addr, lastNewAddr);
    assert.notEqual(last.outcome, "connection_lost");
    // Body bytes arrived after the detection (the final part waited for it), on the new path.
    assert.equal(last.outcome, "validated");
    assert.equal(last.validated, true);
    const answered = session.rebindings.at(-1)!;
    assert.ok(answered.serverAnsweredAt !== null, "the server answered on the last new mapping");
    assert.equal(server.tracker.summary().migrations_by_outcome.connection_lost, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("migration outcome: a normal close with nothing after the move is closed_before_validation", async () => {
  const rig = await startRig({ tracker: { validationWindowMs: 5000 } });
  const { server, relay, session, client, id } = rig;
  try {
    const { newAddr } = relay.rebind(session.key, "port");
    await detectionOf(server, id, newAddr); // the keep-alives show the move
    const closed = closeOf(server, id, 5000);
    client.close();
    const info = (await closed).connection;
    assert.match(info.close_reason ?? "", /^H3_NO_ERROR/);
    const last = assertSettledByClose(rig.events, id);
    assert.equal(last.new_addr, newAddr);
    assert.equal(last.outcome, "closed_before_validation");
    assert.equal(last.validated, false);
  } finally {
    await rig.close();
  }
});

Deno.test("migration outcome: a connection that dies right after a rebinding is connection_lost", async () => {
  // Idle timeout well inside the window: the death, not the window, settles the migration.
  const rig = await startRig({ maxIdleTimeout: 1000, tracker: { validationWindowMs: 10_000 } });
  const { server, relay, session, id } = rig;
  try {
    const { newAddr } = relay.rebind(session.key, "address");
    await detectionOf(server, id, newAddr);
    const closed = closeOf(server, id, 8000);
    await relay.close(); // the path is gone: nothing reaches the server any more
    const info = (await closed).connection;
    assert.doesNotMatch(info.close_reason ?? "", /H3_NO_ERROR/);
    const last = assertSettledByClose(rig.events, id);
    assert.equal(last.new_addr, newAddr);
    assert.equal(last.outcome, "connection_lost");
    assert.equal(last.validated, false);
  } finally {
    await rig.close();
  }
});
