/**
 * A decoder for HTTP/1.1's chunked transfer coding (RFC 9112 §7.1) on request bodies. Sans-IO:
 * it is handed the bytes buffered so far and says how many it used, which data they carried and
 * whether the body is complete; extensions are skipped and trailer fields dropped. A size line
 * or trailer section past a bound, or anything that is not the grammar, is an error (the
 * connection cannot be framed after it).
 *
 * ```ts
 * const decoder = new ChunkedDecoder(8192);
 * const bytes = new TextEncoder().encode("5\r\nhello\r\n0\r\n\r\n");
 * decoder.decode(bytes, 0, bytes.length); // { used: 15, data: [hello], done: true }
 * ```
 * @module
 */

/** What one {@link ChunkedDecoder.decode} call found. */
export interface ChunkedStep {
  /** Bytes of the input consumed. */
  used: number;
  /** Body data, as views into the input (copy before the input is reused). */
  data: Uint8Array[];
  /** True once the last chunk and the trailer section are through. */
  done: boolean;
}

/** Thrown when a chunked body is malformed. */
export class ChunkedError extends Error {}

const CR = 0x0d;
const LF = 0x0a;
/** Longest chunk-size line (size and extensions) accepted. */
const MAX_SIZE_LINE = 1024;

/** The decoder's position in the coding. */
type State = "size" | "data" | "data-end" | "trailer" | "done";

/** Decodes one chunked body; feed it with what arrives until it says done. */
export class ChunkedDecoder {
  #state: State = "size";
  /** Data bytes left in the current chunk. */
  #left = 0;
  /** Trailer bytes seen so far. */
  #trailerBytes = 0;

  /** @param maxTrailerBytes the largest trailer section accepted */
  constructor(readonly maxTrailerBytes: number) {}

  /** Whether the whole body has been decoded. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Decodes what it can of `bytes[start, end)`. */
  decode(bytes: Uint8Array, start: number, end: number): ChunkedStep {
    const data: Uint8Array[] = [];
    let at = start;
    // Each pass consumes input or returns, so the input's length bounds the loop.
    while (at < end && this.#state !== "done") {
      if (this.#state === "data") {
        const take = Math.min(this.#left, end - at);
        data.push(bytes.subarray(at, at + take));
        at += take;
        this.#left -= take;
        if (this.#left === 0) this.#state = "data-end";
        continue;
      }
      const lineEnd = lineEndIn(bytes, at, end);
      if (lineEnd < 0) {
        if (end - at > MAX_SIZE_LINE) throw new ChunkedError("chunk line too long");
        break;
      }
      const line = bytes.subarray(at, lineEnd);
      at = lineEnd + 2;
      if (this.#state === "data-end") {
        if (line.length !== 0) throw new ChunkedError("chunk data longer than its size");
        this.#state = "size";
      } else if (this.#state === "size") {
        const size = chunkSize(line);
        if (size === 0) this.#state = "trailer";
        else {
          this.#left = size;
          this.#state = "data";
        }
      } else {
        this.#trailerBytes += line.length + 2;
        if (this.#trailerBytes > this.maxTrailerBytes) throw new ChunkedError("trailer too large");
        if (line.length === 0) this.#state = "done";
      }
    }
    return { used: at - start, data, done: this.#state === "done" };
  }
}

/** Where the CRLF that ends the line at `from` begins, or -1 when it has not arrived. */
function lineEndIn(bytes: Uint8Array, from: number, end: number): number {
  const cr = bytes.indexOf(CR, from);
  if (cr < 0 || cr + 1 >= end) return -1;
  if (bytes[cr + 1] !== LF) throw new ChunkedError("bare CR in chunked body");
  return cr;
}

/** A chunk-size line's size (hex digits, then optional `;extensions`). */
function chunkSize(line: Uint8Array): number {
  let size = 0;
  let digits = 0;
  for (; digits < line.length; digits++) {
    const c = line[digits];
    const value = c >= 0x30 && c <= 0x39
      ? c - 0x30
      : c >= 0x61 && c <= 0x66
      ? c - 0x57
      : c >= 0x41 && c <= 0x46
      ? c - 0x37
      : -1;
    if (value < 0) break;
    size = size * 16 + value;
  }
  if (digits === 0 || digits > 12) throw new ChunkedError("invalid chunk size");
  const rest = line[digits];
  if (rest !== undefined && rest !== 0x3b && rest !== 0x20 && rest !== 0x09) {
    throw new ChunkedError("invalid chunk size");
  }
  return size;
}
