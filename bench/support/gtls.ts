/**
 * ngtcp2's `gtlsclient` (Debian `ngtcp2-client`) as the HTTP/3 load client: its command line
 * for N GETs on one connection, and a small checked run proving a server answers as expected
 * before it is timed.
 * @module
 */

import { parseGtlsResponses } from "./client_output.ts";
import { capture } from "./process.ts";

/**
 * gtlsclient sending `requests` GETs of `path` on one connection (`quiet`: no output) to `host`
 * (an IP address).
 */
export function gtlsCommand(
  port: number,
  requests: number,
  quiet: boolean,
  path = "/healthz",
  host = "127.0.0.1",
): string[] {
  return [
    "gtlsclient",
    ...(quiet ? ["-q"] : []),
    "--exit-on-all-streams-close",
    "-n",
    String(requests),
    `--max-streams-bidi=${requests}`,
    host,
    String(port),
    `https://localhost:${port}${path}`,
  ];
}

/** Where a checked run goes: the server's address, and an argv prefix the client runs under. */
export interface CheckTarget {
  /** The server's IP (default 127.0.0.1). */
  host?: string;
  /** E.g. `nsenter --net=…`, to run the client in a namespace of its own. */
  enter?: string[];
}

/**
 * A small non-quiet run of GETs of `path`: every response must be `:status: 200` and carry
 * `body` (a substring of the body). Returns the first response's fields, or an error.
 */
export async function checkResponses(
  port: number,
  path: string,
  body: string,
  target: CheckTarget = {},
): Promise<{ fields: string[]; error?: string }> {
  const n = 3;
  const argv = [...(target.enter ?? []), ...gtlsCommand(port, n, false, path, target.host)];
  const out = await capture(argv, {}, 30_000);
  const text = out.stdout + out.stderr;
  const { statuses, firstFields } = parseGtlsResponses(text);
  const ok = statuses.filter((s) => s === "200").length;
  const bodies = text.split(body).length - 1;
  if (out.code !== 0 || ok !== n || statuses.length !== n || bodies < n) {
    return {
      fields: firstFields,
      error:
        `check run of ${path} on ${
          target.host ?? "127.0.0.1"
        } port ${port}: exit ${out.code}, ${ok}/${n} ` +
        `":status: 200" (${statuses.length} statuses), ${bodies}/${n} bodies with ${body}`,
    };
  }
  return { fields: firstFields };
}
