/**
 * The options that make a server a node of a cluster behind a load balancer: its identity, the
 * preferred address it advertises (RFC 9000 §9.6), the balancer it sits behind and the Redis that
 * shares state with the other nodes; and the rule that keeps a preferred address honest.
 *
 * Why a node must advertise exactly the address it is bound to: quinn (inside Deno) sends every
 * packet of a connection from the local address the connection arrived on. A node bound to a
 * wildcard address that advertised another IP would answer a migrated client from an address
 * the client does not expect, and the client drops those answers: the connection dies silently.
 * @module
 */

import { isIPv4, isIPv6, parseAddr } from "../addr.ts";
import {
  type ClusterConfig,
  ConfigError,
  type OptionSpec,
  quote,
  type ServerConfig,
} from "./server_config.ts";

export type { ClusterConfig } from "./server_config.ts";

/** The cluster options, in help order. */
export const CLUSTER_OPTION_SPECS: readonly OptionSpec[] = [
  {
    flag: "--node-id",
    envVar: "QUIC_NODE_ID",
    valueName: "ID",
    description: "this node's name in a cluster's shared records (letters, digits, . _ : -)",
    defaultText: "<host>:<port> when in a cluster",
    apply(config, value, source) {
      if (!/^[A-Za-z0-9._:-]{1,64}$/.test(value)) {
        throw new ConfigError(
          `${source}: ${quote(value)} is not a node id (1-64 of A-Z a-z 0-9 . _ : -)`,
        );
      }
      config.cluster.nodeId = value;
    },
  },
  {
    flag: "--preferred-address",
    envVar: "QUIC_PREFERRED_ADDRESS",
    valueName: "auto|on|off|IP:PORT",
    description:
      "advertise this node's own bind address as the QUIC preferred address (auto: when --balancer is given); an explicit IP:PORT must equal --host:--port",
    defaultText: "auto",
    apply(config, value, source) {
      if (value !== "auto" && value !== "on" && value !== "off" && parseAddr(value) === undefined) {
        throw new ConfigError(`${source}: ${quote(value)} is not auto, on, off or an IP:PORT`);
      }
      config.cluster.preferredAddress = value;
    },
  },
  {
    flag: "--balancer",
    envVar: "QUIC_BALANCER",
    valueName: "IP:PORT",
    description: "the load balancer's public address this node sits behind (cluster mode)",
    apply(config, value, source) {
      if (parseAddr(value) === undefined) {
        throw new ConfigError(`${source}: ${quote(value)} is not an IP:PORT (IPv6 as [ip]:port)`);
      }
      config.cluster.balancer = value;
    },
  },
  {
    flag: "--balancer-source",
    envVar: "QUIC_BALANCER_SOURCE",
    valueName: "IP",
    description: "the IP the balancer forwards from, if not its public IP (its proxy_bind)",
    apply(config, value, source) {
      if (!isIPv4(value) && !isIPv6(value)) {
        throw new ConfigError(`${source}: ${quote(value)} is not an IP address`);
      }
      config.cluster.balancerSource = value;
    },
  },
  {
    flag: "--redis",
    envVar: "QUIC_REDIS_URL",
    valueName: "URL",
    description:
      "share connection records and events with other nodes in this Redis (cluster mode)",
    apply(config, value, source) {
      if (!/^rediss?:\/\/[^\s]+$/.test(value)) {
        throw new ConfigError(`${source}: ${quote(value)} is not a redis:// or rediss:// URL`);
      }
      config.cluster.redisUrl = value;
    },
  },
];

/** Whether the node advertises its bind address as the preferred address. */
export function advertisesPreferredAddress(cluster: ClusterConfig): boolean {
  const setting = cluster.preferredAddress;
  return setting === "on" || (setting === "auto" && cluster.balancer !== undefined) ||
    parseAddr(setting) !== undefined;
}

/** The IPs the balancer forwards from: `--balancer-source`, else the balancer's own IP. */
export function balancerSources(cluster: ClusterConfig): string[] {
  if (cluster.balancerSource !== undefined) return [cluster.balancerSource];
  const balancer = cluster.balancer === undefined ? undefined : parseAddr(cluster.balancer);
  return balancer === undefined ? [] : [balancer.hostname];
}

/**
 * The cluster rules checked once every value is valid: a node that advertises a preferred
 * address is bound to one literal, specific IP, and advertises exactly that IP and port.
 * @throws {ConfigError} naming the options and why.
 */
export function checkClusterOptions(config: ServerConfig): void {
  const cluster = config.cluster;
  if (!advertisesPreferredAddress(cluster)) return;
  const host = config.host;
  const specific = (isIPv4(host) && host !== "0.0.0.0") ||
    (isIPv6(host) && host !== "::" && !/^[0:]+$/.test(host));
  if (!specific) {
    throw new ConfigError(
      `a preferred address needs this node's own IP as --host, not ${quote(host)}: ` +
        "the node answers every connection from the address it arrived on, so it must bind " +
        "the very address it advertises (or use --preferred-address off)",
    );
  }
  const explicit = parseAddr(cluster.preferredAddress);
  if (explicit !== undefined && (explicit.hostname !== host || explicit.port !== config.port)) {
    throw new ConfigError(
      `--preferred-address ${cluster.preferredAddress} differs from the bind address ` +
        `--host ${host} --port ${config.port}: a node advertises exactly the address it is bound to`,
    );
  }
}
