/**
 * The URL of a request that arrived over TCP, built from a validated authority and request
 * target, never by pasting header text together: with raw concatenation, `Host: evil.com/x?`
 * would turn `GET /api/test` into a request for `/x`. Sans-IO: strings in, a URL or a reason out.
 *
 * ```ts
 * requestUrl("localhost:9443", "/api/test"); // { url: "https://localhost:9443/api/test" }
 * requestUrl("evil.com/x?", "/api/test"); // { error: "invalid authority …" }
 * ```
 * @module
 */

import { isValidAuthority } from "../authority.ts";

export { isValidAuthority };

/** A request's URL, or why it has none (the request gets 400). */
export type RequestUrl = { url: string; error?: undefined } | { url?: undefined; error: string };

/**
 * The absolute `https` URL of a request with `target` (origin-form, or absolute-form, whose own
 * authority then wins as RFC 9112 §3.2.2 says) sent to `authority` (the `Host` header or
 * `:authority`).
 */
export function requestUrl(authority: string, target: string): RequestUrl {
  let path = target;
  let host = authority;
  if (target.charCodeAt(0) !== 0x2f) {
    const absolute = /^https?:\/\/([^/?#]*)([^#]*)$/i.exec(target);
    if (absolute === null) return { error: "the request target is not a path or an absolute URL" };
    host = absolute[1];
    path = absolute[2].charCodeAt(0) === 0x2f ? absolute[2] : `/${absolute[2]}`;
  }
  if (!isValidAuthority(host)) {
    return { error: `invalid authority ${JSON.stringify(host)}: expected host[:port]` };
  }
  try {
    // The authority cannot end the origin early (no `/`, `?`, `#` or `@` got through), so the
    // path can only be a path; the URL parser still rejects what the grammar lets by, such as
    // a port over 65535, a malformed IPv6 address or a percent-encoded `/`.
    const url = new URL(`https://${host}${path}`);
    return { url: url.href };
  } catch {
    return { error: `invalid authority ${JSON.stringify(host)}: not a usable host[:port]` };
  }
}
