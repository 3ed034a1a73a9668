/**
 * Security over real connections: who sees whose connections (`--public-dashboard`), same
 * origin only for state-changing requests with no CORS grants, and no secret in the logs.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";
import { sseReader } from "./support/sse.ts";
import type { H3Client } from "../lib/h3/client.ts";

async function json(client: H3Client, path: string, headers: Record<string, string> = {}) {
  const res = await client.fetch(path, { headers });
  return { status: res.status, body: await res.json() };
}

Deno.test("security: with --public-dashboard off a client sees only its own connection", async () => {
  const server = await startTestServer([], { publicDashboard: "off" });
  // A comes through the lab, so its migration can serve as a marker in the event stream.
  const [a, b] = await Promise.all([server.labClient({ keepAliveInterval: 50 }), server.client()]);
  const admin = { authorization: `Bearer ${server.adminToken}` };
  try {
    const aId = (await json(a, "/api/test")).body.connection_id;
    const bId = (await json(b, "/api/test")).body.connection_id;

    const own = await json(a, "/api/connections");
    assert.equal(own.body.scope, "own");
    assert.deepEqual(Object.keys(own.body.connections), [aId]);
    assert.equal(own.body.summary, undefined, "no server-wide totals either");
    assert.match(own.body.note, /only its own connection/);
    assert.equal((await json(a, `/api/connections/${bId}`)).status, 403);
    assert.equal((await json(a, `/api/connections/${aId}`)).status, 200);

    const all = await json(a, "/api/connections", admin);
    assert.equal(all.body.scope, "all");
    assert.deepEqual(Object.keys(all.body.connections).sort(), [aId, bId].sort());
    assert.equal((await json(a, `/api/connections/${bId}`, admin)).status, 200);

    // Opened A, opened B, then A migrates. The event stream replays only the caller's own events
    // (A's opened, then its migration: B's opened, in between, is left out); with the token,
    // everyone's.
    const moved = await b.fetch("/api/simulate-migration", {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ connection_id: aId, kind: "port" }),
    });
    assert.equal(moved.status, 200);
    await moved.body?.cancel();
    assert.deepEqual(await eventsUntilMigration(a, {}), [
      `connection_opened ${aId}`,
      `migration ${aId}`,
    ]);
    const everyone = await eventsUntilMigration(a, admin);
    assert.deepEqual(
      everyone.slice(0, 2).sort(),
      [
        `connection_opened ${aId}`,
        `connection_opened ${bId}`,
      ].sort(),
    );
    assert.equal(everyone.at(-1), `migration ${aId}`);
  } finally {
    a.close();
    b.close();
    await server.stop();
  }
});

/** "type connection_id" of each event replayed from the start, up to the first migration. */
async function eventsUntilMigration(
  client: H3Client,
  headers: Record<string, string>,
): Promise<string[]> {
  const res = await client.fetch("/api/events?last_event_id=0", { headers });
  const next = sseReader(res.body!);
  const seen: string[] = [];
  for (;;) {
    const event = JSON.parse((await next()).data!);
    seen.push(`${event.type} ${event.connection_id ?? event.connection.connection_id}`);
    if (event.type === "migration") return seen; // the stream stays open until the client closes
  }
}

Deno.test("security: by default loopback clients see every connection", async () => {
  const server = await startTestServer();
  const [a, b] = await Promise.all([server.client(), server.client()]);
  try {
    await (await b.fetch("/api/test")).body?.cancel();
    const all = await json(a, "/api/connections");
    assert.equal(all.body.scope, "all");
    assert.equal(Object.keys(all.body.connections).length, 2);
  } finally {
    a.close();
    b.close();
    await server.stop();
  }
});

Deno.test("security: no CORS grants; cross-origin state changes are refused", async () => {
  const server = await startTestServer();
  const client = await server.client();
  const evil = "https://evil.example";
  try {
    const preflight = await client.fetch("/api/simulate-migration", {
      method: "OPTIONS",
      headers: { origin: evil, "access-control-request-method": "POST" },
    });
    await preflight.body?.cancel();
    const read = await client.fetch("/api/connections", { headers: { origin: evil } });
    await read.body?.cancel();
    for (const res of [preflight, read]) {
      for (const name of res.headers.keys()) assert.ok(!name.startsWith("access-control-"), name);
    }

    const post = (headers: Record<string, string>) =>
      client.fetch("/api/simulate-migration", {
        method: "POST",
        headers: { "content-type": "text/plain", ...headers },
        body: '{"connection_id":"self"}',
      });
    const refused: Record<string, string>[] = [
      { origin: evil },
      { "sec-fetch-site": "cross-site" },
      { origin: "null" },
    ];
    for (const headers of refused) {
      const res = await post(headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal((await res.json()).error, "cross_origin");
    }
    // Same origin, or no Origin at all (curl), reaches the route: 409 here, as this connection
    // is not on the lab path.
    const allowed: Record<string, string>[] = [{ origin: `https://localhost:${server.port}` }, {}];
    for (const headers of allowed) {
      const res = await post(headers);
      assert.equal(res.status, 409, JSON.stringify(headers));
      await res.body?.cancel();
    }
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("security: the admin token never appears in logs, answers or headers", async () => {
  const lines: string[] = [];
  const server = await startTestServer(lines);
  const [a, b] = await Promise.all([server.client(), server.client()]);
  try {
    const bId = (await json(b, "/api/test")).body.connection_id;
    const seen: string[] = [];
    for (const token of [server.adminToken, "wrong-token"]) {
      const res = await a.fetch("/api/simulate-migration", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ connection_id: bId }),
      });
      seen.push(String(res.status), JSON.stringify([...res.headers]), await res.text());
    }
    assert.deepEqual(
      [seen[0], seen[3]],
      ["409", "403"],
      "right token passes, wrong one is refused",
    );
    b.close();
    a.close();
    await server.shutdown(1000);
    const everything = [...lines, ...seen].join("\n");
    assert.ok(lines.length > 0);
    assert.ok(!everything.includes(server.adminToken), "the token leaked");
    assert.ok(!everything.includes("wrong-token"), "a presented token leaked");
  } finally {
    a.close();
    b.close();
    await server.stop().catch(() => {});
  }
});
