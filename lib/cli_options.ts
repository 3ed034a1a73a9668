/**
 * The option table behind `lib/cli.ts`: each option's flag, environment variable, help text and
 * how its value is checked and stored. Adding an option is one entry here plus its field and
 * default in `ServerConfig`.
 * @module
 */

import { type DashboardVisibility, LIMIT_OPTION_SPECS } from "./cli_limits.ts";
import { defaultLimits, type ServerLimits } from "./limits.ts";

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
  /** How long closed connections stay listed, in seconds. */
  closedTtlSeconds: number;
  /** How many closed connections stay listed at most. */
  maxClosed: number;
  /** Offer HTTP/2 over TCP besides HTTP/1.1 (default false; see `lib/server/tcp_listener.ts`). */
  tcpHttp2: boolean;
  /** Resource limits (see `lib/limits.ts`). */
  limits: ServerLimits;
  /** Who may see other clients' connections (see `lib/cli_limits.ts`). Default `localhost`. */
  publicDashboard: DashboardVisibility;
  /** Whether connection history is kept in `<dataDir>/history.kv` across restarts. */
  persist: boolean;
  /** Milliseconds from a change to its write into the history (what a kill -9 can lose). */
  persistIntervalMs: number;
  /** True when `--help`/`-h` was given; the other fields are then defaults and unchecked. */
  help: boolean;
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

/** The configuration with nothing given. */
export function defaultConfig(): ServerConfig {
  return {
    host: DEFAULT_HOST,
    port: 9443,
    labPort: 9444,
    certPath: undefined,
    keyPath: undefined,
    dataDir: ".data",
    adminToken: undefined,
    logFormat: "text",
    watchIntervalMs: 50,
    closedTtlSeconds: 3600,
    maxClosed: 10_000,
    tcpHttp2: false,
    limits: defaultLimits(),
    publicDashboard: "localhost",
    persist: true,
    persistIntervalMs: 200,
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
function booleanSpec(
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

/** Every option, in help order. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  {
    flag: "--host",
    envVar: "QUIC_HOST",
    valueName: "ADDRESS",
    description: "listen address, TCP and UDP (`::` = IPv4+IPv6, all interfaces)",
    defaultText: DEFAULT_HOST,
    apply(config, value, source) {
      const host = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
      if (host === "" || /\s/.test(host)) {
        throw new ConfigError(`${source}: ${quote(value)} is not a host name or IP address`);
      }
      config.host = host;
    },
  },
  {
    flag: "--port",
    envVar: "QUIC_PORT",
    valueName: "PORT",
    description: "port for HTTPS (TCP) and HTTP/3 (UDP)",
    defaultText: "9443",
    apply(config, value, source) {
      config.port = parsePort(value, source);
    },
  },
  {
    flag: "--lab-port",
    envVar: "QUIC_LAB_PORT",
    valueName: "PORT",
    description: "port for the migration lab; must differ from --port",
    defaultText: "9444",
    apply(config, value, source) {
      config.labPort = parsePort(value, source);
    },
  },
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
    defaultText: ".data",
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
    defaultText: "text",
    apply(config, value, source) {
      if (value !== "text" && value !== "json") {
        throw new ConfigError(`${source}: ${quote(value)} is not a log format (text or json)`);
      }
      config.logFormat = value;
    },
  },
  {
    flag: "--watch-interval",
    envVar: "QUIC_WATCH_INTERVAL",
    valueName: "MS",
    description: "how often idle QUIC connections are checked for migration (1-10000 ms)",
    defaultText: "50",
    apply(config, value, source) {
      const ms = Number(value);
      if (!/^[0-9]+$/.test(value) || ms < 1 || ms > 10_000) {
        throw new ConfigError(`${source}: ${quote(value)} is not an interval from 1 to 10000 ms`);
      }
      config.watchIntervalMs = ms;
    },
  },
  {
    flag: "--closed-ttl",
    envVar: "QUIC_CLOSED_TTL",
    valueName: "SECONDS",
    description: "how long closed connections stay listed (0-604800 s)",
    defaultText: "3600",
    apply(config, value, source) {
      config.closedTtlSeconds = parseBoundedInt(value, source, 0, 604_800, "a number of seconds");
    },
  },
  {
    flag: "--max-closed",
    envVar: "QUIC_MAX_CLOSED",
    valueName: "N",
    description: "how many closed connections stay listed at most (0-1000000)",
    defaultText: "10000",
    apply(config, value, source) {
      config.maxClosed = parseBoundedInt(value, source, 0, 1_000_000, "a count");
    },
  },
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
  {
    flag: "--persist-interval",
    envVar: "QUIC_PERSIST_INTERVAL",
    valueName: "MS",
    description: "ms from a change to its write into the history (10-60000)",
    defaultText: "200",
    apply(config, value, source) {
      config.persistIntervalMs = parseBoundedInt(value, source, 10, 60_000, "an interval in ms");
    },
  },
];

/** `value` as an integer from `min` to `max`, or a ConfigError naming `source` and `what`. */
export function parseBoundedInt(
  value: string,
  source: string,
  min: number,
  max: number,
  what: string,
): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < min || n > max) {
    throw new ConfigError(`${source}: ${quote(value)} is not ${what} from ${min} to ${max}`);
  }
  return n;
}

function parsePort(value: string, source: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ConfigError(`${source}: ${quote(value)} is not a port (an integer from 1 to 65535)`);
  }
  return port;
}

/** JSON-quotes a value so empty, spaced or control-character values stay visible on one line. */
export function quote(value: string): string {
  return JSON.stringify(value);
}
