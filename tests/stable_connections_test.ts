/**
 * The other half of truthful migration reporting: connections that do not move must never be
 * reported as migrated, however many requests and watcher checks they see.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";

Deno.test("100 QUIC connections that never migrate record 0 migrations", async () => {
  const server = await startTestServer();
  const clients = await Promise.all(Array.from({ length: 100 }, () => server.client()));
  try {
    for (let round = 0; round < 3; round++) {
      await Promise.all(clients.map(async (c) => {
        const res = await c.fetch("/api/test");
        assert.equal(res.status, 200);
        assert.equal((await res.json()).migration_count, 0);
      }));
      server.watcher.check(); // a watcher pass between rounds, on top of the timer's own
    }
    const summary = server.tracker.summary();
    assert.equal(summary.open, 100);
    assert.equal(summary.total_migrations, 0);
    for (const conn of server.tracker.openConnections()) {
      assert.equal(conn.migrationCount, 0);
      assert.equal(conn.requestCount, 3);
    }
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
});
