/**
 * One connection's migration check: open an HTTP/3 connection to the lab, keep requests to
 * `/api/test` flowing on it, have the lab move it `count` times, and collect what the server
 * saw. The lab moves a connection by rebinding its path, as a NAT does; a move only shows once
 * the client sends, so the connection keeps sending (requests, and QUIC keep-alives every 50 ms).
 *
 * Every loop here is bounded in count and in time, and stops by itself.
 *
 * ```ts
 * const report = newConnectionReport(0);
 * await runLabConnection({ target, caCerts, migrations: 5, kind: "mixed", intervalMs: 100 }, report);
 * ```
 * @module
 */

import { withTimeout } from "../timeout.ts";
import { H3Client } from "../h3/client.ts";
import type { LabTarget, MigrationKind } from "./options.ts";

/** One migration as the lab reported it. */
export interface MigrationResult {
  index: number;
  kind: string;
  old_addr: string;
  new_addr: string;
  detected: boolean;
  detection_delay_ms: number | null;
  outcome: string;
}

/** What happened on one connection; filled in while the check runs (the progress line reads it). */
export interface ConnectionReport {
  /** 0-based position among the concurrent connections. */
  position: number;
  /** The server-assigned connection id, once the first request answered. */
  connectionId: string | null;
  /** How the migrations were triggered. */
  mode: "admin" | "self";
  requestsOk: number;
  requestsFailed: number;
  /** Migrations the server counted on this connection so far (from `/api/test` answers). */
  migrationsSeen: number;
  migrations: MigrationResult[];
  /** Why the check could not complete, in one line. */
  error?: string;
}

/** What to do on one connection. */
export interface LabConnectionPlan {
  target: LabTarget;
  /** PEM certificates to trust; undefined means the system's roots. */
  caCerts?: string[];
  migrations: number;
  kind: MigrationKind;
  intervalMs: number;
  /** With an admin token and a control connection, migrations run as admin; else as `"self"`. */
  admin?: { token: string; control: H3Client };
}

/** Keep-alive on the migrated connection: a move shows within this many ms even between requests. */
const KEEP_ALIVE_MS = 50;
/** A connection that hears nothing for this long is gone. */
const MAX_IDLE_MS = 10_000;
/** Bound on connecting (QUIC + TLS handshake). */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Bound on one request, response body included. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Pause between traffic requests. */
const REQUEST_GAP_MS = 10;
/** Pause between polls of the connection's lab record in `"self"` mode. */
const POLL_MS = 100;
/** The lab waits up to 3 s for the server to see each move; our bound adds this per move. */
const PER_MIGRATION_BUDGET_MS = 3_000;
/** Slack on top of the migrations' budget: the self-move delay, the last answers. */
const SLACK_MS = 5_000;

/** A fresh, empty report for the connection at `position`. */
export function newConnectionReport(position: number, mode: "admin" | "self"): ConnectionReport {
  return {
    position,
    connectionId: null,
    mode,
    requestsOk: 0,
    requestsFailed: 0,
    migrationsSeen: 0,
    migrations: [],
  };
}

/** How long the migrations of one connection may take at most: N × (interval + 3 s). */
export function migrationBudgetMs(migrations: number, intervalMs: number): number {
  return migrations * (intervalMs + PER_MIGRATION_BUDGET_MS);
}

/** Opens an HTTP/3 connection to the lab, bounded by {@link CONNECT_TIMEOUT_MS}. */
export function connectToLab(
  target: LabTarget,
  caCerts: string[] | undefined,
  keepAliveInterval: number,
): Promise<H3Client> {
  const connecting = H3Client.connect({
    hostname: target.hostname,
    port: target.port,
    serverName: target.serverName,
    caCerts,
    keepAliveInterval,
    maxIdleTimeout: MAX_IDLE_MS,
  });
  return withTimeout(connecting, CONNECT_TIMEOUT_MS, "QUIC handshake");
}

/** One line saying why connecting failed, with a hint when the certificate was not trusted. */
export function connectFailure(target: LabTarget, error: unknown): string {
  const message = messageOf(error);
  const hint = /certificate|UnknownIssuer/i.test(message)
    ? " (trust the server's CA with --ca FILE, e.g. .data/certs/ca.pem)"
    : "";
  return `cannot connect to ${target.url} over HTTP/3: ${message}${hint}`;
}

/**
 * Runs the check on one new connection and fills in `report`; never throws (a failure ends up
 * in `report.error`). The connection is closed when it returns.
 */
export async function runLabConnection(
  plan: LabConnectionPlan,
  report: ConnectionReport,
): Promise<void> {
  let client: H3Client;
  try {
    client = await connectToLab(plan.target, plan.caCerts, KEEP_ALIVE_MS);
  } catch (error) {
    report.error = connectFailure(plan.target, error);
    return;
  }
  try {
    await checkConnection(client, plan, report);
  } catch (error) {
    report.error ??= messageOf(error);
  } finally {
    client.close();
    await withTimeout(client.closed, 1000, "closing").catch(() => {});
  }
}

async function checkConnection(
  client: H3Client,
  plan: LabConnectionPlan,
  report: ConnectionReport,
): Promise<void> {
  const path = (p: string) => plan.target.pathBase + p;
  const first = await getJson(client, path("/api/test"));
  if (first.status !== 200 || typeof first.body.connection_id !== "string") {
    report.requestsFailed++;
    throw new Error(`GET ${path("/api/test")} answered ${first.status}, not a connection record`);
  }
  report.requestsOk++;
  const id = first.body.connection_id;
  report.connectionId = id;

  const budgetMs = migrationBudgetMs(plan.migrations, plan.intervalMs) + SLACK_MS;
  const traffic = new TrafficLoop(client, path("/api/test"), id, report, budgetMs);
  try {
    report.migrations = plan.admin
      ? await migrateAsAdmin(plan, plan.admin, id, budgetMs, report)
      : await migrateSelf(client, plan, id, report);
    // The last move is validated by the next request on its new path: let one more complete.
    await traffic.nextSuccess(REQUEST_TIMEOUT_MS);
  } finally {
    await traffic.stop();
  }
  // Outcomes settle after detection (`pending` → `validated`); read them once more.
  const final = await getJson(client, path(`/api/connections/${id}`)).catch(() => undefined);
  const latest = final?.status === 200 ? migrationsOf(final.body) : undefined;
  if (latest !== undefined && latest.length >= report.migrations.length) {
    report.migrations = latest.slice(0, Math.max(report.migrations.length, plan.migrations));
  }
}

/** Requests to `/api/test`, one after another, until stopped, for at most `budgetMs`. */
class TrafficLoop {
  readonly #done: Promise<void>;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(
    client: H3Client,
    path: string,
    id: string,
    report: ConnectionReport,
    budgetMs: number,
  ) {
    const deadline = performance.now() + budgetMs;
    const maxRequests = Math.ceil(budgetMs / REQUEST_GAP_MS);
    this.#done = (async () => {
      for (let i = 0; i < maxRequests && !this.#stopped && performance.now() < deadline; i++) {
        try {
          const { status, body } = await getJson(client, path);
          if (status === 200 && body.connection_id === id) {
            report.requestsOk++;
            if (typeof body.migration_count === "number") {
              report.migrationsSeen = Math.max(report.migrationsSeen, body.migration_count);
            }
            this.#wake?.();
          } else report.requestsFailed++;
        } catch {
          report.requestsFailed++;
        }
        await sleep(REQUEST_GAP_MS);
      }
    })();
  }

  /** Resolves when the next request succeeds, or after `timeoutMs`. */
  async nextSuccess(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  /** Stops after the request in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

/** Asks the lab, as admin on the control connection, to move connection `id`; waits for the report. */
async function migrateAsAdmin(
  plan: LabConnectionPlan,
  admin: { token: string; control: H3Client },
  id: string,
  budgetMs: number,
  report: ConnectionReport,
): Promise<MigrationResult[]> {
  const answer = await postSimulate(admin.control, plan, id, budgetMs, admin.token);
  if (answer.status !== 200) throw new Error(refusal(answer, "the admin token was rejected"));
  const migrations = migrationsOf(answer.body, "migrations");
  if (migrations === undefined) throw new Error("the lab's answer lists no migrations");
  if (answer.body.status === "stopped") {
    // The moves that were made are still results: keep them in the table, then say why.
    report.migrations = migrations;
    throw labStopped(migrations.length, plan, String(answer.body.detail ?? "no reason given"));
  }
  return migrations;
}

/**
 * Asks the lab to move this connection (`"self"`), then polls its lab record until N moves show,
 * keeping `report.migrations` up to date.
 */
async function migrateSelf(
  client: H3Client,
  plan: LabConnectionPlan,
  id: string,
  report: ConnectionReport,
): Promise<MigrationResult[]> {
  const answer = await postSimulate(client, plan, "self", REQUEST_TIMEOUT_MS);
  if (answer.status !== 202) throw new Error(refusal(answer, "moving itself was refused"));
  const waitMs = migrationBudgetMs(plan.migrations, plan.intervalMs) + 1000;
  const deadline = performance.now() + waitMs;
  for (let i = 0; i <= Math.ceil(waitMs / POLL_MS) && performance.now() < deadline; i++) {
    await sleep(POLL_MS);
    const polled = await getJson(client, plan.target.pathBase + `/api/connections/${id}`)
      .catch(() => undefined);
    const latest = polled?.status === 200 ? migrationsOf(polled.body) : undefined;
    if (latest === undefined) continue;
    report.migrations = latest;
    report.migrationsSeen = Math.max(report.migrationsSeen, latest.length);
    if (latest.length >= plan.migrations) return latest;
    const stopped = stoppedReason(polled!.body);
    if (stopped !== undefined) throw labStopped(latest.length, plan, stopped);
  }
  throw new Error(
    `only ${report.migrations.length} of ${plan.migrations} migrations happened within ${waitMs} ms`,
  );
}

async function postSimulate(
  client: H3Client,
  plan: LabConnectionPlan,
  connectionId: string,
  timeoutMs: number,
  token?: string,
) {
  const res = client.fetch(plan.target.pathBase + "/api/simulate-migration", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      connection_id: connectionId,
      kind: plan.kind,
      count: plan.migrations,
      interval_ms: plan.intervalMs,
    }),
  });
  return await withTimeout(readJson(res), timeoutMs, "POST /api/simulate-migration");
}

/** One line saying why the lab refused: status, error, detail, and where the lab is. */
function refusal(answer: { status: number; body: Record<string, unknown> }, forbidden: string) {
  const { error, detail, lab_url: labUrl } = answer.body;
  let line = `the lab refused the migration: ${answer.status}`;
  if (typeof error === "string") line += ` ${error}`;
  if (typeof detail === "string") line += `: ${detail}`;
  if (answer.status === 403) line += ` (${forbidden})`;
  if (answer.status === 409 && typeof labUrl === "string" && labUrl !== "") {
    line += ` (the lab is at ${labUrl}; is --url the lab?)`;
  }
  return line;
}

/** The error for a plan the lab ended after `made` of its migrations, saying why. */
function labStopped(made: number, plan: LabConnectionPlan, reason: string): Error {
  return new Error(`the lab stopped after ${made} of ${plan.migrations} migrations: ${reason}`);
}

/** Why the lab ended a connection record's latest plan early, or undefined if it did not. */
function stoppedReason(body: Record<string, unknown>): string | undefined {
  const lab = body.lab;
  if (typeof lab !== "object" || lab === null) return undefined;
  const stopped = (lab as Record<string, unknown>).stopped;
  return typeof stopped === "string" ? stopped : undefined;
}

/** The migrations in a lab report or a connection record's `lab`, or undefined if absent. */
function migrationsOf(
  body: Record<string, unknown>,
  field: "migrations" | "lab" = "lab",
): MigrationResult[] | undefined {
  const holder = field === "lab" ? body.lab : body;
  if (typeof holder !== "object" || holder === null) return undefined;
  const list = (holder as Record<string, unknown>).migrations;
  if (!Array.isArray(list)) return undefined;
  return list.map((raw, index): MigrationResult => {
    const m = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    return {
      index: typeof m.index === "number" ? m.index : index,
      kind: String(m.kind ?? "?"),
      old_addr: String(m.old_addr ?? "?"),
      new_addr: String(m.new_addr ?? "?"),
      detected: m.detected === true,
      detection_delay_ms: typeof m.detection_delay_ms === "number" ? m.detection_delay_ms : null,
      outcome: String(m.outcome ?? "?"),
    };
  });
}

/** GET `path` and parse the JSON answer, bounded by {@link REQUEST_TIMEOUT_MS}. */
function getJson(client: H3Client, path: string) {
  return withTimeout(readJson(client.fetch(path)), REQUEST_TIMEOUT_MS, `GET ${path}`);
}

async function readJson(
  response: Promise<Response>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await response;
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  const record = typeof body === "object" && body !== null && !Array.isArray(body) ? body : {};
  return { status: res.status, body: record as Record<string, unknown> };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An error's message, on one line. */
export function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
}
