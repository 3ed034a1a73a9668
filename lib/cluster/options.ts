/**
 * Command-line options of `cluster` (`deno task cluster`, `quic-server cluster`), and the plan
 * they make: which address each part binds and the exact arguments each node starts with. Pure:
 * no I/O, so every rule is unit-tested (`options_test.ts`); `cli.ts` runs the plan.
 *
 * Flags take `--opt value` or `--opt=value`, as the server's do. Everything after `--` goes to
 * every node unchanged, and is checked here with the server's own parser, so a bad node option is
 * one line and exit 2 before anything starts.
 *
 * ```ts
 * const options = parseClusterOptions(["--nodes", "2"], Deno.env.toObject());
 * planNodes(options).map((node) => node.ip); // ["127.0.0.11", "127.0.0.12"]
 * ```
 * @module
 */

import { lastPerFlag, scanFlags } from "../cli/flag_scanner.ts";
import { formatAddr, isIPv4, isIPv6 } from "../addr.ts";
import { parseConfig } from "../cli/config.ts";
import { ConfigError, parseBoundedInt, quote } from "../cli/server_config.ts";

/** Where the balancer listens, where it forwards from, and each node's own IP. */
export interface ClusterAddresses {
  /** The balancer's public IP (UDP and TCP on the balancer port). */
  balancer: string;
  /** The IP the balancer forwards from (nginx `proxy_bind`); nodes recognise the hand-off by it. */
  source: string;
  /** Each node's own IP, bound and advertised as its preferred address. */
  nodes: string[];
}

/** Everything `cluster` is configured with. */
export interface ClusterOptions {
  addresses: ClusterAddresses;
  /** Every node's HTTPS and HTTP/3 port (each on its own IP). */
  port: number;
  /** The balancer's port, UDP and TCP. */
  balancerPort: number;
  /** Shared data directory: everything lives under `<dataDir>/cluster/`. */
  dataDir: string;
  /** An existing Redis to use; undefined starts redis-server. */
  redisUrl?: string;
  /** Options after `--`, given to every node. */
  nodeArgs: string[];
  /** True when `--help`/`-h` was given; the other fields are then defaults. */
  help: boolean;
}

/** One node as the orchestrator starts it. */
export interface NodePlan {
  /** `node1`, `node2`, …: its `--node-id` and the prefix of its log lines. */
  name: string;
  ip: string;
  port: number;
  /** Its migration lab's port: the cluster port + 1 + its index, unless that is taken. */
  labPort: number;
  /** `<dataDir>/cluster/<name>`. */
  dataDir: string;
}

/** Default node count without `--nodes` or a node list. */
export const DEFAULT_NODES = 3;
/** Most nodes one `cluster` starts (each takes a port after the cluster port for its lab). */
export const MAX_NODES = 32;
/** Default port of every node. */
export const DEFAULT_NODE_PORT = 9443;
/** Default port of the balancer. */
export const DEFAULT_BALANCER_PORT = 8443;
/** The balancer's IP by default. */
export const DEFAULT_BALANCER_IP = "127.0.0.1";
/**
 * The source IP when the balancer is on IPv4 loopback: a client on this machine also comes from
 * 127.0.0.1, so the balancer must forward from another address for a node to tell them apart.
 */
export const LOOPBACK_SOURCE_IP = "127.0.0.9";

/** Node options `cluster` sets itself, per node; given after `--` they would contradict it. */
const MANAGED_NODE_FLAGS: Readonly<Record<string, string>> = {
  "--host": "--addresses nodes=…",
  "--port": "--port",
  "--lab-port": "(P+1+i, set per node)",
  "--node-id": "(node1, node2, …)",
  "--balancer": "--addresses balancer=… and --balancer-port",
  "--balancer-source": "--addresses source=…",
  "--redis": "--redis",
  "--data-dir": "--data-dir",
};

/** Usage text for `cluster --help`. */
export const CLUSTER_HELP: string = [
  "Starts a local cluster: redis-server, an nginx load balancer (UDP for HTTP/3, TCP for",
  "HTTPS) and N nodes, each on its own IP advertising it as its QUIC preferred address.",
  "",
  "Usage: main.ts cluster [options] [-- node options]   (deno task cluster …, quic-server cluster …)",
  "",
  "Options:",
  `  --nodes N          how many nodes, 1-${MAX_NODES} (default: ${DEFAULT_NODES}, or as many as --addresses names)`,
  "  --addresses LIST   balancer=IP,source=IP,nodes=IP+IP+…, each part optional",
  `                     (default: balancer=${DEFAULT_BALANCER_IP},source=${LOOPBACK_SOURCE_IP},nodes=127.0.0.11+127.0.0.12+…;`,
  "                     source defaults to the balancer's IP unless that is IPv4 loopback)",
  `  --port P           every node's port, each on its own IP (default: ${DEFAULT_NODE_PORT});`,
  "                     node i's migration lab gets P+1+i, or a free port if that is taken",
  `  --balancer-port P  the balancer's UDP and TCP port (default: ${DEFAULT_BALANCER_PORT})`,
  "  --redis URL        use this Redis instead of starting redis-server",
  "  --data-dir DIR     shared data directory; all goes to DIR/cluster/ (default: .data;",
  "                     env: QUIC_DATA_DIR)",
  "  -h, --help         show this help and exit",
  "",
  "Options after -- go to every node (see main.ts --help), except those cluster sets itself:",
  `${Object.keys(MANAGED_NODE_FLAGS).join(", ")}.`,
  "",
  "Ctrl-C or SIGTERM stops the nodes (gracefully), then nginx, then redis. Exit code: 0 when",
  "stopped so, 1 when a part failed or died, 2 for a bad option or a missing program.",
].join("\n");

/**
 * Builds `cluster`'s options from its arguments (after `cluster`) and the environment. If
 * `--help`/`-h` appears before `--`, returns the defaults with `help: true`.
 *
 * @throws {ConfigError} for an unknown option, a bad or missing value, addresses that clash, or
 *   a node option after `--` that the server would refuse or that `cluster` sets itself.
 */
export function parseClusterOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ClusterOptions {
  const dashes = args.indexOf("--");
  const own = dashes < 0 ? args : args.slice(0, dashes);
  const nodeArgs = dashes < 0 ? [] : args.slice(dashes + 1);
  const scan = scanFlags(own, env, {
    isFlag: (name) => FLAGS.has(name),
    envFlags: [["QUIC_DATA_DIR", "--data-dir"]],
    strayHint: " (node options go after --)",
  });
  const given = new Map(lastPerFlag(scan.given).map((entry) => [entry.flag, entry]));
  const help = scan.help;
  const defaults: ClusterOptions = {
    addresses: { balancer: DEFAULT_BALANCER_IP, source: LOOPBACK_SOURCE_IP, nodes: [] },
    port: DEFAULT_NODE_PORT,
    balancerPort: DEFAULT_BALANCER_PORT,
    dataDir: ".data",
    nodeArgs,
    help,
  };
  if (help) {
    defaults.addresses.nodes = defaultNodeIps(DEFAULT_NODES);
    return defaults;
  }
  if (scan.error) throw scan.error;

  const value = (flag: string) => given.get(flag)?.value;
  const options = defaults;
  if (value("--port") !== undefined) {
    options.port = parseBoundedInt(value("--port")!, "--port", 1, 65535, "a port");
  }
  if (value("--balancer-port") !== undefined) {
    options.balancerPort = parseBoundedInt(
      value("--balancer-port")!,
      "--balancer-port",
      1,
      65535,
      "a port",
    );
  }
  if (value("--data-dir") !== undefined) options.dataDir = value("--data-dir")!;
  const redis = value("--redis");
  if (redis !== undefined) {
    if (!/^rediss?:\/\/[^\s]+$/.test(redis)) {
      throw new ConfigError(`--redis: ${quote(redis)} is not a redis:// or rediss:// URL`);
    }
    options.redisUrl = redis;
  }
  const listed = value("--addresses") === undefined
    ? {}
    : parseAddresses(value("--addresses")!, "--addresses");
  const countText = value("--nodes");
  const count = countText === undefined
    ? (listed.nodes?.length ?? DEFAULT_NODES)
    : parseBoundedInt(countText, "--nodes", 1, MAX_NODES, "a number of nodes");
  if (listed.nodes !== undefined && listed.nodes.length !== count) {
    throw new ConfigError(
      `--nodes ${count} but --addresses names ${listed.nodes.length} node(s): give one or the other`,
    );
  }
  const balancer = listed.balancer ?? DEFAULT_BALANCER_IP;
  options.addresses = {
    balancer,
    source: listed.source ?? defaultSource(balancer),
    nodes: listed.nodes ?? defaultNodeIps(count),
  };
  checkAddresses(options);
  checkNodeArgs(options, env);
  return options;
}

const FLAGS: ReadonlySet<string> = new Set([
  "--nodes",
  "--addresses",
  "--port",
  "--balancer-port",
  "--redis",
  "--data-dir",
]);

/**
 * Takes `balancer=IP,source=IP,nodes=IP+IP+…` apart; each part is optional, none may repeat.
 * @throws {ConfigError} naming the part that is wrong.
 */
export function parseAddresses(text: string, source: string): Partial<ClusterAddresses> {
  const result: Partial<ClusterAddresses> = {};
  for (const part of text.split(",")) {
    const equalsAt = part.indexOf("=");
    const key = equalsAt < 0 ? part : part.slice(0, equalsAt);
    const value = equalsAt < 0 ? "" : part.slice(equalsAt + 1);
    if (key !== "balancer" && key !== "source" && key !== "nodes") {
      throw new ConfigError(
        `${source}: ${quote(part)} is not balancer=IP, source=IP or nodes=IP+IP+…`,
      );
    }
    if (key in result) throw new ConfigError(`${source}: ${key}= given twice`);
    const ips = key === "nodes" ? value.split("+") : [value];
    for (const ip of ips) {
      if (!isIPv4(ip) && !isIPv6(ip)) {
        throw new ConfigError(`${source}: ${key}= ${quote(ip)} is not an IP address`);
      }
    }
    if (key === "nodes") result.nodes = ips;
    else result[key] = value;
  }
  return result;
}

/** The default node IPs: 127.0.0.11, 127.0.0.12, … (every 127/8 address works on Linux). */
export function defaultNodeIps(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${11 + i}`);
}

/** The source IP when none is given: the balancer's own, except on IPv4 loopback (see above). */
export function defaultSource(balancer: string): string {
  return balancer.startsWith("127.") ? LOOPBACK_SOURCE_IP : balancer;
}

/** Each node's name, IP, ports and data directory. */
export function planNodes(options: ClusterOptions): NodePlan[] {
  return options.addresses.nodes.map((ip, index) => ({
    name: `node${index + 1}`,
    ip,
    port: options.port,
    labPort: options.port + 1 + index,
    dataDir: `${options.dataDir}/cluster/node${index + 1}`,
  }));
}

/** What every node shares: where Redis is and, unless the node options bring their own, the leaf. */
export interface SharedNodeSettings {
  redisUrl: string;
  certPath?: string;
  keyPath?: string;
}

/** The server arguments of one node (after `main.ts`), the options after `--` last. */
export function nodeArguments(
  options: ClusterOptions,
  node: NodePlan,
  shared: SharedNodeSettings,
): string[] {
  const ownCert = options.nodeArgs.some((arg) => /^--(cert|key)(=|$)/.test(arg));
  return [
    ...["--host", node.ip, "--port", String(node.port), "--lab-port", String(node.labPort)],
    ...["--node-id", node.name, "--balancer", balancerAddr(options)],
    ...["--balancer-source", options.addresses.source, "--redis", shared.redisUrl],
    ...["--data-dir", node.dataDir],
    ...(!ownCert && shared.certPath && shared.keyPath
      ? ["--cert", shared.certPath, "--key", shared.keyPath]
      : []),
    ...options.nodeArgs,
  ];
}

/** The balancer's `ip:port` (IPv6 in brackets). */
export function balancerAddr(options: ClusterOptions): string {
  return formatAddr({ hostname: options.addresses.balancer, port: options.balancerPort });
}

/** Addresses that cannot work together, as one line each. */
function checkAddresses(options: ClusterOptions): void {
  const { balancer, source, nodes } = options.addresses;
  const wildcard = (ip: string) => ip === "0.0.0.0" || (isIPv6(ip) && /^[0:]+$/.test(ip));
  for (const [what, ip] of [["balancer", balancer], ["source", source], ["nodes", ...nodes]]) {
    if (wildcard(ip)) {
      throw new ConfigError(
        `--addresses: ${what}= ${ip} is a wildcard; each part needs one IP of this machine`,
      );
    }
  }
  const seen = new Set<string>();
  for (const ip of nodes) {
    if (seen.has(ip)) {
      throw new ConfigError(
        `--addresses: node IP ${ip} is listed twice; each node needs its own IP (it binds and advertises it)`,
      );
    }
    seen.add(ip);
  }
  const family = (ip: string) => isIPv4(ip) ? 4 : 6;
  if (nodes.some((ip) => family(ip) !== family(source))) {
    throw new ConfigError(
      `--addresses: source=${source} and the nodes must be one IP family (the balancer forwards from it to them)`,
    );
  }
  const lastLab = options.port + nodes.length;
  if (lastLab > 65535) {
    throw new ConfigError(
      `--port ${options.port}: the labs of ${nodes.length} node(s) need ports up to ${lastLab}, past 65535`,
    );
  }
  const index = nodes.indexOf(balancer);
  if (index >= 0) {
    const bp = options.balancerPort;
    if (bp === options.port || bp === options.port + 1 + index) {
      throw new ConfigError(
        `--balancer-port ${bp} on ${balancer} is taken by node${index + 1} (its port or lab port)`,
      );
    }
  }
}

/** The node options after `--`: none that `cluster` sets, and all accepted by the server. */
function checkNodeArgs(
  options: ClusterOptions,
  env: Readonly<Record<string, string | undefined>>,
): void {
  for (const arg of options.nodeArgs) {
    const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    const instead = MANAGED_NODE_FLAGS[flag];
    if (instead !== undefined) {
      throw new ConfigError(
        `node option ${flag} is set by cluster for each node; use ${instead} instead`,
      );
    }
    if (flag === "--help" || flag === "-h") {
      throw new ConfigError(`node option ${flag}: see main.ts --help for the node options`);
    }
  }
  const [first] = planNodes(options);
  const probe = nodeArguments(options, first, {
    redisUrl: "redis://127.0.0.1:6379",
    certPath: "cert.pem",
    keyPath: "key.pem",
  });
  try {
    parseConfig(probe, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(`node option: ${error.message}`);
  }
}
