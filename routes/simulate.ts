/**
 * `POST /api/simulate-migration`: moves a live connection on the lab path to a new path for
 * real (see `lib/lab/lab.ts`).
 *
 * Body: `{"connection_id": "<id>" | "self", "kind": "port" | "address" | "mixed",
 * "count": 1-1000, "interval_ms": 0-10000}`. Without `Authorization: Bearer <admin token>` only
 * the caller's own connection may be moved.
 *
 * - Another connection: the rebindings run now and the response says what happened.
 * - The caller's own connection (`"self"`): the response comes first (202), and the rebindings
 *   start `starts_after_ms` later. A NAT rebinding only shows once the client sends again, and
 *   a client waiting for this very response would not; so the results arrive in the connection's
 *   `lab` record (`GET /api/connections/<id>`) and on `/api/events` as its next requests come.
 * @module
 */

import { boundedInt } from "../lib/bounded_int.ts";
import { Hono } from "hono";
import {
  LabBusyError,
  type MigrationLab,
  type MigrationPlan,
  NotOnLabPathError,
} from "../lib/lab/lab.ts";
import type { AppEnv } from "../lib/connection_env.ts";
import { hasAdminToken } from "../lib/access/admin_token.ts";
import type { ConnectionTracker } from "../lib/tracker/tracker.ts";

/** What the route needs. */
export interface SimulateDeps {
  tracker: ConnectionTracker;
  /** The lab; it or its result is undefined when the lab is off. */
  lab?: () => MigrationLab | undefined;
  /** Without one, only `"self"` works. */
  adminToken?: string;
  /** The lab's URL, for the 409 answer. */
  labUrl?: () => string;
  /** Delay before moving the caller's own connection (default 200 ms). */
  selfDelayMs?: number;
}

class BadRequest extends Error {}

/** A JSON number that is an integer in range (a string of digits is not a JSON integer). */
function jsonInt(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" ? boundedInt(value, min, max) : undefined;
}

function parsePlan(body: unknown): { target: string; plan: MigrationPlan } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadRequest("the body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const target = b.connection_id;
  if (typeof target !== "string" || target === "") {
    throw new BadRequest('connection_id must be a connection id or "self"');
  }
  const kind = b.kind ?? "port";
  if (kind !== "port" && kind !== "address" && kind !== "mixed") {
    throw new BadRequest('kind must be "port", "address" or "mixed"');
  }
  const count = b.count === undefined ? 1 : jsonInt(b.count, 1, 1000);
  if (count === undefined) throw new BadRequest("count must be an integer from 1 to 1000");
  const intervalMs = b.interval_ms === undefined ? 100 : jsonInt(b.interval_ms, 0, 10_000);
  if (intervalMs === undefined) {
    throw new BadRequest("interval_ms must be an integer from 0 to 10000");
  }
  return { target, plan: { kind, count, intervalMs } };
}

/** The simulate-migration route. */
export function simulate(deps: SimulateDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().post("/api/simulate-migration", async (c) => {
    let parsed: { target: string; plan: MigrationPlan };
    try {
      parsed = parsePlan(await c.req.json());
    } catch (error) {
      const detail = error instanceof BadRequest ? error.message : "the body is not valid JSON";
      return c.json({ error: "bad_request", detail }, 400);
    }
    const own = c.env.connection;
    const conn = parsed.target === "self" ? own : deps.tracker.get(parsed.target);
    if (conn === undefined) {
      return c.json(
        { error: "not_found", detail: `no connection with id "${parsed.target}"` },
        404,
      );
    }
    const isSelf = conn === own;
    if (!isSelf && !hasAdminToken(c.req.header("authorization"), deps.adminToken)) {
      return c.json({
        error: "forbidden",
        detail:
          'moving another connection needs "Authorization: Bearer <admin token>"; "self" needs none',
      }, 403);
    }
    const lab = deps.lab?.();
    const labUrl = deps.labUrl?.() ?? "";
    if (lab === undefined || lab.sessionFor(conn) === undefined) {
      return c.json({
        error: "not_on_lab_path",
        detail: lab === undefined
          ? "the migration lab is off on this server"
          : conn.protocol !== "h3"
          ? `this is a ${conn.protocol} connection over TCP, which cannot migrate; use HTTP/3 through the lab port`
          : "only HTTP/3 connections that came through the lab port can be moved; connect there",
        lab_url: labUrl,
      }, 409);
    }
    if (lab.isBusy(conn)) {
      return c.json({ error: "busy", detail: "a migration of this connection is running" }, 409);
    }
    if (isSelf) {
      const startsAfter = deps.selfDelayMs ?? 200;
      setTimeout(() => lab.migrate(conn, parsed.plan).catch(() => {}), startsAfter);
      return c.json({
        connection_id: conn.id,
        status: "scheduled",
        kind: parsed.plan.kind,
        count: parsed.plan.count,
        interval_ms: parsed.plan.intervalMs,
        starts_after_ms: startsAfter,
        results: `/api/connections/${conn.id}`,
        events: "/api/events",
      }, 202);
    }
    const before = lab.recordFor(conn)?.migrations.length ?? 0;
    try {
      const record = await lab.migrate(conn, parsed.plan);
      return c.json({
        connection_id: conn.id,
        status: "done",
        migrations: record.migrations.slice(before),
        dcids_seen: record.dcids_seen,
        conformance: record.conformance,
      });
    } catch (error) {
      if (error instanceof NotOnLabPathError || error instanceof LabBusyError) {
        return c.json({ error: "conflict", detail: error.message, lab_url: labUrl }, 409);
      }
      throw error;
    }
  });
}
