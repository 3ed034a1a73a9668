/**
 * ngtcp2's `gtlsclient` (Debian `ngtcp2-client`) as the HTTP/3 load client: its command line
 * for N GETs on one connection, and a small checked run proving a server answers as expected
 * before it is timed.
 * @module
 */

import { parseGtlsResponses } from "./client_output.ts";
import { capture } from "./process.ts";

/** gtlsclient sending `requests` GETs of `path` on one connection (`quiet`: no output). */
export function gtlsCommand(
  port: number,
  requests: number,
  quiet: boolean,
  path = "/healthz",
): string[] {
  return [
    "gtlsclient",
    ...(quiet ? ["-q"] : []),
    "--exit-on-all-streams-close",
    "-n",
    String(requests),
    `--max-streams-bidi=${requests}`,
    "127.0.0.1",
    String(port),
    `https://localhost:${port}${path}`,
  ];
}

/**
 * A small non-quiet run of GETs of `path`: every response must be `:status: 200` and carry
 * `body` (a substring of the body). Returns the first response's fields, or an error.
 */
export async function checkResponses(
  port: number,
  path: string,
  body: string,
): Promise<{ fields: string[]; error?: string }> {
  const n = 3;
  const out = await capture(gtlsCommand(port, n, false, path), {}, 30_000);
  const text = out.stdout + out.stderr;
  const { statuses, firstFields } = parseGtlsResponses(text);
  const ok = statuses.filter((s) => s === "200").length;
  const bodies = text.split(body).length - 1;
  if (out.code !== 0 || ok !== n || statuses.length !== n || bodies < n) {
    return {
      fields: firstFields,
      error: `check run of ${path} on port ${port}: exit ${out.code}, ${ok}/${n} ` +
        `":status: 200" (${statuses.length} statuses), ${bodies}/${n} bodies with ${body}`,
    };
  }
  return { fields: firstFields };
}
