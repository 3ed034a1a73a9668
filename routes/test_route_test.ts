import { strict as assert } from "node:assert";
import { TrackedConnection } from "../lib/tracker/tracker.ts";
import { testBody } from "./test.ts";

function expected(conn: TrackedConnection): string {
  return JSON.stringify({
    protocol: conn.protocol,
    connection_id: conn.id,
    remote_addr: conn.remoteAddr,
    request_count: conn.requestCount,
    migration_count: conn.migrationCount,
    connection_started: conn.startTime,
  });
}

Deno.test("/api/test body: exactly JSON.stringify of the record, as counters and address change", () => {
  const conn = new TrackedConnection("c-1", 1, "h3", "127.0.0.1:5000", "", null, 1_700_000_000_000);
  assert.equal(testBody(conn), expected(conn));
  conn.requestCount = 41;
  assert.equal(testBody(conn), expected(conn));
  conn.remoteAddr = "[::1]:6000"; // a migration: the kept text is made again
  conn.migrationCount = 1;
  assert.equal(testBody(conn), expected(conn));
  assert.equal(JSON.parse(testBody(conn)).remote_addr, "[::1]:6000");
});

Deno.test("/api/test body: text that needs escaping is escaped as JSON.stringify does", () => {
  const conn = new TrackedConnection('id"\\\u2028', 2, "h2", 'a"b', "", null, 0);
  assert.equal(testBody(conn), expected(conn));
  const other = new TrackedConnection("c-2", 3, "h3", "127.0.0.1:1", "", null, 0);
  assert.equal(testBody(other), expected(other), "kept per connection, not shared");
});
