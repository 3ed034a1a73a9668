/**
 * HTTP semantics over decoded field sections (RFC 9114 §4.2, §4.3): turning a request's
 * field lines into a method, URL and headers, and a response's into a status and headers.
 * Pure functions: fields arrive as the flat `[name0, value0, name1, value1, …]` array the QPACK
 * decoder returns.
 *
 * ```ts
 * const head = parseRequestHead([":method", "GET", ":scheme", "https",
 *   ":authority", "localhost", ":path", "/"]);
 * head.url; // "https://localhost/"
 * ```
 * @module
 */

import { isValidAuthority } from "../authority.ts";
import { BodilessRequest } from "./bodiless_request.ts";
import { H3_MESSAGE_ERROR, H3Error } from "./errors.ts";

/** A validated request head, ready to become a Web `Request`. */
export interface RequestHead {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  /** `scheme://authority/path` */
  url: string;
  /** Regular (non-pseudo) fields as `[name, value]` pairs, in arrival order. */
  headers: [string, string][];
  /** The `content-length` field as a number, or -1 when absent. */
  contentLength: number;
}

/** A validated response head. */
export interface ResponseHead {
  status: number;
  headers: [string, string][];
  contentLength: number;
}

// RFC 9114 §4.2: connection-specific fields make a message malformed.
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

// RFC 3986 §3.1 scheme; the authority is checked by `lib/authority.ts` (finer host rules are left
// to the URL parser in `buildRequest`).
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

function malformed(detail: string): never {
  throw new H3Error(H3_MESSAGE_ERROR, "stream", detail);
}

// Field values must not contain NUL, CR or LF, nor start or end with whitespace (RFC 9114 §4.2,
// RFC 9110 §5.5). Names are already lowercase (the QPACK decoder checks), but must be tokens.
const INVALID_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;
const INVALID_NAME = /[^!#$%&'*+\-.^_`|~0-9a-z]/;

function checkRegularField(name: string, value: string): void {
  if (name.length === 0 || INVALID_NAME.test(name)) malformed(`invalid field name "${name}"`);
  if (INVALID_VALUE.test(value)) malformed(`invalid value for "${name}"`);
  if (CONNECTION_SPECIFIC.has(name)) malformed(`connection-specific field "${name}"`);
  if (name === "te" && value !== "trailers") malformed(`"te" other than "trailers"`);
}

function parseContentLength(value: string, previous: number): number {
  // A list of identical values is allowed (RFC 9110 §8.6); anything else is malformed.
  let result = -1;
  for (const part of value.split(",")) {
    const trimmed = part.trim();
    if (!/^[0-9]{1,15}$/.test(trimmed)) malformed(`invalid content-length "${value}"`);
    const n = Number(trimmed);
    if (result !== -1 && n !== result) malformed("conflicting content-length values");
    result = n;
  }
  if (previous !== -1 && previous !== result) malformed("conflicting content-length fields");
  return result;
}

/**
 * Validates a request's field lines (RFC 9114 §4.3.1) and returns its head.
 * Throws `H3Error(H3_MESSAGE_ERROR, "stream")` for a malformed request: missing or repeated
 * pseudo-headers, pseudo-headers after regular fields, unknown pseudo-headers,
 * connection-specific fields, invalid names or values, `:authority` and `host` disagreeing.
 */
export function parseRequestHead(fields: string[]): RequestHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let host: string | undefined;
  let contentLength = -1;
  let regular = false;
  const headers: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      if (regular) malformed(`pseudo-header ${name} after regular fields`);
      switch (name) {
        case ":method":
          if (method !== undefined) malformed("repeated :method");
          method = value;
          break;
        case ":scheme":
          if (scheme !== undefined) malformed("repeated :scheme");
          scheme = value;
          break;
        case ":authority":
          if (authority !== undefined) malformed("repeated :authority");
          authority = value;
          break;
        case ":path":
          if (path !== undefined) malformed("repeated :path");
          path = value;
          break;
        default:
          malformed(`unknown or misplaced pseudo-header ${name}`);
      }
      continue;
    }
    regular = true;
    checkRegularField(name, value);
    if (name === "host") host = value;
    else if (name === "content-length") contentLength = parseContentLength(value, contentLength);
    headers.push([name, value]);
  }
  if (method === undefined || method.length === 0) malformed("missing :method");
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) malformed("invalid :method");
  if (method === "CONNECT") {
    // We do not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL, so only plain CONNECT exists; it
    // carries :authority alone (§4.4). We parse it so the application can refuse it.
    if (scheme !== undefined || path !== undefined) malformed("CONNECT with :scheme or :path");
    if (!authority) malformed("CONNECT without :authority");
    return {
      method,
      scheme: "https",
      authority,
      path: "/",
      url: `https://${authority}/`,
      headers,
      contentLength,
    };
  }
  if (scheme === undefined) malformed("missing :scheme");
  if (!SCHEME.test(scheme)) malformed("invalid :scheme");
  if (path === undefined || path.length === 0) malformed("missing or empty :path");
  if (path !== "*" && path.charCodeAt(0) !== 0x2f /* '/' */) malformed("invalid :path");
  if (path === "*" && method !== "OPTIONS") malformed(":path * outside OPTIONS");
  if (/[\0\r\n ]/.test(path)) malformed("invalid characters in :path");
  if (scheme === "http" || scheme === "https") {
    if (authority === undefined && host === undefined) malformed("missing :authority and host");
    if (authority !== undefined && host !== undefined && authority !== host) {
      malformed(":authority and host differ");
    }
  }
  const effectiveAuthority = authority ?? host ?? "";
  if (effectiveAuthority !== "" && !isValidAuthority(effectiveAuthority)) {
    malformed("invalid :authority");
  }
  return {
    method,
    scheme,
    authority: effectiveAuthority,
    path,
    url: `${scheme}://${effectiveAuthority}${path === "*" ? "/" : path}`,
    headers,
    contentLength,
  };
}

/**
 * Builds the Web `Request` for a validated head; without a body, a `BodilessRequest` that makes
 * its parts on first use. A target the URL parser still refuses (a host such as `256.1.1.1`)
 * makes the request malformed: `H3Error(H3_MESSAGE_ERROR, "stream")`, not an internal error.
 */
export function buildRequest(
  head: Readonly<RequestHead>,
  body: ReadableStream<Uint8Array> | null,
): Request {
  if (body === null) {
    if (!originParses(head)) malformed(`invalid request: ${head.scheme}://${head.authority}`);
    // Handlers take it as a Request: it has the members a router and routes use (see there).
    return new BodilessRequest(head.method, head.url, head.headers) as unknown as Request;
  }
  try {
    return new Request(head.url, {
      method: head.method,
      headers: head.headers,
      body,
      // @ts-ignore: `duplex` is required for streaming bodies but missing from older types
      duplex: "half",
    });
  } catch (error) {
    if (error instanceof TypeError) malformed(`invalid request: ${error.message}`);
    throw error;
  }
}

/** `scheme://authority` prefixes the URL parser accepted; a connection repeats the same one. */
const parsedOrigins = new Set<string>();
const MAX_PARSED_ORIGINS = 256;
let lastHttpsAuthority: string | undefined;

/** Whether the URL parser accepts `head`'s scheme and authority (remembered when it does). */
function originParses(head: Readonly<RequestHead>): boolean {
  // The common case, one string comparison: the same https authority as the request before.
  if (head.authority === lastHttpsAuthority && head.scheme === "https") return true;
  const origin = `${head.scheme}://${head.authority}`;
  if (parsedOrigins.has(origin)) return true;
  if (!URL.canParse(origin + "/")) return false;
  if (parsedOrigins.size >= MAX_PARSED_ORIGINS) parsedOrigins.clear();
  parsedOrigins.add(origin);
  if (head.scheme === "https") lastHttpsAuthority = head.authority;
  return true;
}

/**
 * Validates a response's field lines (RFC 9114 §4.3.2): exactly one `:status`, first, with a
 * three-digit value. Throws `H3Error(H3_MESSAGE_ERROR, "stream")` otherwise.
 */
export function parseResponseHead(fields: string[]): ResponseHead {
  let status = -1;
  let regular = false;
  let contentLength = -1;
  const headers: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name.charCodeAt(0) === 0x3a) {
      if (name !== ":status" || regular || status !== -1) malformed(`unexpected ${name}`);
      if (!/^[1-9][0-9]{2}$/.test(value)) malformed(`invalid :status "${value}"`);
      status = Number(value);
      continue;
    }
    regular = true;
    checkRegularField(name, value);
    if (name === "content-length") contentLength = parseContentLength(value, contentLength);
    headers.push([name, value]);
  }
  if (status === -1) malformed("missing :status");
  return { status, headers, contentLength };
}

/**
 * Validates a trailer section (RFC 9114 §4.1): no pseudo-headers, valid regular fields.
 * Returns the fields as pairs.
 */
export function parseTrailers(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i].charCodeAt(0) === 0x3a) malformed(`pseudo-header ${fields[i]} in trailers`);
    checkRegularField(fields[i], fields[i + 1]);
    out.push([fields[i], fields[i + 1]]);
  }
  return out;
}

/** Whether a response field must not be sent over HTTP/3 (RFC 9114 §4.2). */
export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name);
}

/**
 * Flattens a response into the field array the QPACK encoder takes: `:status` first, then the
 * headers, dropping connection-specific ones, which HTTP/3 forbids.
 */
export function responseFields(status: number, headers: Headers): string[] {
  const fields: string[] = [":status", String(status)];
  // forEach with a module-level callback: cheaper than for-of over Headers (an iterator and an
  // entry array per field), and no closure per response.
  headers.forEach(pushField, fields);
  return fields;
}

function pushField(this: string[], value: string, name: string): void {
  if (!CONNECTION_SPECIFIC.has(name)) this.push(name, value);
}
