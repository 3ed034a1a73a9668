/**
 * `GET /api/connections` and `GET /api/connections/:id`: what the tracker observed about every
 * connection. `connection_id` is a random id this server assigned when it accepted the
 * connection; Deno exposes no QUIC wire connection IDs, and an address is never used as an id.
 * @module
 */

import { boundedInt, excerpt } from "../lib/bounded_int.ts";
import { Hono } from "hono";
import type { MigrationLab } from "../lib/lab/lab.ts";
import type { AppEnv } from "../lib/connection_env.ts";
import type { ConnectionTracker, ListFilter } from "../lib/tracker/tracker.ts";
import type { ConnectionInfo, Protocol } from "../lib/tracker/types.ts";
import { Visibility } from "../lib/access/visibility.ts";

const IDENTITY_NOTE =
  "connection_id is a random id assigned by this server when it accepted the connection; it is never derived from an address. Deno exposes no QUIC wire connection IDs.";
const PROTOCOLS = new Set(["h3", "h2", "http/1.1"]);

class QueryError extends Error {}

/** Client input quoted in an error, cut so a huge value is not echoed whole. */
function quoted(value: string): string {
  return JSON.stringify(excerpt(value));
}

function parseFilter(query: (name: string) => string | undefined): ListFilter {
  const state = query("state") ?? "all";
  if (state !== "open" && state !== "closed" && state !== "all") {
    throw new QueryError(`state must be open, closed or all, not ${quoted(state)}`);
  }
  const protocol = query("protocol");
  if (protocol !== undefined && !PROTOCOLS.has(protocol)) {
    throw new QueryError(`protocol must be h3, h2 or http/1.1, not ${quoted(protocol)}`);
  }
  const migrated = query("migrated");
  if (migrated !== undefined && migrated !== "true" && migrated !== "false") {
    throw new QueryError(`migrated must be true or false, not ${quoted(migrated)}`);
  }
  const limit = integer(query("limit") ?? "100", "limit", 1, 1000);
  const cursor = query("cursor");
  return {
    state,
    protocol: protocol as Protocol | undefined,
    migrated: migrated === "true",
    limit,
    cursor: cursor === undefined
      ? undefined
      : integer(cursor, "cursor", 0, Number.MAX_SAFE_INTEGER),
  };
}

function integer(raw: string, name: string, min: number, max: number): number {
  const n = boundedInt(raw, min, max);
  if (n === undefined) {
    throw new QueryError(
      `${name} must be an integer from ${min} to ${max}, not ${quoted(raw)}`,
    );
  }
  return n;
}

/** The connection routes over `tracker`. */
export function connections(
  tracker: ConnectionTracker,
  lab?: () => MigrationLab | undefined,
  visibility: Visibility = new Visibility("on"),
): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get("/api/connections", (c) => {
      let filter: ListFilter;
      try {
        filter = parseFilter((name) => c.req.query(name));
      } catch (error) {
        if (!(error instanceof QueryError)) throw error;
        return c.json({ error: "bad_request", detail: error.message }, 400);
      }
      if (!visibility.seesAll(c)) {
        // Only the caller's own connection, and no server-wide summary of other clients.
        const own = c.env.connection;
        return c.json({
          connections: { [own.id]: own.toJSON() },
          next_cursor: null,
          scope: "own",
          note: `${IDENTITY_NOTE} ${Visibility.OWN_ONLY_NOTE}`,
        });
      }
      const page = tracker.list(filter);
      const byId: Record<string, ConnectionInfo> = {};
      for (const conn of page.connections) byId[conn.id] = conn.toJSON();
      return c.json({
        connections: byId,
        summary: tracker.summary(),
        next_cursor: page.nextCursor,
        scope: "all",
        note: IDENTITY_NOTE,
      });
    })
    .get("/api/connections/:id", (c) => {
      const conn = tracker.get(c.req.param("id"));
      if (conn !== undefined && conn !== c.env.connection && !visibility.seesAll(c)) {
        return c.json({ error: "forbidden", detail: Visibility.OWN_ONLY_NOTE }, 403);
      }
      if (conn === undefined) {
        return c.json({
          error: "not_found",
          detail: `no open or recently closed connection with id ${quoted(c.req.param("id"))}`,
        }, 404);
      }
      const labs = lab?.();
      return c.json({
        ...conn.toJSON(),
        // Requests per second over the last two minutes (only here: lists stay small).
        request_activity: conn.requestActivity(),
        // The lab's view: whether it carries this connection, its rebindings and conformance.
        lab: labs === undefined ? null : {
          on_lab_path: labs.sessionFor(conn) !== undefined,
          ...(labs.recordFor(conn) ?? { migrations: [], dcids_seen: [], conformance: null }),
        },
      });
    });
}
