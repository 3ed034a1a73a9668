/**
 * `GET /api/connections` and `GET /api/connections/:id`: what the tracker observed about every
 * connection. `connection_id` is a random id this server assigned when it accepted the
 * connection; Deno exposes no QUIC wire connection IDs, and an address is never used as an id.
 * The answers come from a `ConnectionDirectory`: this node's tracker, or in cluster mode every
 * node's connections (each record names its `node`, and a `source` field says whether the
 * answer came from the cluster store or, while it is unreachable, from this node alone).
 * @module
 */

import { boundedInt, excerpt } from "../lib/bounded_int.ts";
import { Hono } from "hono";
import type { MigrationLab } from "../lib/lab/lab.ts";
import type { AppEnv } from "../lib/connection_env.ts";
import type { ListFilter } from "../lib/tracker/tracker.ts";
import type { Protocol } from "../lib/tracker/types.ts";
import type { ConnectionDirectory, ListedConnection } from "../lib/tracker/api_sources.ts";
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

/** `{source}` when the directory named one (cluster mode), else nothing: the shape stays. */
function sourceField(source: string | undefined): { source?: string } {
  return source === undefined ? {} : { source };
}

/** The connection routes over `directory`. */
export function connections(
  directory: ConnectionDirectory,
  lab?: () => MigrationLab | undefined,
  visibility: Visibility = new Visibility("on"),
): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get("/api/connections", async (c) => {
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
          connections: { [own.id]: directory.own(own) },
          next_cursor: null,
          scope: "own",
          note: `${IDENTITY_NOTE} ${Visibility.OWN_ONLY_NOTE}`,
        });
      }
      const page = await directory.list(filter);
      const byId: Record<string, ListedConnection> = {};
      for (const info of page.connections) byId[info.connection_id] = info;
      return c.json({
        connections: byId,
        summary: page.summary,
        next_cursor: page.nextCursor,
        scope: "all",
        note: IDENTITY_NOTE,
        ...sourceField(page.source),
      });
    })
    .get("/api/connections/:id", async (c) => {
      const { found, source } = await directory.get(c.req.param("id"));
      if (
        found !== undefined && found.local !== c.env.connection && !visibility.seesAll(c)
      ) {
        return c.json({ error: "forbidden", detail: Visibility.OWN_ONLY_NOTE }, 403);
      }
      if (found === undefined) {
        const where = source === undefined ? "" : ` (searched: ${source})`;
        return c.json({
          error: "not_found",
          detail: `no open or recently closed connection with id ${
            quoted(c.req.param("id"))
          }${where}`,
        }, 404);
      }
      const conn = found.local;
      const labs = lab?.();
      return c.json({
        ...found.info,
        // Requests per second over the last two minutes (only here: lists stay small). Another
        // node's connection has none here: only the node holding it counts its requests.
        request_activity: conn === undefined ? null : conn.requestActivity(),
        // The lab's view: whether it carries this connection, its rebindings and conformance.
        lab: labs === undefined || conn === undefined ? null : {
          on_lab_path: labs.sessionFor(conn) !== undefined,
          ...(labs.recordFor(conn) ??
            { migrations: [], dcids_seen: [], conformance: null, stopped: null }),
        },
        ...sourceField(found.source),
      });
    });
}
