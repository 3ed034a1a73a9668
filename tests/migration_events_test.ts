/**
 * A live event stream watching a real migration: ngtcp2's client moves to a new local port
 * mid-connection, and an SSE client on another connection receives, in order, the connection
 * opening, the migration with the right addresses, its validation, and the close.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";
import { sseReader } from "./support/sse.ts";

Deno.test("events: an SSE client sees a real migration in order, with its addresses", async () => {
  const server = await startTestServer();
  const observer = await server.client();
  try {
    const stream = await observer.fetch("/api/events");
    const next = sseReader(stream.body!);
    const peer = new Deno.Command("gtlsclient", {
      args: [
        "--change-local-addr=300ms",
        "--delay-stream=900ms",
        "--exit-on-all-streams-close",
        "-q",
        "127.0.0.1",
        String(server.port),
        `https://localhost:${server.port}/api/test`,
      ],
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    // deno-lint-ignore no-explicit-any -- parsed JSON, checked field by field below
    const seen: Array<{ event: string; data: Record<string, any> }> = [];
    while (seen.length < 4) {
      const message = await next();
      seen.push({ event: message.event!, data: JSON.parse(message.data!) });
    }
    assert.equal((await peer).code, 0);
    assert.deepEqual(seen.map((s) => s.event), [
      "connection_opened",
      "migration",
      "migration_outcome",
      "connection_closed",
    ]);
    const id = seen[0].data.connection.connection_id;
    assert.ok(seen.every((s) => (s.data.connection_id ?? s.data.connection.connection_id) === id));
    const migration = seen[1].data.migration;
    assert.equal(migration.old_addr, seen[0].data.connection.remote_addr);
    assert.notEqual(migration.new_addr, migration.old_addr);
    assert.equal(seen[1].data.connection.remote_addr, migration.new_addr);
    assert.equal(seen[2].data.migration.outcome, "validated");
    assert.equal(seen[3].data.connection.migration_count, 1);
    await stream.body?.cancel().catch(() => {});
  } finally {
    observer.close();
    await server.stop();
  }
});
