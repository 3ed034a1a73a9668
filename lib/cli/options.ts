/**
 * The server's option table: each option's flag, environment variable, help text and how its
 * value is checked and stored. Adding an option is one entry here plus its field and default in
 * `ServerConfig` (`server_config.ts`); a resource limit is one entry in `lib/limits.ts` instead.
 * The help (`config.ts`) and the README's option table (`options_table.ts`) are built from it.
 * @module
 */

import { LIMIT_OPTION_SPECS } from "./limit_options.ts";
import { CLUSTER_OPTION_SPECS } from "./cluster_options.ts";
import {
  booleanSpec,
  ConfigError,
  DEFAULT_HOST,
  DEFAULT_LAB_HOST,
  DEFAULT_LAB_PORT,
  DEFAULT_PORT,
  defaultConfig,
  integerSpec,
  type OptionSpec,
  parsePort,
  quote,
} from "./server_config.ts";

/** An option taking a port number for `field`. */
function portSpec(
  flag: string,
  envVar: string,
  field: "port" | "labPort",
  description: string,
  defaultPort: number,
): OptionSpec {
  return {
    flag,
    envVar,
    valueName: "PORT",
    description,
    defaultText: String(defaultPort),
    apply(config, value, source) {
      config[field] = parsePort(value, source);
    },
  };
}

/** Validates a listen address for `field`: brackets around an IPv6 literal are dropped. */
function hostSpec(
  flag: string,
  envVar: string,
  field: "host" | "labHost",
  description: string,
  defaultHost: string,
): OptionSpec {
  return {
    flag,
    envVar,
    valueName: "ADDRESS",
    description,
    defaultText: defaultHost,
    apply(config, value, source) {
      const host = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
      if (host === "" || /\s/.test(host)) {
        throw new ConfigError(`${source}: ${quote(value)} is not a host name or IP address`);
      }
      config[field] = host;
    },
  };
}

/** Every option, in help order. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  hostSpec(
    "--host",
    "QUIC_HOST",
    "host",
    "listen address, TCP and UDP (`::` = IPv4+IPv6, all interfaces)",
    DEFAULT_HOST,
  ),
  portSpec("--port", "QUIC_PORT", "port", "port for HTTPS (TCP) and HTTP/3 (UDP)", DEFAULT_PORT),
  portSpec(
    "--lab-port",
    "QUIC_LAB_PORT",
    "labPort",
    "port for the migration lab; must differ from --port",
    DEFAULT_LAB_PORT,
  ),
  hostSpec(
    "--lab-host",
    "QUIC_LAB_HOST",
    "labHost",
    "listen address of the migration lab, TCP and UDP (`localhost` = 127.0.0.1 and ::1; `::` opens it to the network)",
    DEFAULT_LAB_HOST,
  ),
  {
    flag: "--cert",
    envVar: "QUIC_CERT",
    valueName: "FILE",
    description: "PEM certificate chain, leaf first (with --key; else dev certificates are made)",
    apply(config, value) {
      config.certPath = value;
    },
  },
  {
    flag: "--key",
    envVar: "QUIC_KEY",
    valueName: "FILE",
    description: "PEM private key for --cert",
    apply(config, value) {
      config.keyPath = value;
    },
  },
  {
    flag: "--data-dir",
    envVar: "QUIC_DATA_DIR",
    valueName: "DIR",
    description: "directory for runtime data and generated certificates",
    defaultText: defaultConfig().dataDir,
    apply(config, value) {
      config.dataDir = value;
    },
  },
  {
    flag: "--admin-token",
    envVar: "QUIC_ADMIN_TOKEN",
    valueName: "TOKEN",
    description: "bearer token for admin endpoints",
    defaultText: "random, kept in <data-dir>/admin-token (mode 0600)",
    apply(config, value) {
      config.adminToken = value;
    },
  },
  {
    flag: "--log-format",
    envVar: "QUIC_LOG_FORMAT",
    valueName: "text|json",
    description: "log line format",
    defaultText: defaultConfig().logFormat,
    apply(config, value, source) {
      if (value !== "text" && value !== "json") {
        throw new ConfigError(`${source}: ${quote(value)} is not a log format (text or json)`);
      }
      config.logFormat = value;
    },
  },
  integerSpec(
    "--watch-interval",
    "QUIC_WATCH_INTERVAL",
    "MS",
    "watchIntervalMs",
    "ms between migration checks of QUIC connections that carry stream data (a request checks its own)",
    { min: 1, max: 10_000, what: "an interval in ms" },
  ),
  integerSpec(
    "--watch-quiet-interval",
    "QUIC_WATCH_QUIET_INTERVAL",
    "MS",
    "watchQuietIntervalMs",
    "ms between migration checks of quiet QUIC connections (no request, no stream data; taken as --watch-interval when shorter)",
    { min: 1, max: 60_000, what: "an interval in ms" },
  ),
  integerSpec(
    "--closed-ttl",
    "QUIC_CLOSED_TTL",
    "SECONDS",
    "closedTtlSeconds",
    "seconds a closed connection stays listed",
    { min: 0, max: 604_800, what: "a number of seconds" },
  ),
  integerSpec(
    "--max-closed",
    "QUIC_MAX_CLOSED",
    "N",
    "maxClosed",
    "closed connections listed at most",
    { min: 0, max: 1_000_000, what: "a count" },
  ),
  booleanSpec(
    "--tcp-h2",
    "QUIC_TCP_H2",
    "tcpHttp2",
    "offer HTTP/2 over TCP besides HTTP/1.1 (off: in Deno 2.9.6 a peer's GOAWAY can abort the process, denoland/deno#36788)",
    false,
  ),
  ...LIMIT_OPTION_SPECS,
  booleanSpec(
    "--persist",
    "QUIC_PERSIST",
    "persist",
    "keep connection history in <data-dir>/history.kv across restarts",
    true,
  ),
  integerSpec(
    "--persist-interval",
    "QUIC_PERSIST_INTERVAL",
    "MS",
    "persistIntervalMs",
    "ms from a change to its write into the history: what a kill -9 can lose",
    { min: 10, max: 60_000, what: "an interval in ms" },
  ),
  ...CLUSTER_OPTION_SPECS,
];
