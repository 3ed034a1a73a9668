/**
 * `POST /api/echo`: streams the request body back unchanged, so a client can check a large
 * upload end to end (compare hashes). `GET /api/download?bytes=N` streams N deterministic bytes
 * (default 10 MiB, at most 1 GiB) without holding them in memory.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/server/connection_env.ts";

const MAX_DOWNLOAD = 1024 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** The byte at `offset` of every download: a simple pattern anyone can recompute. */
export function downloadByte(offset: number): number {
  return (((offset & 0xffff) * 31) + ((offset >>> 16) & 0xff)) & 0xff;
}

/** One pattern chunk per offset modulo 64 KiB, built once, reused for every download. */
const PATTERN = (() => {
  const chunk = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 31) & 0xff;
  return chunk;
})();

/** A pull-based source: the QUIC stream's flow control paces it, so memory stays flat. */
class DownloadSource implements UnderlyingDefaultSource<Uint8Array> {
  #sent = 0;
  constructor(readonly total: number) {}
  pull(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const n = Math.min(CHUNK, this.total - this.#sent);
    if (n <= 0) return controller.close();
    const chunk = new Uint8Array(n);
    chunk.set(PATTERN.subarray(0, n));
    // The high bits vary per 64 KiB block so that blocks differ.
    const block = (this.#sent >>> 16) & 0xff;
    if (block !== 0) { for (let i = 0; i < n; i++) chunk[i] = (chunk[i] + block) & 0xff; }
    this.#sent += n;
    controller.enqueue(chunk);
  }
}

/** The echo and download routes. */
export const echo = new Hono<AppEnv>()
  .post("/api/echo", (c) => {
    const type = c.req.header("content-type") ?? "application/octet-stream";
    return new Response(c.req.raw.body, { headers: { "content-type": type } });
  })
  .get("/api/download", (c) => {
    const raw = c.req.query("bytes") ?? String(10 * 1024 * 1024);
    const bytes = Number(raw);
    if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(bytes) || bytes > MAX_DOWNLOAD) {
      return c.json(
        { error: "bad_request", detail: `bytes must be an integer 0..${MAX_DOWNLOAD}` },
        400,
      );
    }
    return c.body(new ReadableStream(new DownloadSource(bytes), { highWaterMark: 0 }), 200, {
      "content-type": "application/octet-stream",
      "content-length": String(bytes),
    });
  });
