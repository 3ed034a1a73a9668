/**
 * The deterministic bytes `/api/download` streams, and their SHA-256, so a client can check a
 * transfer that was migrated mid-way. Byte `i` is `((i mod 65536) * 31 + floor(i / 65536)) mod
 * 256`: anyone can recompute it, and consecutive 64 KiB blocks differ.
 * @module
 */

import { createHash } from "node:crypto";

/** Bytes per generated chunk. */
export const DOWNLOAD_CHUNK = 64 * 1024;

/** The byte at `offset`. */
export function downloadByte(offset: number): number {
  return (((offset & 0xffff) * 31) + Math.floor(offset / 65536)) & 0xff;
}

const BASE = (() => {
  const chunk = new Uint8Array(DOWNLOAD_CHUNK);
  for (let i = 0; i < DOWNLOAD_CHUNK; i++) chunk[i] = (i * 31) & 0xff;
  return chunk;
})();

/** Fills `out` with the bytes starting at `offset`, a multiple of 64 KiB. */
export function fillDownloadChunk(out: Uint8Array, offset: number): void {
  const shift = Math.floor(offset / 65536) & 0xff;
  if (shift === 0) {
    out.set(BASE.subarray(0, out.length));
    return;
  }
  for (let i = 0; i < out.length; i++) out[i] = (BASE[i] + shift) & 0xff;
}

/** A pull-based source: the stream's flow control paces it, so memory stays flat. */
export class DownloadSource implements UnderlyingDefaultSource<Uint8Array> {
  #sent = 0;
  /** @param total bytes to produce */
  constructor(readonly total: number) {}
  /** Produces the next chunk. */
  pull(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const n = Math.min(DOWNLOAD_CHUNK, this.total - this.#sent);
    if (n <= 0) return controller.close();
    const chunk = new Uint8Array(n);
    fillDownloadChunk(chunk, this.#sent);
    this.#sent += n;
    controller.enqueue(chunk);
  }
}

const cache = new Map<number, Promise<string>>();
const CACHE_SIZES = 16;

/**
 * The hex SHA-256 of the first `total` download bytes. Computed once per size (a few kept),
 * yielding to the event loop every 4 MiB so a large first computation does not stall traffic.
 */
export function downloadSha256(total: number): Promise<string> {
  let hash = cache.get(total);
  if (hash === undefined) {
    hash = compute(total);
    cache.set(total, hash);
    if (cache.size > CACHE_SIZES) cache.delete(cache.keys().next().value!);
  }
  return hash;
}

async function compute(total: number): Promise<string> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(DOWNLOAD_CHUNK);
  for (let offset = 0; offset < total; offset += DOWNLOAD_CHUNK) {
    const n = Math.min(DOWNLOAD_CHUNK, total - offset);
    fillDownloadChunk(chunk.subarray(0, n), offset);
    hash.update(chunk.subarray(0, n));
    if (offset % (64 * DOWNLOAD_CHUNK) === 0 && offset > 0) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return hash.digest("hex");
}
