/**
 * `POST /api/echo`: streams the request body back unchanged, as `application/octet-stream` (never
 * the request's own type, so it cannot be served as a page), so a client can check a large upload
 * end to end.
 *
 * `GET /api/download?bytes=N` streams N deterministic bytes (default 10 MiB, at most 1 GiB; see
 * `lib/download.ts` for the formula) without holding them in memory. The headers leave at once
 * at any size, and the server's work is bounded by what it sends: bytes are made only as the
 * transport takes them, and making stops when the client goes away. The SHA-256 of the bytes,
 * hex in `x-content-sha256` and RFC 9530 `repr-digest`, comes
 * - in the headers for N up to 1 MiB (hashing that much costs less than sending it);
 * - as HTTP trailers for larger N over HTTP/3 when the request says `te: trailers`, computed
 *   chunk by chunk as the bytes are sent (the response announces them with `trailer`);
 * - not at all otherwise: a larger digest before the first byte would make every client wait
 *   (a 1 GiB hash takes seconds, and quiet clients time out), and would let a client make the
 *   server hash bytes it never sends. The bytes can be recomputed from the formula instead.
 *
 * `HEAD` answers the same status, type and length and does no work: no digest (RFC 9110 §9.3.2
 * lets a HEAD omit fields known only while generating the content).
 * @module
 */

import { Hono } from "hono";
import {
  DIGEST_IN_HEADERS_MAX,
  DownloadSource,
  hexToBase64,
  smallDownloadSha256,
} from "../lib/download.ts";
import { setTrailers } from "../lib/response_trailers.ts";
import type { AppEnv } from "../lib/connection_env.ts";

const MAX_DOWNLOAD = 1024 * 1024 * 1024;

function digestFields(hex: string): [string, string][] {
  return [["x-content-sha256", hex], ["repr-digest", `sha-256=:${hexToBase64(hex)}:`]];
}

/** The echo and download routes. */
export const echo = new Hono<AppEnv>()
  .post("/api/echo", (c) => {
    // Always bytes, whatever the request said it was: echoing the request's own type would let
    // a page post HTML with a script and have this origin serve it back.
    return new Response(c.req.raw.body, {
      headers: { "content-type": "application/octet-stream" },
    });
  })
  .get("/api/download", (c) => {
    const raw = c.req.query("bytes") ?? String(10 * 1024 * 1024);
    const bytes = Number(raw);
    if (!/^[0-9]+$/.test(raw) || bytes > MAX_DOWNLOAD) {
      return c.json({
        error: "bad_request",
        detail: `bytes must be an integer from 0 to ${MAX_DOWNLOAD}`,
      }, 400);
    }
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(bytes),
    };
    if (c.req.method === "HEAD") return c.body(null, 200, headers);
    if (bytes <= DIGEST_IN_HEADERS_MAX) {
      for (const [name, value] of digestFields(smallDownloadSha256(bytes))) headers[name] = value;
      return c.body(
        new ReadableStream(new DownloadSource(bytes), { highWaterMark: 0 }),
        200,
        headers,
      );
    }
    // Only our HTTP/3 writer sends trailers (HTTP/1.1 would need chunked coding instead of the
    // declared length), and only a client that says it takes them is worth the hashing.
    const trailers = c.env.connection.protocol === "h3" &&
      (c.req.header("te") ?? "").toLowerCase().includes("trailers");
    const source = new DownloadSource(bytes, { hash: trailers });
    const body = new ReadableStream(source, { highWaterMark: 0 });
    if (trailers) {
      headers.trailer = "x-content-sha256, repr-digest";
      setTrailers(body, () => source.digestHex === undefined ? [] : digestFields(source.digestHex));
    }
    return c.body(body, 200, headers);
  });
