/**
 * The one check of an HTTP authority (`Host`, `:authority`), shared by both listeners: RFC 3986
 * §3.2 `host[:port]` without userinfo (forbidden in HTTP/3, RFC 9114 §4.3.1, and meaningless in a
 * `Host`). A URL is only ever built from an authority that passed it, so header text cannot end
 * the origin early (`Host: evil.com/x?` would otherwise route `GET /api/test` to `/x`).
 *
 * ```ts
 * isValidAuthority("localhost:9443"); // true
 * isValidAuthority("evil.com/x?"); // false
 * ```
 * @module
 */

/**
 * An IP literal in brackets (IPv6, or an IPvFuture), or a reg-name (unreserved characters,
 * sub-delims and valid percent-encodings, which covers IPv4 addresses), then an optional `:` and
 * port digits. Finer host rules (IPv4 ranges, ports over 65535) are left to the URL parser.
 */
const AUTHORITY =
  /^(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]{0,5})?$/;

/** Longest authority accepted: a DNS name is at most 253 characters, plus a port. */
const MAX_AUTHORITY = 262;

/** Whether `authority` is an RFC 3986 `host[:port]` (IPv6 in brackets). */
export function isValidAuthority(authority: string): boolean {
  return authority.length > 0 && authority.length <= MAX_AUTHORITY && AUTHORITY.test(authority);
}
