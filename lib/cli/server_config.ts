/**
 * The vocabulary of the server's command line: the configuration it builds, the shape of one
 * option, the error a bad value raises, and the value parsers every option shares. The option
 * table itself is `options.ts`; parsing the arguments is `config.ts`.
 * @module
 */

import { boundedInt, excerpt } from "../bounded_int.ts";
import type { DashboardVisibility } from "../access/visibility.ts";
import { defaultLimits, type ServerLimits } from "../limits.ts";

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** Everything the server is configured with. */
export interface ServerConfig {
  /**
   * Address to listen on, for TCP (HTTPS/1.1 + HTTP/2) and UDP (QUIC) alike. Default `::`.
   * See {@link DEFAULT_HOST} for why.
   */
  host: string;
  /** The port for HTTPS over TCP and HTTP/3 over UDP. Default 9443. */
  port: number;
  /** The port of the migration lab listener. Default 9444; never equal to {@link port}. */
  labPort: number;
  /** Address the migration lab listens on, UDP and TCP. Default {@link DEFAULT_LAB_HOST}. */
  labHost: string;
  /** PEM certificate chain from `--cert`; undefined means "use generated dev certificates". */
  certPath?: string;
  /** PEM private key from `--key`; set exactly when {@link certPath} is. */
  keyPath?: string;
  /** Where runtime data (generated certificates, …) lives. Default `.data`, relative to the cwd. */
  dataDir: string;
  /**
   * Bearer token for admin endpoints. Undefined when not given: the caller generates one at start
   * (see {@link generateAdminToken}) and shows it, so it is never silently fixed.
   */
  adminToken?: string;
  /** Log line format. Default `text`. */
  logFormat: LogFormat;
  /** How often the migration watcher looks at every open QUIC connection's address, in ms. */
  watchIntervalMs: number;
  /** Longest a quiet QUIC connection's address goes unconfirmed by the watcher, in ms. */
  watchQuietIntervalMs: number;
  /** How long closed connections stay listed, in seconds. */
  closedTtlSeconds: number;
  /** How many closed connections stay listed at most. */
  maxClosed: number;
  /** Offer HTTP/2 over TCP besides HTTP/1.1 (default false; see `lib/server/tcp_listener.ts`). */
  tcpHttp2: boolean;
  /** Resource limits (see `lib/limits.ts`). */
  limits: ServerLimits;
  /** Who may see other clients' connections (see `lib/access/visibility.ts`). Default `localhost`. */
  publicDashboard: DashboardVisibility;
  /** Whether connection history is kept in `<dataDir>/history.kv` across restarts. */
  persist: boolean;
  /** Milliseconds from a change to its write into the history (what a kill -9 can lose). */
  persistIntervalMs: number;
  /** How this server takes part in a cluster (options in `cluster_options.ts`). */
  cluster: ClusterConfig;
  /** True when `--help`/`-h` was given; the other fields are then defaults and unchecked. */
  help: boolean;
}

/** How a node takes part in a cluster; all unset for a server on its own. */
export interface ClusterConfig {
  /** This node's name in shared records and metrics; defaults to `<host>:<port>` in a cluster. */
  nodeId?: string;
  /**
   * Advertise this node's bind address as the QUIC preferred address: `auto` (when a balancer
   * is given), `on`, `off`, or an explicit `ip:port`, which must be the bind address.
   */
  preferredAddress: string;
  /** The balancer's public address `ip:port` (for Alt-Svc and to recognise the hand-off). */
  balancer?: string;
  /** The IP the balancer forwards from, when it differs from the balancer's public IP. */
  balancerSource?: string;
  /** Redis URL for shared connection records and events; unset keeps history local. */
  redisUrl?: string;
}

/** The cluster settings with nothing given: a server on its own. */
export function defaultClusterConfig(): ClusterConfig {
  return { preferredAddress: "auto" };
}

/** Thrown for any bad option or value; `message` is a single line fit for `error: …`. */
export class ConfigError extends Error {
  /** @param message One line naming the option and the offending value. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * The default listen address: `::`.
 *
 * Measured on Linux (net.ipv6.bindv6only = 0, the default) with Deno 2.9.6, clients on both
 * 127.0.0.1 and ::1:
 *
 * | host        | Deno.serve (TCP) | Deno.QuicEndpoint (UDP) |
 * | ----------- | ---------------- | ----------------------- |
 * | `::`        | v4 + v6          | v4 + v6                 |
 * | `0.0.0.0`   | v4 only          | v4 only                 |
 * | `localhost` | v4 only (binds 127.0.0.1) | v4 only        |
 * | `127.0.0.1` | v4 only          | v4 only                 |
 * | `::1`       | v6 only          | v6 only                 |
 *
 * So only `::` makes `https://localhost:9443` work whichever address `localhost` resolves to.
 * IPv4 peers then show up as `::ffff:127.0.0.1` in `Deno.serve`'s `info.remoteAddr` and in
 * `QuicIncoming.remoteAddr`, but as `127.0.0.1` in the server-side `QuicConn.remoteAddr`.
 * It listens on every interface; pass `--host ::1` or `--host 127.0.0.1` to stay local.
 */
export const DEFAULT_HOST = "::";

/** The port for HTTPS over TCP and HTTP/3 over UDP when none is given. */
export const DEFAULT_PORT = 9443;

/** The migration lab's port when none is given. */
export const DEFAULT_LAB_PORT = 9444;

/**
 * The lab's listen address when none is given: `localhost`, which the server takes as both
 * loopback addresses, 127.0.0.1 and ::1 (the latter when it can be bound), so a browser reaches
 * `https://localhost:9444/` whichever one it tries. The lab lets anyone who reaches it make the
 * server open sockets and move connections, so it is not on the network unless asked.
 */
export const DEFAULT_LAB_HOST = "localhost";

/** The configuration with nothing given. */
export function defaultConfig(): ServerConfig {
  return {
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    labPort: DEFAULT_LAB_PORT,
    labHost: DEFAULT_LAB_HOST,
    certPath: undefined,
    keyPath: undefined,
    dataDir: ".data",
    adminToken: undefined,
    logFormat: "text",
    watchIntervalMs: 50,
    watchQuietIntervalMs: 500,
    closedTtlSeconds: 3600,
    maxClosed: 10_000,
    tcpHttp2: false,
    limits: defaultLimits(),
    publicDashboard: "localhost",
    persist: true,
    persistIntervalMs: 200,
    cluster: defaultClusterConfig(),
    help: false,
  };
}

/** One configurable option: its flag, its environment variable, and how a value is applied. */
export interface OptionSpec {
  /** Long flag, e.g. `--port`. */
  flag: string;
  /** Environment variable, e.g. `QUIC_PORT`. */
  envVar: string;
  /** Placeholder shown in the help, e.g. `PORT`. */
  valueName: string;
  /** Help line (the default is appended from `defaultText`). */
  description: string;
  /** Default as shown in the help, if any. */
  defaultText?: string;
  /** Validates `value` and stores it; `source` (flag or env var name) goes in error messages. */
  apply(config: ServerConfig, value: string, source: string): void;
}

/** An option taking `true` or `false` that sets a boolean field of the config. */
export function booleanSpec(
  flag: string,
  envVar: string,
  field: "persist" | "tcpHttp2",
  description: string,
  defaultValue: boolean,
): OptionSpec {
  return {
    flag,
    envVar,
    valueName: "true|false",
    description,
    defaultText: String(defaultValue),
    apply(config, value, source) {
      if (value !== "true" && value !== "false") {
        throw new ConfigError(`${source}: ${quote(value)} is not true or false`);
      }
      config[field] = value === "true";
    },
  };
}

/** The integer fields of the config that an {@link integerSpec} can set. */
type IntegerField =
  | "watchIntervalMs"
  | "watchQuietIntervalMs"
  | "closedTtlSeconds"
  | "maxClosed"
  | "persistIntervalMs";

/**
 * An option taking a whole number from `min` to `max` that sets an integer field of the config.
 * The help shows the range and the default from {@link defaultConfig}; `what` names the value
 * in the error (e.g. "an interval in ms").
 */
export function integerSpec(
  flag: string,
  envVar: string,
  valueName: string,
  field: IntegerField,
  description: string,
  range: { min: number; max: number; what: string },
): OptionSpec {
  return {
    flag,
    envVar,
    valueName,
    description: `${description} (${range.min}-${range.max})`,
    defaultText: String(defaultConfig()[field]),
    apply(config, value, source) {
      config[field] = parseBoundedInt(value, source, range.min, range.max, range.what);
    },
  };
}

/**
 * `value` as an integer from `min` to `max`, or a ConfigError naming `source` and `what`
 * (e.g. "an interval in ms").
 */
export function parseBoundedInt(
  value: string,
  source: string,
  min: number,
  max: number,
  what: string,
): number {
  const n = boundedInt(value, min, max);
  if (n === undefined) {
    throw new ConfigError(`${source}: ${quote(value)} is not ${what} from ${min} to ${max}`);
  }
  return n;
}

/**
 * `value` as an `https://` URL without query, fragment or credentials (a server of this kind: HTTP/3
 * needs TLS), or a ConfigError naming `source`.
 */
export function parseHttpsUrl(value: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${source}: ${quote(value)} is not a URL`);
  }
  if (url.protocol !== "https:") {
    throw new ConfigError(`${source}: ${quote(value)} is not an https:// URL (HTTP/3 needs TLS)`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new ConfigError(`${source}: ${quote(value)} must not carry a query, fragment or user`);
  }
  return url;
}

/** `value` as a port from 1 to 65535, or a ConfigError naming `source`. */
export function parsePort(value: string, source: string): number {
  const port = boundedInt(value, 1, 65535);
  if (port === undefined) {
    throw new ConfigError(`${source}: ${quote(value)} is not a port (an integer from 1 to 65535)`);
  }
  return port;
}

/**
 * JSON-quotes a value so empty, spaced or control-character values stay visible on one line;
 * a long value is cut short.
 */
export function quote(value: string): string {
  const shown = excerpt(value);
  return shown === value
    ? JSON.stringify(value)
    : `${JSON.stringify(value.slice(0, 64))}… (${value.length} characters)`;
}
