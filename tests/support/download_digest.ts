/**
 * The SHA-256 a client expects for `GET /api/download?bytes=N`, recomputed from the published
 * formula (`lib/download.ts`), for checking transfers whose digest the server does not send
 * ahead (over TCP, or larger than the header digest).
 * @module
 */

import { createHash } from "node:crypto";
import { DOWNLOAD_CHUNK, fillDownloadChunk } from "../../lib/download.ts";

/** The hex SHA-256 of the first `total` download bytes. */
export function expectedDownloadSha256(total: number): string {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(DOWNLOAD_CHUNK);
  for (let offset = 0; offset < total; offset += DOWNLOAD_CHUNK) {
    const n = Math.min(DOWNLOAD_CHUNK, total - offset);
    fillDownloadChunk(chunk.subarray(0, n), offset);
    hash.update(chunk.subarray(0, n));
  }
  return hash.digest("hex");
}
