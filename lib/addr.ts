/**
 * How addresses are written everywhere in this server: `ip:port`, IPv4-mapped IPv6 as plain
 * IPv4 (a dual-stack socket reports `::ffff:127.0.0.1`), IPv6 as `[ip]:port`.
 *
 * ```ts
 * formatAddr({ hostname: "::ffff:127.0.0.1", port: 9443 }); // "127.0.0.1:9443"
 * ```
 * @module
 */

/** Formats an address as `ip:port`, IPv4-mapped IPv6 as plain IPv4, IPv6 as `[ip]:port`. */
export function formatAddr(addr: { hostname: string; port: number }): string {
  const host = addr.hostname;
  if (host.startsWith("::ffff:") && host.indexOf(".") !== -1) {
    return `${host.slice(7)}:${addr.port}`;
  }
  if (host.indexOf(":") !== -1) return `[${host}]:${addr.port}`;
  return `${host}:${addr.port}`;
}
