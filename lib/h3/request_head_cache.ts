/**
 * One connection's last decoded request head, reused when the next request's encoded field
 * section is the very same bytes.
 *
 * A client sends the same header section again and again on one connection (same method,
 * authority, path and fields): an API poller, a benchmark, a browser's repeated fetch. This
 * server's QPACK decoder uses no dynamic table (its SETTINGS allow none), so a field section's
 * meaning depends on its bytes alone: equal bytes decode to equal fields and pass or fail the
 * same checks. Comparing a few dozen bytes is far cheaper than Huffman-decoding, validating and
 * building the head again. Only a section that decoded and validated is kept, and only a short
 * one (a copy of it is held), so the cache can neither hide an error nor hold much memory.
 *
 * ```ts
 * const cache = new RequestHeadCache();
 * const head = cache.headFor(block, (b) => parseRequestHead(decodeFieldSection(b, max)));
 * ```
 * @module
 */

import type { RequestHead } from "./message.ts";
import { sameBytes } from "../bytes.ts";

/** Longest field section kept; longer ones are decoded every time. */
const MAX_CACHED_SECTION = 512;

/** The last request head of a connection, keyed by its encoded bytes. */
export class RequestHeadCache {
  #bytes: Uint8Array | undefined;
  #head: Readonly<RequestHead> | undefined;
  /** Heads served from the cache (for tests). */
  hits = 0;

  /**
   * The head `block` encodes: the cached one when `block` repeats the last section kept, or
   * `decode(block)` (which may throw; nothing is kept then). The head returned is shared by
   * every request with the same bytes: callers must not change it.
   */
  headFor(
    block: Uint8Array,
    decode: (block: Uint8Array) => RequestHead,
  ): Readonly<RequestHead> {
    const kept = this.#bytes;
    if (kept !== undefined && sameBytes(kept, block)) {
      this.hits++;
      return this.#head!;
    }
    const head = decode(block);
    if (block.length <= MAX_CACHED_SECTION) {
      // A copy: `block` lives in a read buffer that the next request reuses.
      this.#bytes = block.slice();
      this.#head = head;
    }
    return head;
  }
}
