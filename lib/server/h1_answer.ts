/**
 * HTTP/1.1 response heads as bytes on the wire (RFC 9112 §4–§6): the status line, the app's
 * fields less the connection-specific ones this server owns, `Alt-Svc`, `Date`, and the framing
 * and connection fields. Sans-IO: values in, text or bytes out; the `Date` value is cached per
 * second.
 *
 * ```ts
 * responseHead(200, ["content-type", "text/plain", "content-length", "2"], {
 *   altSvc: 'h3=":9443"', close: false, chunked: false,
 * }); // "HTTP/1.1 200 OK\r\nalt-svc: …\r\ndate: …\r\ncontent-type: text/plain\r\n…\r\n\r\n"
 * ```
 * @module
 */

import { STATUS_CODES } from "node:http";

const encoder = new TextEncoder();

/** How the head frames what follows. */
export interface HeadFraming {
  /** The `Alt-Svc` value every answer carries. */
  readonly altSvc: string;
  /** Adds `connection: close`. */
  readonly close: boolean;
  /** Adds `transfer-encoding: chunked` (the body is then sent in chunks). */
  readonly chunked: boolean;
}

/** Fields the server sets itself: the app's are dropped (RFC 9112 §9.6, §6.1). */
const OWN_FIELDS = new Set(["connection", "keep-alive", "transfer-encoding", "date", "alt-svc"]);

/** Whether `name` (lowercase) is a field this server sets itself, dropped from the app's. */
export function isOwnField(name: string): boolean {
  return OWN_FIELDS.has(name);
}

let dateSecond = -1;
let dateValue = "";

/** The `Date` field's value now (IMF-fixdate), recomputed at most once a second. */
export function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

/** The status line's reason phrase for `status`. */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? "Unknown";
}

/**
 * The head of an answer with `status` and `fields` (flat lowercase `name, value` pairs), ending
 * in its blank line. An `alt-svc` among `fields` replaces the listener's.
 */
export function responseHead(status: number, fields: readonly string[], framing: HeadFraming) {
  let altSvc = framing.altSvc;
  let head = "";
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (OWN_FIELDS.has(name)) {
      if (name === "alt-svc") altSvc = fields[i + 1];
      continue;
    }
    head += `${name}: ${fields[i + 1]}\r\n`;
  }
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nalt-svc: ${altSvc}\r\n` +
    `date: ${httpDate()}\r\n${head}` +
    (framing.chunked ? "transfer-encoding: chunked\r\n" : "") +
    (framing.close ? "connection: close\r\n\r\n" : "\r\n");
}

/** `Headers` as flat `name, value` pairs (each `set-cookie` its own pair, as it must be). */
export function flatFields(headers: Headers): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) out.push(name, value);
  return out;
}

/**
 * `head` as Latin-1 bytes (how HTTP/1.1 field values go on the wire; a `Headers` value is never
 * above U+00FF) followed by `body`, in one array: one allocation and one write for a small
 * answer, without a `TextEncoder` round trip through the runtime.
 */
export function answerBytes(head: string, body?: Uint8Array): Uint8Array {
  const out = answerBuffer(head.length + (body?.length ?? 0));
  // ASCII (nearly every head) is the same in UTF-8 and fits exactly; any other character takes
  // two UTF-8 bytes, so the head does not fit in its own bytes (the body's room is not offered,
  // or a head one character past ASCII would fit there, mangled), and is written byte by byte.
  if (encoder.encodeInto(head, out.subarray(0, head.length)).read !== head.length) {
    for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
  }
  if (body !== undefined) out.set(body, head.length);
  return out;
}

/**
 * Slabs answers are cut from, and answers larger than this get their own array. Each backing
 * store made costs about the same whatever its size (the profile showed a slab of a few answers'
 * size costing nearly what an array per answer did), so slabs are large. A slab outlives its
 * answers only while one of them waits in a socket's queue: a small answer leaves at once unless
 * the client has stopped reading, and then the send timeout ends its connection.
 */
const SLAB_BYTES = 64 * 1024;
const OWN_ARRAY_ABOVE = 2 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * `size` bytes for an answer about to be written. A small one is a view into a shared slab:
 * a new `Uint8Array` has its own backing store, which costs more to make and collect than the
 * head's encoding. A view is handed out once and the slab never reused under it, so it stays
 * valid for as long as a write holds it; a slab lives as long as one of its views does.
 */
export function answerBuffer(size: number): Uint8Array {
  if (size > OWN_ARRAY_ABOVE) return new Uint8Array(size);
  if (slabUsed + size > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return out;
}
