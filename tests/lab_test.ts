/**
 * The migration lab end to end: `POST /api/simulate-migration` moves live connections that came
 * through the lab port to new paths for real, and says what happened.
 */

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { type H3Client, receivedTrailers } from "../lib/h3/client.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

function simulate(client: H3Client, body: unknown, token?: string) {
  return client.fetch("/api/simulate-migration", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function idOf(client: H3Client): Promise<string> {
  return (await (await client.fetch("/api/test")).json()).connection_id;
}

async function withLab(fn: (server: TestServer) => Promise<void>) {
  // These tests send many simulate requests per second on one connection on purpose; the rate
  // limit has its own test (limits_test.ts).
  const server = await startTestServer([], { limits: { mutatingRequestsPerSecond: 10_000 } });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

Deno.test("lab: 1,000 rebindings, alternating port and address, under continuous requests", () =>
  withLab(async (server) => {
    // A response in flight when the path moves is lost on the old mapping; the client's next
    // packet (here a keep-alive within 10 ms) brings the connection over, as in the real thing.
    const labClient = await server.labClient({ keepAliveInterval: 10 });
    const control = await server.client();
    try {
      const id = await idOf(labClient);
      let stop = false;
      let ok = 0;
      let failed = 0;
      const traffic = (async () => {
        while (!stop) {
          try {
            const res = await labClient.fetch("/api/test");
            const body = await res.json();
            if (res.status === 200 && body.connection_id === id) ok++;
            else failed++;
          } catch {
            failed++;
          }
        }
      })();
      const res = await simulate(control, {
        connection_id: id,
        kind: "mixed",
        count: 1000,
        interval_ms: 0,
      }, server.adminToken);
      stop = true;
      await traffic;
      assert.equal(res.status, 200);
      const report = await res.json();
      assert.equal(report.migrations.length, 1000);
      assert.ok(report.migrations.every((m: { detected: boolean }) => m.detected));
      assert.equal(failed, 0, `${failed} failed requests`);
      assert.ok(ok > 0, "requests kept flowing");
      const conn = server.tracker.get(id)!;
      assert.equal(conn.migrationCount, 1000);
      const info = await (await control.fetch(`/api/connections/${id}`)).json();
      assert.equal(info.migration_count, 1000);
      assert.equal(info.lab.on_lab_path, true);
      assert.equal(info.lab.conformance.rebindings, 1000);
      assert.equal(info.lab.conformance.survived, 1000);
      const kinds = report.migrations.map((m: { kind: string }) => m.kind);
      assert.equal(kinds.filter((k: string) => k === "address").length, 500);
      for (const m of report.migrations) {
        assert.notEqual(m.old_addr, m.new_addr);
        assert.ok(m.detection_delay_ms >= 0);
      }
      // Every migration is validated: by a request on its new address, or, for the last one,
      // by the request below.
      await (await labClient.fetch("/api/test")).body?.cancel();
      const outcomes = server.tracker.summary().migrations_by_outcome;
      assert.deepEqual(outcomes, {
        validated: 1000,
        reverted: 0,
        closed_before_validation: 0,
        connection_lost: 0,
        pending: 0,
      });
      assert.ok(conn.events.every((e) => e.validated && e.outcome === "validated"));
    } finally {
      labClient.close();
      control.close();
    }
  }));

Deno.test("lab: a 50 MiB download through the lab path survives 5 rebindings, hash intact", () =>
  withLab(async (server) => {
    // A client that means to survive NAT rebinding keeps the path alive: a rebinding only shows
    // when the client sends, and a client silently waiting for data sent to its old mapping
    // would not send until its idle timer.
    const labClient = await server.labClient({ keepAliveInterval: 50 });
    const control = await server.client();
    try {
      const id = await idOf(labClient);
      const size = 50 * 1024 * 1024;
      const res = await labClient.fetch(`/api/download?bytes=${size}`, {
        headers: { te: "trailers" },
      });
      const hash = createHash("sha256");
      let received = 0;
      let moves = 0;
      let pending: Promise<void> = Promise.resolve();
      const problems: string[] = [];
      for await (const chunk of res.body!) {
        hash.update(chunk);
        received += chunk.length;
        // Move while reading on (a client that stops reading stops sending, and a path
        // change only shows when the client sends), one move at a time.
        if (moves < 5 && received > (moves + 1) * 8 * 1024 * 1024) {
          moves++;
          const kind = moves % 2 ? "address" : "port";
          pending = pending.then(async () => {
            const r = await simulate(control, { connection_id: id, kind }, server.adminToken);
            const report = await r.json();
            if (r.status !== 200 || report.migrations[0].detected !== true) {
              problems.push(JSON.stringify(report));
            }
          });
        }
      }
      // A move near the end may land after the last byte: keep the client talking until every
      // move was seen, as any live client would.
      let done = false;
      pending = pending.finally(() => (done = true));
      while (!done) await (await labClient.fetch("/api/test")).body?.cancel();
      await pending;
      assert.deepEqual(problems, []);
      assert.equal(moves, 5);
      assert.equal(received, size);
      assert.equal(hash.digest("hex"), receivedTrailers(res)?.get("x-content-sha256"));
      assert.equal(await idOf(labClient), id, "still the same connection");
      assert.equal(server.tracker.get(id)!.migrationCount, 5);
    } finally {
      labClient.close();
      control.close();
    }
  }));

Deno.test("lab: self needs no token, answers first, and the next request arrives migrated", () =>
  withLab(async (server) => {
    const labClient = await server.labClient();
    try {
      const first = await (await labClient.fetch("/api/test")).json();
      const res = await simulate(labClient, { connection_id: "self" });
      assert.equal(res.status, 202);
      const scheduled = await res.json();
      assert.equal(scheduled.connection_id, first.connection_id);
      const moved = new Promise<void>((resolve) => {
        const stop = server.tracker.subscribe((e) => {
          if (e.type === "migration" && e.connection_id === first.connection_id) {
            stop();
            resolve();
          }
        });
      });
      // Requests keep the client sending, as a page's counter does; the move shows on one.
      let after = first;
      for (let i = 0; i < 200 && after.migration_count === first.migration_count; i++) {
        after = await (await labClient.fetch("/api/test")).json();
        if (after.migration_count === first.migration_count) {
          await Promise.race([moved, new Promise((r) => setTimeout(r, 10))]);
        }
      }
      assert.equal(after.connection_id, first.connection_id);
      assert.equal(after.migration_count, first.migration_count + 1);
      assert.notEqual(after.remote_addr, first.remote_addr);
    } finally {
      labClient.close();
    }
  }));

Deno.test("lab: errors are JSON with the right status", () =>
  withLab(async (server) => {
    const direct = await server.client();
    const labClient = await server.labClient();
    try {
      const labId = await idOf(labClient);
      const cases: Array<[unknown, string | undefined, number, string]> = [
        ["{not json", undefined, 400, "bad_request"],
        [[1, 2], undefined, 400, "bad_request"],
        [{ connection_id: "self", kind: "teleport" }, undefined, 400, "bad_request"],
        [{ connection_id: "self", count: 0 }, undefined, 400, "bad_request"],
        [{ connection_id: "self", count: 1001 }, undefined, 400, "bad_request"],
        [{ connection_id: "self", interval_ms: -1 }, undefined, 400, "bad_request"],
        [{ connection_id: labId }, undefined, 403, "forbidden"],
        [{ connection_id: labId }, "wrong-token", 403, "forbidden"],
        [{ connection_id: "ffffffffffffffff" }, server.adminToken, 404, "not_found"],
        [{ connection_id: "self" }, undefined, 409, "not_on_lab_path"],
      ];
      for (const [body, token, status, error] of cases) {
        const res = await simulate(direct, body, token);
        const json = await res.json();
        assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(json)}`);
        assert.equal(json.error, error);
        assert.equal(typeof json.detail, "string");
        if (status === 409) assert.match(json.lab_url, /^https:\/\/localhost:\d+\/$/);
      }
      // The direct connection cannot be moved by the admin either: it is not on the lab path.
      const directId = await idOf(direct);
      const res = await simulate(labClient, { connection_id: directId }, server.adminToken);
      assert.equal(res.status, 409);
      await res.body?.cancel();
    } finally {
      direct.close();
      labClient.close();
    }
  }));

Deno.test("lab: rebindings a silent client never follows are reported as such, and the plan goes on", () =>
  withLab(async (server) => {
    // No keep-alive and no request in flight: after its first request (and the acknowledgements
    // that may trail it) this client sends nothing, so no later rebinding can show until it
    // sends again.
    const labClient = await server.labClient();
    try {
      const id = await idOf(labClient);
      const conn = server.tracker.get(id)!;
      const start = conn.remoteAddr;
      const record = await server.lab!.migrate(conn, {
        kind: "mixed",
        count: 3,
        intervalMs: 0,
        // Longer than the watcher takes to look at a quiet connection (`quietMs`).
        detectTimeoutMs: server.watcher.quietMs + 500,
      });
      assert.equal(record.stopped, null, "a rebinding not followed is no reason to stop");
      assert.equal(record.migrations.length, 3, JSON.stringify(record));
      // Each rebinding moved the same relay session on from where the previous one left it.
      assert.deepEqual(record.migrations.map((m) => m.old_addr), [
        start,
        record.migrations[0].new_addr,
        record.migrations[1].new_addr,
      ]);
      // The server saw a move exactly when the client sent on the new mapping.
      for (const m of record.migrations) {
        assert.equal(m.detected, m.client_sent_on_new_path, JSON.stringify(m));
      }
      const last = record.migrations[2];
      assert.equal(last.detected, false, JSON.stringify(record));
      assert.equal(last.outcome, "undetected");
      // Still on the lab path, though the server has not seen it on the latest mapping yet.
      assert.ok(server.lab!.sessionFor(conn), "the lab still finds the session it moved");
      const control = await server.client();
      try {
        const info = await (await control.fetch(`/api/connections/${id}`)).json();
        assert.equal(info.lab.on_lab_path, true);
        assert.equal(info.lab.stopped, null);
        assert.equal(info.lab.migrations.length, 3);
      } finally {
        control.close();
      }
      const followed = record.migrations.filter((m) => m.detected).length;
      assert.deepEqual(record.conformance, {
        rebindings: 3,
        survived: followed,
        not_followed: 3 - followed,
        served_requests_after: 0,
      });
      // The client's next request arrives through the last mapping, still the same connection.
      assert.equal(await idOf(labClient), id);
      assert.equal(conn.remoteAddr, last.new_addr);
      assert.equal(conn.migrationCount, followed + 1);
    } finally {
      labClient.close();
    }
  }));

Deno.test("lab: a connection that closes between rebindings ends the plan with a report, not an error", () =>
  withLab(async (server) => {
    const labClient = await server.labClient({ keepAliveInterval: 20 });
    const control = await server.client();
    try {
      const id = await idOf(labClient);
      // Close the client once its first move is seen; the plan's pause leaves time for the close.
      const stop = server.tracker.subscribe((event) => {
        if (event.type === "migration" && event.connection_id === id) {
          stop();
          labClient.close();
        }
      });
      const res = await simulate(
        control,
        { connection_id: id, kind: "port", count: 3, interval_ms: 1500 },
        server.adminToken,
      );
      const report = await res.json();
      assert.equal(res.status, 200, JSON.stringify(report));
      assert.equal(report.status, "stopped");
      assert.match(report.detail, /^the connection closed after 1 rebinding \(/);
      assert.equal(report.migrations.length, 1);
      assert.equal(report.migrations[0].detected, true);
      assert.equal(report.conformance.rebindings, 1);
      // The reason stays in the connection's lab record, for whoever polls it.
      const info = await (await control.fetch(`/api/connections/${id}`)).json();
      assert.equal(info.lab.stopped, report.detail);
    } finally {
      labClient.close();
      control.close();
    }
  }));
