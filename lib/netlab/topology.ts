/**
 * The network lab's topology, sans-IO: the names and addresses of one run, and the `ip`, `nft`,
 * `sysctl` and `conntrack` commands that build it, move the client between uplinks, and tear
 * it down. Nothing here runs a command; `lab.ts` does.
 *
 * One run owns a *slot* `s` (0–255), which makes every name and address unique while it runs:
 *
 * ```
 *  client ns (qnl<s>-client)                 router ns (qnl<s>-wifi)          root namespace
 *  wifi     198.19.s.2/28  ── lan 198.19.s.1 │ masquerade │ wan 198.18.s.101 ─┐
 *                                                                            ├─ bridge qnl<s>
 *  cellular 198.19.s.18/28 ── lan 198.19.s.17│ masquerade │ wan 198.18.s.102 ─┘  198.18.s.1…: the
 *                             router ns (qnl<s>-cellular)                          server's address(es)
 * ```
 *
 * Every address is in RFC 2544's benchmarking range (198.18.0.0/15) and lives only on the veths
 * and the bridge the run creates. When the server listens on loopback, the root namespace
 * DNATs the first server address to it (an nftables table `ip qnl<s>`), with `route_localnet`
 * on the run's bridge only, so a server started as usual needs no other address.
 *
 * ```ts
 * const topology = planTopology({ slot: 7, serverIps: 1, dnatTo: "127.0.0.1" });
 * topology.setup;    // commands to run in order
 * topology.teardown; // commands that remove all of it (failures ignored)
 * ```
 * @module
 */

/** The two uplinks of the client, as on a phone. */
export type Uplink = "wifi" | "cellular";

/** Both uplinks, in the order they are built. */
export const UPLINKS: readonly Uplink[] = ["wifi", "cellular"];

/** The prefix of every name a run creates: namespaces, links, nftables tables. */
export const NAME_PREFIX = "qnl";

/** The slots a run may take (one /24 of 198.18.0.0/15 each). */
export const SLOT_COUNT = 256;

/** One command line, with optional standard input (for `nft -f -`). */
export interface Command {
  argv: string[];
  stdin?: string;
}

/** What {@link planTopology} needs. */
export interface TopologyInput {
  /** 0–255: the run's third octet and name suffix. */
  slot: number;
  /** Addresses the server gets on the internet segment, 1–16. */
  serverIps: number;
  /** When set, the first server address is DNATed to this loopback address (IPv4). */
  dnatTo?: string;
  /** The uplink the client starts on. */
  initialUplink: Uplink;
  /** A `tc tbf` rate for the client's uplinks (e.g. `40mbit`), or undefined for none. */
  rate?: string;
}

/** One uplink's names and addresses. */
export interface UplinkPlan {
  name: Uplink;
  /** The router's namespace. */
  routerNs: string;
  /** The router's public (NAT) address on the internet segment. */
  publicIp: string;
  /** The router's address on the client's side. */
  routerLanIp: string;
  /** The client's address on this uplink (its interface in the client namespace is `name`). */
  clientIp: string;
  /** The root-namespace end of the router's internet veth, enslaved to the bridge. */
  rootLink: string;
}

/** Everything one run creates, and the commands for it. */
export interface Topology {
  slot: number;
  clientNs: string;
  /** The bridge in the root namespace: the internet segment. */
  bridge: string;
  /** The nftables table (`ip` family) in the root namespace, when DNAT is used. */
  rootTable: string | undefined;
  /** The server's addresses on the internet segment; the first is `{server_ip}`. */
  serverIps: string[];
  uplinks: Record<Uplink, UplinkPlan>;
  /** Every namespace of the run. */
  namespaces: string[];
  setup: Command[];
  teardown: Command[];
}

/** The nftables table every router namespace holds. */
const ROUTER_TABLE = "netlab";

/** The name of slot `slot`'s namespace for `role` (`client`, `wifi`, `cellular`). */
export function namespaceName(slot: number, role: "client" | Uplink): string {
  return `${NAME_PREFIX}${slot}-${role}`;
}

/** Parses a name this module gives (namespace, link or table) back to its slot, or undefined. */
export function slotOfName(name: string): number | undefined {
  const match = new RegExp(`^${NAME_PREFIX}(\\d{1,3})(?:$|[wc]$|-)`).exec(name);
  if (match === null) return undefined;
  const slot = Number(match[1]);
  return slot < SLOT_COUNT && String(slot) === match[1] ? slot : undefined;
}

/** Builds the plan for one run. */
export function planTopology(input: TopologyInput): Topology {
  const { slot } = input;
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
    throw new RangeError(`slot must be an integer from 0 to ${SLOT_COUNT - 1}`);
  }
  const bridge = `${NAME_PREFIX}${slot}`;
  const clientNs = namespaceName(slot, "client");
  const serverIps = Array.from({ length: input.serverIps }, (_, i) => `198.18.${slot}.${1 + i}`);
  const uplinks: Record<Uplink, UplinkPlan> = {
    wifi: uplinkPlan(slot, "wifi", 101, 0),
    cellular: uplinkPlan(slot, "cellular", 102, 16),
  };
  const rootTable = input.dnatTo === undefined ? undefined : bridge;
  const setup: Command[] = [
    ...[clientNs, uplinks.wifi.routerNs, uplinks.cellular.routerNs].map((ns) =>
      ip("netns", "add", ns)
    ),
    ip("link", "add", bridge, "type", "bridge"),
    ...serverIps.map((addr) => ip("addr", "add", `${addr}/24`, "dev", bridge)),
    ip("link", "set", bridge, "up"),
    ip("-n", clientNs, "link", "set", "lo", "up"),
  ];
  for (const uplink of UPLINKS) {
    setup.push(...uplinkSetup(uplinks[uplink], clientNs, bridge, input));
  }
  const initial = uplinks[input.initialUplink];
  setup.push(ip("-n", clientNs, "route", "add", "default", "via", initial.routerLanIp));
  if (input.dnatTo !== undefined) {
    setup.push(
      { argv: ["sysctl", "-qw", `net.ipv4.conf.${bridge}.route_localnet=1`] },
      { argv: ["nft", "-f", "-"], stdin: rootDnatTable(bridge, serverIps[0], input.dnatTo) },
    );
  }
  return {
    slot,
    clientNs,
    bridge,
    rootTable,
    serverIps,
    uplinks,
    namespaces: [clientNs, uplinks.wifi.routerNs, uplinks.cellular.routerNs],
    setup,
    teardown: teardownCommands(slot),
  };
}

/**
 * The commands that remove everything slot `slot` may have created, whatever state a run left
 * it in: namespaces (their veths and nftables tables go with them), the bridge, the root veth
 * ends, the root nftables table. Each may fail because the thing is already gone; the caller
 * ignores failures. Processes still inside the namespaces must be ended first (see `lab.ts`).
 */
export function teardownCommands(slot: number): Command[] {
  const bridge = `${NAME_PREFIX}${slot}`;
  return [
    ...(["client", ...UPLINKS] as const).map((role) =>
      ip("netns", "del", namespaceName(slot, role))
    ),
    ip("link", "del", `${bridge}w`),
    ip("link", "del", `${bridge}c`),
    ip("link", "del", bridge),
    { argv: ["nft", "delete", "table", "ip", bridge] },
  ];
}

/**
 * Moves the client from `from` to `to`: the new uplink comes up, the default route moves, the
 * old uplink goes down (its router's side of the link, as when a phone leaves a Wi-Fi network),
 * and the old router forgets the client's mappings.
 */
export function switchCommands(topology: Topology, from: Uplink, to: Uplink): Command[] {
  const old = topology.uplinks[from];
  const next = topology.uplinks[to];
  return [
    ip("-n", next.routerNs, "link", "set", "lan", "up"),
    // Taking a link down drops its routes: this one comes back with it.
    clientRangeRoute(topology.slot, next),
    ip("-n", topology.clientNs, "route", "replace", "default", "via", next.routerLanIp, "dev", to),
    ip("-n", old.routerNs, "link", "set", "lan", "down"),
    forgetMappings(topology, from),
  ];
}

/** Makes `uplink`'s NAT forget the client's UDP mappings: its next packet gets a new port. */
export function forgetMappings(topology: Topology, uplink: Uplink): Command {
  return nsExec(topology.uplinks[uplink].routerNs, "conntrack", "-D", "-p", "udp");
}

/** Starts a blackout on `uplink`: its router drops everything it would forward. */
export function blackoutStartCommand(topology: Topology, uplink: Uplink): Command {
  return nsExec(
    topology.uplinks[uplink].routerNs,
    "nft",
    "add",
    "rule",
    "ip",
    ROUTER_TABLE,
    "blackout",
    "drop",
  );
}

/** Ends a blackout on `uplink`. */
export function blackoutEndCommand(topology: Topology, uplink: Uplink): Command {
  return nsExec(
    topology.uplinks[uplink].routerNs,
    "nft",
    "flush",
    "chain",
    "ip",
    ROUTER_TABLE,
    "blackout",
  );
}

/** The long-running `conntrack -E` that reports `uplink`'s NAT mappings as they change. */
export function watchMappingsCommand(topology: Topology, uplink: Uplink): Command {
  return nsExec(topology.uplinks[uplink].routerNs, "conntrack", "-E", "-p", "udp");
}

/** The command that lists `uplink`'s current UDP mappings. */
export function listMappingsCommand(topology: Topology, uplink: Uplink): Command {
  return nsExec(topology.uplinks[uplink].routerNs, "conntrack", "-L", "-p", "udp");
}

/** The argv that runs `argv` inside the client's namespace. */
export function inClientNamespace(topology: Topology, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", topology.clientNs, ...argv];
}

function uplinkPlan(slot: number, name: Uplink, publicHost: number, lanBase: number): UplinkPlan {
  return {
    name,
    routerNs: namespaceName(slot, name),
    publicIp: `198.18.${slot}.${publicHost}`,
    routerLanIp: `198.19.${slot}.${lanBase + 1}`,
    clientIp: `198.19.${slot}.${lanBase + 2}`,
    rootLink: `${NAME_PREFIX}${slot}${name[0]}`,
  };
}

function uplinkSetup(
  uplink: UplinkPlan,
  clientNs: string,
  bridge: string,
  input: TopologyInput,
): Command[] {
  const ns = uplink.routerNs;
  const commands: Command[] = [
    // Created with their ends already in place, so no temporary name can clash with another run.
    ip("link", "add", uplink.rootLink, "type", "veth", "peer", "name", "wan", "netns", ns),
    ip("link", "set", uplink.rootLink, "master", bridge, "up"),
    ip(
      "-n",
      ns,
      "link",
      "add",
      "lan",
      "type",
      "veth",
      "peer",
      "name",
      uplink.name,
      "netns",
      clientNs,
    ),
    ip("-n", ns, "link", "set", "lo", "up"),
    ip("-n", ns, "addr", "add", `${uplink.publicIp}/24`, "dev", "wan"),
    ip("-n", ns, "link", "set", "wan", "up"),
    ip("-n", ns, "addr", "add", `${uplink.routerLanIp}/28`, "dev", "lan"),
    ip("-n", ns, "link", "set", "lan", "up"),
    clientRangeRoute(input.slot, uplink),
    nsExec(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"),
    { argv: ["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin: routerTable() },
    ip("-n", clientNs, "addr", "add", `${uplink.clientIp}/28`, "dev", uplink.name),
    ip("-n", clientNs, "link", "set", uplink.name, "up"),
  ];
  if (input.rate !== undefined) {
    commands.push({
      argv: ["tc", "-n", clientNs, "qdisc", "add", "dev", uplink.name, "root", "tbf"]
        .concat(["rate", input.rate, "burst", "64kb", "latency", "50ms"]),
    });
  }
  // Only the initial uplink starts up, as a phone on Wi-Fi whose cellular data is idle.
  commands.push(
    ip("-n", ns, "link", "set", "lan", uplink.name === input.initialUplink ? "up" : "down"),
  );
  return commands;
}

/**
 * A router's rules: masquerade onto the internet with a random port for every new mapping (so a
 * forgotten mapping comes back on a new port, as a real NAT rebinding), drop unsolicited
 * packets from the internet (no mapping, no entry), and an empty `blackout` chain that a
 * blackout fills with `drop`.
 */
function routerTable(): string {
  return [
    `table ip ${ROUTER_TABLE} {`,
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    '    oifname "wan" masquerade random',
    "  }",
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    '    iifname "wan" ct state new drop',
    "  }",
    "  chain blackout {",
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    "    jump blackout",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The root namespace's DNAT of the lab's server address to the server's loopback address. */
function rootDnatTable(bridge: string, serverIp: string, to: string): string {
  return [
    `table ip ${bridge} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    `    iifname "${bridge}" ip daddr ${serverIp} dnat to ${to}`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * The client keeps its socket's source address when it changes uplink (a connected UDP socket
 * does): each router routes the whole client range back over its own link.
 */
function clientRangeRoute(slot: number, uplink: UplinkPlan): Command {
  return ip(
    ...["-n", uplink.routerNs, "route", "replace", `198.19.${slot}.0/24`],
    ...["via", uplink.clientIp, "dev", "lan"],
  );
}

function ip(...args: string[]): Command {
  return { argv: ["ip", ...args] };
}

function nsExec(ns: string, ...argv: string[]): Command {
  return { argv: ["ip", "netns", "exec", ns, ...argv] };
}
