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

/** True for a literal IPv4 address (four decimal octets). */
export function isIPv4(host: string): boolean {
  const parts = host.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255);
}

/** True for a literal IPv6 address, without brackets (hex groups and colons, maybe a dotted tail). */
export function isIPv6(host: string): boolean {
  return host.includes(":") && /^[0-9a-fA-F:.]+$/.test(host) && !host.includes(":::");
}

/**
 * `ip:port` or `[ipv6]:port` taken apart, or undefined when it is not a literal IP and a port
 * from 1 to 65535.
 *
 * ```ts
 * parseAddr("[::1]:9443"); // { hostname: "::1", port: 9443 }
 * ```
 */
export function parseAddr(text: string): { hostname: string; port: number } | undefined {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return undefined;
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  else if (host.includes(":")) return undefined; // IPv6 needs brackets before a port
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return undefined;
  if (!isIPv4(host) && !isIPv6(host)) return undefined;
  return { hostname: host, port };
}
