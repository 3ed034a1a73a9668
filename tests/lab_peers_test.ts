/**
 * A real third-party QUIC client on the lab path: ngtcp2's client downloads through the lab's
 * relay while the API rebinds its path, and its conformance record says whether it survived.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";

Deno.test("lab: an ngtcp2 client rebound through the API completes and is recorded as surviving", async () => {
  const server = await startTestServer();
  const control = await server.client();
  try {
    const opened = new Promise<string>((resolve) => {
      const stop = server.tracker.subscribe((event) => {
        if (event.type === "connection_opened" && event.connection.protocol === "h3") {
          const conn = server.tracker.get(event.connection.connection_id)!;
          if (server.lab!.sessionFor(conn) !== undefined) {
            stop();
            resolve(conn.id);
          }
        }
      });
    });
    const size = 300 * 1024 * 1024;
    const peer = new Deno.Command("gtlsclient", {
      args: [
        "--exit-on-all-streams-close",
        "--no-quic-dump",
        "--no-http-dump",
        "--timeout=10s",
        "127.0.0.1",
        String(server.labPort),
        `https://localhost:${server.labPort}/api/download?bytes=${size}`,
      ],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const id = await opened;
    const res = await control.fetch("/api/simulate-migration", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${server.adminToken}`,
      },
      body: JSON.stringify({ connection_id: id, kind: "mixed", count: 3, interval_ms: 50 }),
    });
    const report = await res.json();
    assert.equal(
      res.status,
      200,
      JSON.stringify(report) + JSON.stringify(server.tracker.get(id)?.toJSON().migration_events),
    );
    const result = await peer;
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr.slice(-2000));
    assert.match(stderr, /:status: 200/);
    assert.equal(report.migrations.length, 3);
    for (const m of report.migrations) {
      assert.equal(m.detected, true, JSON.stringify(m));
      assert.equal(m.client_sent_on_new_path, true);
      assert.equal(m.server_answered_on_new_path, true);
    }
    assert.deepEqual(report.conformance, {
      rebindings: 3,
      survived: 3,
      not_followed: 0,
      served_requests_after: 0,
    });
    assert.ok(report.dcids_seen.length >= 1, "the relay saw the client's connection IDs");
    const info = server.tracker.get(id)!.toJSON();
    assert.equal(info.migration_count, 3);
    assert.equal(info.request_count, 1, "one download, served across three paths");
  } finally {
    control.close();
    await server.stop();
  }
});
