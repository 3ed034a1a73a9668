/**
 * `POST /api/echo`: streams the request body back as octet-stream, so a client can check a large
 * upload end to end. `GET /api/download?bytes=N` streams N deterministic bytes (default 10 MiB,
 * at most 1 GiB) without holding them in memory, with their SHA-256 in `x-content-sha256`
 * (hex) and `repr-digest` (RFC 9530), so a transfer migrated mid-way can be checked.
 * @module
 */

import { Hono } from "hono";
import { downloadSha256, DownloadSource } from "../lib/download.ts";
import type { AppEnv } from "../lib/connection_env.ts";

const MAX_DOWNLOAD = 1024 * 1024 * 1024;

function hexToBase64(hex: string): string {
  let binary = "";
  for (let i = 0; i < hex.length; i += 2) {
    binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  }
  return btoa(binary);
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
  .get("/api/download", async (c) => {
    const raw = c.req.query("bytes") ?? String(10 * 1024 * 1024);
    const bytes = Number(raw);
    if (!/^[0-9]+$/.test(raw) || bytes > MAX_DOWNLOAD) {
      return c.json({
        error: "bad_request",
        detail: `bytes must be an integer from 0 to ${MAX_DOWNLOAD}`,
      }, 400);
    }
    const sha = await downloadSha256(bytes);
    return c.body(new ReadableStream(new DownloadSource(bytes), { highWaterMark: 0 }), 200, {
      "content-type": "application/octet-stream",
      "content-length": String(bytes),
      "x-content-sha256": sha,
      "repr-digest": `sha-256=:${hexToBase64(sha)}:`,
    });
  });
