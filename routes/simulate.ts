/**
 * `POST /api/simulate-migration`: moves a live connection on the lab path to a new path for
 * real (see `lib/lab/lab.ts`).
 *
 * Body: `{"connection_id": "<id>" | "self", "kind": "port" | "address" | "mixed",
 * "count": 1-1000, "interval_ms": 0-10000}`. Without `Authorization: Bearer <admin token>` only
 * the caller's own connection may be moved.
 *
 * - Another connection: the rebindings run now and the response says what happened
 *   (`status: "done"`, or `"stopped"` with a `detail` when the connection closed or left the lab
 *   path before the count was reached; the rebindings made are in the report either way).
 * - The caller's own connection (`"self"`): the response comes first (202), and the rebindings
 *   start `starts_after_ms` later. A NAT rebinding only shows once the client sends again, and
 *   a client waiting for this very response would not; so the results arrive in the connection's
 *   `lab` record (`GET /api/connections/<id>`) and on `/api/events` as its next requests come.
 * @module
 */

import { boundedInt, excerpt } from "../lib/bounded_int.ts";
import { type Context, Hono } from "hono";
import {
  LabBusyError,
  type MigrationLab,
  type MigrationPlan,
  NotOnLabPathError,
} from "../lib/lab/lab.ts";
import type { AppEnv } from "../lib/connection_env.ts";
import { hasAdminToken } from "../lib/access/admin_token.ts";
import type { ConnectionTracker } from "../lib/tracker/tracker.ts";
import { discardBody, readJsonBody, refuseDeclaredOverLimit } from "../lib/json_body.ts";
import { BadRequestError } from "../lib/http_error.ts";
import { DEFAULT_LIMITS } from "../lib/limits.ts";

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
  /** Largest request body, in bytes; more gets 413 (default: `lib/limits.ts`). */
  maxJsonBodyBytes?: number;
}

function forbidden(c: Context<AppEnv>, detail: string): Response {
  return c.json({ error: "forbidden", detail }, 403);
}

/** A JSON number that is an integer in range (a string of digits is not a JSON integer). */
function jsonInt(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" ? boundedInt(value, min, max) : undefined;
}

function parsePlan(body: unknown): { target: string; plan: MigrationPlan } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadRequestError("the body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const target = b.connection_id;
  if (typeof target !== "string" || target === "") {
    throw new BadRequestError('connection_id must be a connection id or "self"');
  }
  const kind = b.kind ?? "port";
  if (kind !== "port" && kind !== "address" && kind !== "mixed") {
    throw new BadRequestError('kind must be "port", "address" or "mixed"');
  }
  const count = b.count === undefined ? 1 : jsonInt(b.count, 1, 1000);
  if (count === undefined) throw new BadRequestError("count must be an integer from 1 to 1000");
  const intervalMs = b.interval_ms === undefined ? 100 : jsonInt(b.interval_ms, 0, 10_000);
  if (intervalMs === undefined) {
    throw new BadRequestError("interval_ms must be an integer from 0 to 10000");
  }
  return { target, plan: { kind, count, intervalMs } };
}

/** The simulate-migration route. */
export function simulate(deps: SimulateDeps): Hono<AppEnv> {
  const maxBody = deps.maxJsonBodyBytes ?? DEFAULT_LIMITS.maxJsonBodyBytes;
  return new Hono<AppEnv>().post("/api/simulate-migration", async (c) => {
    // Everything that needs no body comes before reading it: the declared size, a presented
    // token that is wrong, and a lab that is off. Only then is the body read, and only up to a
    // JSON-sized limit (the listeners' own limit is for uploads).
    refuseDeclaredOverLimit(c.req.raw, maxBody);
    const authorization = c.req.header("authorization");
    const admin = hasAdminToken(authorization, deps.adminToken);
    const labUrl = deps.labUrl?.() ?? "";
    const early = authorization !== undefined && !admin
      ? forbidden(c, "the admin token is wrong")
      : deps.lab?.() === undefined
      ? c.json({
        error: "not_on_lab_path",
        detail: "the migration lab is off on this server",
        lab_url: labUrl,
      }, 409)
      : undefined;
    if (early !== undefined) {
      discardBody(c.req.raw);
      return early;
    }
    let parsed: { target: string; plan: MigrationPlan };
    try {
      parsed = parsePlan(await readJsonBody(c.req.raw, maxBody));
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error; // 413 and 400 as typed errors
      return c.json({ error: "bad_request", detail: error.message }, 400);
    }
    const own = c.env.connection;
    const isSelf = parsed.target === "self" || parsed.target === own.id;
    // Without the token, any other id is refused before it is looked up: whether it exists is
    // not this caller's business (no existence oracle).
    if (!isSelf && !admin) {
      return forbidden(
        c,
        'moving another connection needs "Authorization: Bearer <admin token>"; "self" needs none',
      );
    }
    const conn = isSelf ? own : deps.tracker.get(parsed.target);
    if (conn === undefined) {
      return c.json(
        {
          error: "not_found",
          detail: `no connection with id ${JSON.stringify(excerpt(parsed.target))}`,
        },
        404,
      );
    }
    const lab = deps.lab?.();
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
        // Stopped early is still a report: the rebindings made are facts, not an error.
        status: record.stopped === null ? "done" : "stopped",
        ...(record.stopped === null ? {} : { detail: record.stopped }),
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
