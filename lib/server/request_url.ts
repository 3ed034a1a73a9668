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

/**
 * RFC 3986 §3.2.2 host, with an optional port: an IP literal in brackets, or a reg-name
 * (unreserved characters, percent-encodings and sub-delims, which covers IPv4 addresses too),
 * then `:` and digits. Nothing here may contain `/`, `?`, `#`, `@` or whitespace.
 */
const AUTHORITY =
  /^(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/** Longest authority accepted: a DNS name is at most 253 characters, plus a port. */
const MAX_AUTHORITY = 262;

/** A request's URL, or why it has none (the request gets 400). */
export type RequestUrl = { url: string; error?: undefined } | { url?: undefined; error: string };

/** Whether `authority` is an RFC 3986 `host[:port]` (IPv6 in brackets). */
export function isValidAuthority(authority: string): boolean {
  return authority.length > 0 && authority.length <= MAX_AUTHORITY && AUTHORITY.test(authority);
}

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
