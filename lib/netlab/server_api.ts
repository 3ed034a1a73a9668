/**
 * What the server under test observed: its `GET /api/connections` over HTTPS from this machine,
 * trusting `--ca` (or the development CA the server wrote), with the admin token when there is
 * one, narrowed to the connections that came from the lab's NATs during this run.
 * @module
 */

import { ConfigError } from "../cli/server_config.ts";
import type { ConnectionInfo } from "../tracker/types.ts";
import { hostOf } from "./conntrack.ts";
import { delay } from "./delay.ts";

/** How netlab reaches the server's API. */
export interface ServerApi {
  /** The server's base URL (`https://localhost:9443/`). */
  server: URL;
  /** PEM certificates to trust, or undefined for the system's roots. */
  caCerts?: string[];
  /** Where {@link caCerts} came from, for the log. */
  caSource: string;
  adminToken?: string;
}

/** The most pages of connections read (1,000 each). */
const MAX_PAGES = 100;
/** Between two looks at still-pending migrations. */
const SETTLE_POLL_MS = 100;

/**
 * Builds the API access from the options: `--ca` (or `<data-dir>/certs/ca.pem` if present) and
 * the admin token (option or env, else `<data-dir>/admin-token` if present).
 * @throws {ConfigError} if `--ca` cannot be read or holds no certificate.
 */
export async function serverApi(options: {
  server: URL;
  caPath?: string;
  dataDir: string;
  adminToken?: string;
}): Promise<ServerApi> {
  const api: ServerApi = { server: options.server, caSource: "the system's root certificates" };
  if (options.caPath !== undefined) {
    const pem = await Deno.readTextFile(options.caPath).catch((error) => {
      throw new ConfigError(
        `--ca: cannot read ${JSON.stringify(options.caPath)}: ${error.message}`,
      );
    });
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new ConfigError(`--ca: ${JSON.stringify(options.caPath)} holds no PEM certificate`);
    }
    api.caCerts = [pem];
    api.caSource = options.caPath;
  } else {
    const path = `${options.dataDir}/certs/ca.pem`;
    const pem = await Deno.readTextFile(path).catch(() => undefined);
    if (pem !== undefined) {
      api.caCerts = [pem];
      api.caSource = path;
    }
  }
  api.adminToken = options.adminToken ??
    ((await Deno.readTextFile(`${options.dataDir}/admin-token`).catch(() => "")).trim() ||
      undefined);
  return api;
}

/**
 * The connections the server saw from `publicIps` that started at or after `sinceMs`, once
 * none of their migrations is pending any more (or `settleMs` has passed).
 * @throws {Error} with one line when the API cannot be read or shows only netlab's own
 * connection.
 */
export async function observedConnections(
  api: ServerApi,
  publicIps: readonly string[],
  sinceMs: number,
  settleMs: number,
): Promise<ConnectionInfo[]> {
  const deadline = Date.now() + settleMs;
  const client = Deno.createHttpClient(api.caCerts ? { caCerts: api.caCerts } : {});
  try {
    for (;;) {
      const mine = (await listAll(api, client)).filter((conn) =>
        Date.parse(conn.start_time) >= sinceMs && fromLab(conn, publicIps)
      );
      const pending = mine.some((conn) =>
        conn.migration_events.some((event) => event.outcome === "pending")
      );
      if (!pending || Date.now() >= deadline) return mine;
      await delay(SETTLE_POLL_MS);
    }
  } finally {
    client.close();
  }
}

function fromLab(conn: ConnectionInfo, publicIps: readonly string[]): boolean {
  const addrs = [
    conn.remote_addr,
    ...conn.migration_events.flatMap((e) => [e.old_addr, e.new_addr]),
  ];
  return addrs.some((addr) => publicIps.includes(hostOf(addr)));
}

async function listAll(api: ServerApi, client: Deno.HttpClient): Promise<ConnectionInfo[]> {
  const all: ConnectionInfo[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = new URL("/api/connections", api.server);
    url.searchParams.set("limit", "1000");
    url.searchParams.set("state", "all");
    if (cursor !== null) url.searchParams.set("cursor", cursor);
    let response: Response;
    try {
      response = await fetch(url, {
        client,
        headers: api.adminToken ? { authorization: `Bearer ${api.adminToken}` } : {},
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new Error(
        `cannot reach the server's API at ${url.origin} (trusting ${api.caSource}): ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    const body = await response.json().catch(() => undefined);
    if (!response.ok || body === undefined) {
      throw new Error(
        `${url.pathname}: HTTP ${response.status}${body?.detail ? `: ${body.detail}` : ""}`,
      );
    }
    if (body.scope === "own") {
      throw new Error(
        "the server shows netlab only its own connection: give --admin-token (or QUIC_ADMIN_TOKEN)",
      );
    }
    all.push(...Object.values(body.connections as Record<string, ConnectionInfo>));
    cursor = body.next_cursor === null || body.next_cursor === undefined
      ? null
      : String(body.next_cursor);
    if (cursor === null) break;
  }
  return all;
}
