/**
 * Turns tracker events into log lines, in the seed's words:
 * `🆕 New QUIC connection: <authority> from <addr> (Connection ID: <id>)` and
 * `🔄 Connection Migration detected! <old> -> <new> (Connection ID: <id>)`, plus a closing line;
 * with `--log-format json`, the same facts as one JSON object per line.
 * @module
 */

import type { Logger } from "../log.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";

const NAMES = { h3: "QUIC", h2: "TCP (HTTP/2)", "http/1.1": "TCP (HTTP/1.1)" } as const;

/** Subscribes `logger` to `tracker`; returns the unsubscribe function. */
export function logTrackerEvents(tracker: ConnectionTracker, logger: Logger): () => void {
  return tracker.subscribe((event) => {
    switch (event.type) {
      case "connection_opened": {
        const c = event.connection;
        logger.event(
          event.type,
          `🆕 New ${NAMES[c.protocol]} connection: ${
            c.server_name ?? "?"
          } from ${c.remote_addr} (Connection ID: ${c.connection_id})`,
          { connection_id: c.connection_id, protocol: c.protocol, remote_addr: c.remote_addr },
        );
        break;
      }
      case "migration": {
        const m = event.migration;
        if (m.kind === "preferred_address") {
          logger.event(
            event.type,
            `🔀 Hand-off to this node's preferred address: ${m.old_addr} (balancer) -> ${m.new_addr} (client) (Connection ID: ${event.connection_id}, seen by ${m.detected_by})`,
            { connection_id: event.connection_id, ...m },
          );
          break;
        }
        logger.event(
          event.type,
          `🔄 Connection Migration detected! ${m.old_addr} -> ${m.new_addr} (Connection ID: ${event.connection_id}, ${
            m.kind.replace("_", " ")
          }, seen by ${m.detected_by})`,
          { connection_id: event.connection_id, ...m },
        );
        break;
      }
      case "migration_outcome": {
        const m = event.migration;
        if (m.outcome === "validated") break; // the common case; the migration line said enough
        logger.event(
          event.type,
          `↩️  Migration ${m.old_addr} -> ${m.new_addr} ${
            m.outcome.replaceAll("_", " ")
          } (Connection ID: ${event.connection_id})`,
          { connection_id: event.connection_id, ...m },
        );
        break;
      }
      case "connection_closed": {
        const c = event.connection;
        const lifetime = Date.parse(c.last_seen) - Date.parse(c.start_time);
        logger.event(
          event.type,
          `👋 ${NAMES[c.protocol]} connection closed: ${c.connection_id} (${c.close_reason}; ${
            counted(c.request_count, "request")
          }, ${counted(c.migration_count, "migration")}, ${(lifetime / 1000).toFixed(1)} s)`,
          {
            connection_id: c.connection_id,
            reason: c.close_reason,
            requests: c.request_count,
            migrations: c.migration_count,
            lifetime_ms: lifetime,
          },
        );
        break;
      }
    }
  });
}

/** `n` and `noun`, plural unless `n` is 1: "1 request", "3 requests". */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
