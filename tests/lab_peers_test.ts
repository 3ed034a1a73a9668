/**
 * A real third-party QUIC client on the lab path: ngtcp2's client sends a large body through the
 * lab's relay to `/api/echo` and reads it back while the API rebinds its path, and its
 * conformance record says whether it survived.
 *
 * Why an upload: a rebinding only shows once the client sends on the new mapping. A client that
 * only downloads may have nothing left to acknowledge when the old mapping goes, and then waits
 * silently for data the server sends to that mapping (ngtcp2's client has no keep-alive option);
 * the lab truthfully reports such a rebinding as not followed (`lab_test.ts`). A client with
 * data of its own in flight always sends again, so every rebinding here must be followed.
 */

import { strict as assert } from "node:assert";
import { DEFAULT_LIMITS } from "../lib/limits.ts";
import { startTestServer } from "./support/server.ts";

Deno.test("lab: an ngtcp2 client rebound through the API completes and is recorded as surviving", async () => {
  const server = await startTestServer();
  const control = await server.client();
  // A sparse file: its size is what matters, not its bytes.
  const body = await Deno.makeTempFile({ prefix: "lab-peer-body-" });
  try {
    // As large as the server takes, so the upload lasts through every rebinding.
    await Deno.truncate(body, DEFAULT_LIMITS.maxBodyBytes);
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
    const peer = new Deno.Command("gtlsclient", {
      args: [
        "--exit-on-all-streams-close",
        "--no-quic-dump",
        "--no-http-dump",
        "--timeout=10s",
        "-m",
        "POST",
        "-d",
        body,
        "127.0.0.1",
        String(server.labPort),
        `https://localhost:${server.labPort}/api/echo`,
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
    assert.equal(info.request_count, 1, "one echo, served across three paths");
  } finally {
    await Deno.remove(body).catch(() => {});
    control.close();
    await server.stop();
  }
});
