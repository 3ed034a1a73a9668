/**
 * The HTTP/1.1 request head, parsed from bytes (RFC 9112 §2–§7): the request line, the field
 * lines, and what framing and connection handling follow from them. Sans-IO: bytes in, a head,
 * "need more" or a reason to refuse (400, or 431 past the size limit) out.
 *
 * Strict where leniency would let two parsers disagree about where a message ends (request
 * smuggling): a `Content-Length` that is not digits or that conflicts with another, any
 * `Transfer-Encoding` other than a lone `chunked`, both framings at once, obsolete line folding
 * and control characters in a field are all refused.
 *
 * ```ts
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * parseHead(bytes, 0, bytes.length, 8192); // { kind: "head", size: 27, head: { method, … } }
 * ```
 * @module
 */

import { sameBytes } from "../bytes.ts";

/** A parsed request head; never changed once made (a repeated head reuses it). */
export interface H1Head {
  readonly method: string;
  /** The request target as sent (origin-form or absolute-form). */
  readonly target: string;
  /** Regular fields, `[lowercase name, value]` in arrival order. */
  readonly fields: [string, string][];
  /** The `Host` field, when there was one. */
  readonly host: string | undefined;
  /** The declared body length, or -1 when none was declared. */
  readonly contentLength: number;
  /** Whether the body is chunked. */
  readonly chunked: boolean;
  /** HTTP/1.1 (else 1.0, which knows no chunked coding: a body of unknown length ends with the
   * connection). */
  readonly http11: boolean;
  /** Whether the client lets the connection stay open after this exchange. */
  readonly keepAlive: boolean;
  /** Whether the client waits for `100 Continue` before it sends the body. */
  readonly expectContinue: boolean;
  /** An `Expect` value other than `100-continue` (answered 417), or undefined. */
  readonly otherExpectation: string | undefined;
}

/** What {@link parseHead} found. */
export type HeadParse =
  | { kind: "incomplete" }
  | { kind: "head"; head: H1Head; /** bytes the head took, its blank line included */ size: number }
  | { kind: "error"; status: 400 | 431; detail: string };

const CR = 0x0d;
const LF = 0x0a;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^ ]+) HTTP\/1\.([01])$/;
/** Characters a field value may not hold: controls other than HTAB, and DEL. */
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const INCOMPLETE: HeadParse = { kind: "incomplete" };

/** The last head parsed on a connection: its bytes and what they parsed to. */
export interface LastHead {
  bytes: Uint8Array;
  head: H1Head;
}

/**
 * Parses the head at `bytes[start, end)`. A head whose end is not in sight within
 * `maxHeadBytes` is refused with 431; so is a complete one larger than that.
 *
 * With `last` (one per connection), a head byte for byte the same as the last one is not parsed
 * again: its result is reused (an `H1Head` is never changed after it is made), and `last` is
 * updated when the head differs. Clients repeat their heads (a poll, a health check, a load
 * generator), and the parse is most of what reading a small request costs.
 */
export function parseHead(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxHeadBytes: number,
  last?: { value?: LastHead },
): HeadParse {
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  let from = start;
  while (from + 1 < end && bytes[from] === CR && bytes[from + 1] === LF) from += 2;
  const blank = findBlankLine(bytes, from, end);
  if (blank < 0) {
    return end - from > maxHeadBytes ? tooLarge() : INCOMPLETE;
  }
  if (blank - from > maxHeadBytes) return tooLarge();
  const previous = last?.value;
  if (previous !== undefined && sameBytes(previous.bytes, bytes, from, blank)) {
    return { kind: "head", head: previous.head, size: blank + 4 - start };
  }
  const result = parseLines(latin1(bytes, from, blank));
  if (typeof result === "string") return { kind: "error", status: 400, detail: result };
  if (last !== undefined) last.value = { bytes: bytes.slice(from, blank), head: result };
  return { kind: "head", head: result, size: blank + 4 - start };
}

function tooLarge(): HeadParse {
  return { kind: "error", status: 431, detail: "the request head exceeds the limit" };
}

/** Where `\r\n\r\n` begins in `bytes[from, end)`, or -1. */
function findBlankLine(bytes: Uint8Array, from: number, end: number): number {
  for (let i = bytes.indexOf(CR, from); i >= 0 && i + 3 < end; i = bytes.indexOf(CR, i + 1)) {
    if (bytes[i + 1] === LF && bytes[i + 2] === CR && bytes[i + 3] === LF) return i;
  }
  return -1;
}

/**
 * The WHATWG "latin1" decoder, which is windows-1252: it differs from Latin-1 only for bytes
 * 0x80–0x9F, which then decode to characters above U+00FF (checked for below).
 */
const windows1252 = new TextDecoder("latin1");
const ABOVE_LATIN1 = /[\u0100-\uffff]/;

/** Bytes as Latin-1 text (each byte one UTF-16 unit), as HTTP field values are read. */
function latin1(bytes: Uint8Array, from: number, to: number): string {
  // The native decoder is right for every head without bytes 0x80–0x9F (nearly all of them).
  const fast = windows1252.decode(bytes.subarray(from, to));
  if (!ABOVE_LATIN1.test(fast)) return fast;
  let text = "";
  // In slices: a spread of a whole large head could exceed the engine's argument limit.
  for (let at = from; at < to; at += 8192) {
    text += String.fromCharCode(...bytes.subarray(at, Math.min(to, at + 8192)));
  }
  return text;
}

/** The head's lines into an {@link H1Head}, or why they do not make one. */
function parseLines(text: string): H1Head | string {
  const lines = text.split("\r\n");
  const line = REQUEST_LINE.exec(lines[0]);
  if (line === null) return "malformed HTTP/1.1 request line";
  const http11 = line[3] === "1";
  const fields: [string, string][] = [];
  let host: string | undefined;
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connection = "";
  let expect = "";
  for (let i = 1; i < lines.length; i++) {
    const field = lines[i];
    const colon = field.indexOf(":");
    if (colon <= 0) return "malformed header field line";
    const name = field.slice(0, colon);
    if (!TOKEN.test(name)) return "malformed header field name";
    const value = field.slice(colon + 1).trim();
    if (BAD_VALUE.test(value)) return `invalid character in header field ${name}`;
    const lower = name.toLowerCase();
    fields.push([lower, value]);
    switch (lower) {
      case "host":
        if (host !== undefined) return "more than one Host field";
        host = value;
        break;
      case "content-length": {
        if (!/^[0-9]{1,15}$/.test(value)) return "invalid Content-Length";
        const length = Number(value);
        if (contentLength !== -1 && contentLength !== length) return "conflicting Content-Length";
        contentLength = length;
        break;
      }
      case "transfer-encoding":
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case "connection":
        connection += `,${value.toLowerCase()}`;
        break;
      case "expect":
        expect = value.toLowerCase();
        break;
    }
  }
  if (transferEncoding !== undefined) {
    if (!http11 || transferEncoding.toLowerCase() !== "chunked") {
      return "unsupported Transfer-Encoding";
    }
    if (contentLength !== -1) return "both Content-Length and Transfer-Encoding";
  }
  const tokens = connection.split(",").map((t) => t.trim());
  return {
    method: line[1],
    target: line[2],
    fields,
    host,
    contentLength,
    chunked: transferEncoding !== undefined,
    http11,
    keepAlive: http11 ? !tokens.includes("close") : tokens.includes("keep-alive"),
    expectContinue: http11 && expect === "100-continue",
    otherExpectation: expect !== "" && expect !== "100-continue" ? expect : undefined,
  };
}
