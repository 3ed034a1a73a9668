/**
 * Reads what a router's NAT did, from `conntrack` output (sans-IO): each UDP flow's client-side
 * tuple, the server it goes to, and the public address and port the NAT gave it.
 *
 * ```ts
 * parseConntrackLine(
 *   "[NEW] udp 17 30 src=198.19.7.2 dst=198.18.7.1 sport=40985 dport=9443 [UNREPLIED] " +
 *     "src=198.18.7.1 dst=198.18.7.101 sport=9443 dport=3588",
 * );
 * // { event: "NEW", client: "198.19.7.2:40985", server: "198.18.7.1:9443",
 * //   public: "198.18.7.101:3588", replied: false }
 * ```
 * @module
 */

/** One NAT mapping of a UDP flow. */
export interface NatMapping {
  /** `NEW`, `UPDATE`, `DESTROY` for `conntrack -E`; undefined for a `conntrack -L` line. */
  event?: "NEW" | "UPDATE" | "DESTROY";
  /** The client's own address and port (the original source). */
  client: string;
  /** Where the client sends (the original destination). */
  server: string;
  /** The NAT's public address and port for this flow (the reply's destination). */
  public: string;
  /** True once the server has answered on this mapping. */
  replied: boolean;
}

/** Parses one line of `conntrack -L -p udp` or `conntrack -E -p udp`; undefined if not a flow. */
export function parseConntrackLine(line: string): NatMapping | undefined {
  const tokens = line.trim().split(/\s+/);
  let event: NatMapping["event"];
  const tag = /^\[(NEW|UPDATE|DESTROY)\]$/.exec(tokens[0] ?? "");
  if (tag !== null) {
    event = tag[1] as NatMapping["event"];
    tokens.shift();
  }
  if (tokens[0] !== "udp") return undefined;
  // Each of src, dst, sport, dport appears twice: the original direction, then the reply.
  const seen: Record<string, string[]> = { src: [], dst: [], sport: [], dport: [] };
  let unreplied = false;
  for (const token of tokens) {
    if (token === "[UNREPLIED]") unreplied = true;
    const equals = token.indexOf("=");
    if (equals <= 0) continue;
    const key = token.slice(0, equals);
    if (key in seen) seen[key].push(token.slice(equals + 1));
  }
  if (Object.values(seen).some((values) => values.length !== 2)) return undefined;
  return {
    ...(event === undefined ? {} : { event }),
    client: `${seen.src[0]}:${seen.sport[0]}`,
    server: `${seen.dst[0]}:${seen.dport[0]}`,
    public: `${seen.dst[1]}:${seen.dport[1]}`,
    replied: !unreplied,
  };
}

/** The host part of `ip:port` (IPv4 only, as everything in the lab). */
export function hostOf(addr: string): string {
  return addr.slice(0, addr.lastIndexOf(":"));
}
