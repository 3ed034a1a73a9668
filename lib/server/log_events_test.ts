import { strict as assert } from "node:assert";
import { Logger } from "../log.ts";
import { ConnectionTracker } from "../tracker/tracker.ts";
import { logTrackerEvents } from "./log_events.ts";

function run(format: "text" | "json"): string[] {
  const lines: string[] = [];
  const tracker = new ConnectionTracker();
  logTrackerEvents(tracker, new Logger(format, (line) => lines.push(line)));
  const conn = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", "localhost");
  tracker.observe(conn, "127.0.0.2:5000");
  tracker.close(conn, "idle timeout", "error");
  return lines;
}

Deno.test("log lines: the seed's text form", () => {
  const lines = run("text");
  assert.equal(lines.length, 4, lines.join("\n"));
  assert.match(
    lines[0],
    /^🆕 New QUIC connection: localhost from 127\.0\.0\.1:5000 \(Connection ID: [0-9a-f]{16}\)$/,
  );
  assert.match(
    lines[1],
    /^🔄 Connection Migration detected! 127\.0\.0\.1:5000 -> 127\.0\.0\.2:5000 \(Connection ID: [0-9a-f]{16}, address change, seen by watcher\)$/,
  );
  assert.match(lines[2], /^↩️ {2}Migration 127\.0\.0\.1:5000 -> 127\.0\.0\.2:5000 connection lost/);
  assert.match(
    lines[3],
    /^👋 QUIC connection closed: [0-9a-f]{16} \(idle timeout; 0 requests, 1 migration, \d+\.\d s\)$/,
  );
});

Deno.test("log lines: a migration cut short by a normal close is named in words", () => {
  const lines: string[] = [];
  const tracker = new ConnectionTracker();
  logTrackerEvents(tracker, new Logger("text", (line) => lines.push(line)));
  const conn = tracker.open("h3", "127.0.0.1:5000", "127.0.0.1:9443", "localhost");
  tracker.observe(conn, "127.0.0.1:5001");
  tracker.close(conn, "H3_NO_ERROR", "normal");
  assert.match(lines[2], /127\.0\.0\.1:5001 closed before validation \(Connection ID/);
});

Deno.test("log lines: --log-format json gives one object per line with the same facts", () => {
  const lines = run("json");
  const objects = lines.map((l) => JSON.parse(l));
  assert.deepEqual(objects.map((o) => o.event), [
    "connection_opened",
    "migration",
    "migration_outcome",
    "connection_closed",
  ]);
  assert.equal(objects[1].old_addr, "127.0.0.1:5000");
  assert.equal(objects[1].new_addr, "127.0.0.2:5000");
  assert.equal(objects[2].outcome, "connection_lost");
  assert.ok(
    objects.every((o) => typeof o.time === "string" && /^[0-9a-f]{16}$/.test(o.connection_id)),
  );
});
