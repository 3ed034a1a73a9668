/**
 * The dashboard's calls to the server's JSON API (the same shapes `curl` sees). Every call has
 * a time limit, so a stalled request shows up as a failure instead of hanging the page.
 * @module
 */

const TIMEOUT_MS = 8000;
/** Pages of `/api/connections` read per listing (1,000 connections each). */
const MAX_PAGES = 10;

/** An API answer that was not 2xx. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * GETs `path` and parses its JSON body.
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function getJson(path) {
  const res = await fetch(path, {
    cache: "no-store",
    headers: { accept: "application/json" },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.detail ?? `${path}: HTTP ${res.status}`);
  return body;
}

/**
 * POSTs JSON to `path`; resolves with the status and parsed body, whatever the status.
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<{status: number, body: any}>}
 */
export async function postJson(path, body) {
  const res = await fetch(path, {
    method: "POST",
    cache: "no-store",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * Every connection matching `filter`, following `next_cursor` for up to 10 pages of 1,000.
 * @param {{state?: string, protocol?: string, migrated?: boolean}} filter
 * `localOnly` is true when a cluster node answered from its own connections alone (its cluster
 * store was unreachable).
 * @returns {Promise<{connections: any[], summary: any, truncated: boolean, localOnly: boolean}>}
 */
export async function listConnections(filter) {
  const query = new URLSearchParams({ state: filter.state ?? "all", limit: "1000" });
  if (filter.protocol) query.set("protocol", filter.protocol);
  if (filter.migrated) query.set("migrated", "true");
  const connections = [];
  let summary = null;
  let localOnly = false;
  for (let page = 0; page < MAX_PAGES; page++) {
    const body = await getJson(`/api/connections?${query}`);
    connections.push(...Object.values(body.connections ?? {}));
    summary = body.summary ?? summary;
    localOnly ||= typeof body.source === "string" && body.source.startsWith("local");
    if (body.next_cursor === null || body.next_cursor === undefined) {
      return { connections, summary, truncated: false, localOnly };
    }
    query.set("cursor", String(body.next_cursor));
  }
  return { connections, summary, truncated: true, localOnly };
}
