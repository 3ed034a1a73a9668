/**
 * Command-line and environment configuration for the server.
 *
 * Every option has a flag (`--port 9443` or `--port=9443`) and an environment variable
 * (`QUIC_PORT`); the flag wins. An empty environment variable counts as unset. Bad input throws a
 * {@link ConfigError} whose message is one line naming the option and the value.
 *
 * To add an option: add a field to {@link ServerConfig}, its default to `defaultConfig`, and one
 * entry to `OPTION_SPECS` (the help text is built from that table).
 *
 * ```ts
 * const config = configOrExit(Deno.args, Deno.env.toObject());
 * const adminToken = config.adminToken ?? generateAdminToken();
 * ```
 * @module
 */

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
    help: false,
  };
}

/** One configurable option: its flag, its environment variable, and how a value is applied. */
interface OptionSpec {
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

const OPTION_SPECS: readonly OptionSpec[] = [
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
];

function parseBoundedInt(
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

const HELP_FLAGS: ReadonlySet<string> = new Set(["--help", "-h"]);

/** Usage text for `--help`, built from the option table. */
export const HELP: string = buildHelp();

function buildHelp(): string {
  const left = (spec: OptionSpec) => `${spec.flag} ${spec.valueName}`;
  const width = Math.max(...OPTION_SPECS.map((spec) => left(spec).length), "-h, --help".length);
  const lines = OPTION_SPECS.map((spec) => {
    const defaultNote = spec.defaultText ? ` (default: ${spec.defaultText})` : "";
    return `  ${left(spec).padEnd(width)}  ${spec.description}${defaultNote}\n` +
      `  ${"".padEnd(width)}  env: ${spec.envVar}`;
  });
  return [
    "HTTP/3 QUIC connection-migration server",
    "",
    "Usage: main.ts [options]",
    "",
    "Options (each also from its environment variable; the command line wins):",
    ...lines,
    `  ${"-h, --help".padEnd(width)}  show this help and exit`,
    "",
    "Flags take `--opt value` or `--opt=value`.",
  ].join("\n");
}

/**
 * Builds the configuration from command-line arguments and environment variables.
 *
 * Precedence: command line, then environment, then defaults. If `--help`/`-h` appears anywhere,
 * returns the defaults with `help: true` and reports no other error.
 *
 * @param args Command-line arguments, without the program name (`Deno.args`).
 * @param env Environment variables (`Deno.env.toObject()`); empty values count as unset.
 * @throws {ConfigError} for an unknown option, a missing or bad value, only one of
 *   `--cert`/`--key`, or `--lab-port` equal to `--port`.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServerConfig {
  /** Raw value and where it came from, per option flag; flags overwrite env entries. */
  const given = new Map<string, { value: string; source: string }>();
  for (const spec of OPTION_SPECS) {
    const value = env[spec.envVar];
    if (value !== undefined && value !== "") given.set(spec.flag, { value, source: spec.envVar });
  }

  let firstError: ConfigError | undefined;
  let help = false;
  for (let index = 0; index < args.length; index++) {
    const argument = args[index];
    const equalsAt = argument.indexOf("=");
    const name = argument.startsWith("--") && equalsAt > 0 ? argument.slice(0, equalsAt) : argument;
    const inlineValue = name === argument ? undefined : argument.slice(equalsAt + 1);

    if (HELP_FLAGS.has(name)) {
      if (inlineValue === undefined) help = true;
      else firstError ??= new ConfigError(`${name} takes no value, got ${quote(inlineValue)}`);
      continue;
    }
    const spec = OPTION_SPECS.find((candidate) => candidate.flag === name);
    if (!spec) {
      firstError ??= new ConfigError(
        argument.startsWith("-")
          ? `unknown option ${quote(name)}`
          : `unexpected argument ${quote(argument)}`,
      );
      continue;
    }
    let value = inlineValue;
    if (value === undefined) {
      const next = args[index + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        index++;
      }
    }
    if (value === undefined || value === "") {
      firstError ??= new ConfigError(`${spec.flag} needs a value (${spec.valueName})`);
      continue;
    }
    given.set(spec.flag, { value, source: spec.flag });
  }

  const config = defaultConfig();
  if (help) return { ...config, help: true };
  if (firstError) throw firstError;

  for (const spec of OPTION_SPECS) {
    const entry = given.get(spec.flag);
    if (entry) spec.apply(config, entry.value, entry.source);
  }
  checkCombinations(config, given);
  return config;
}

/** Cross-option rules, checked after every value is individually valid. */
function checkCombinations(
  config: ServerConfig,
  given: ReadonlyMap<string, { value: string; source: string }>,
): void {
  const cert = given.get("--cert");
  const key = given.get("--key");
  if (cert && !key) {
    throw new ConfigError(`${cert.source} ${quote(cert.value)} given without --key (QUIC_KEY)`);
  }
  if (key && !cert) {
    throw new ConfigError(`${key.source} ${quote(key.value)} given without --cert (QUIC_CERT)`);
  }
  if (config.labPort === config.port) {
    const labSource = given.get("--lab-port")?.source ?? "--lab-port";
    const portSource = given.get("--port")?.source ?? "--port";
    throw new ConfigError(
      `${labSource} ${config.labPort} must differ from ${portSource} ${config.port}`,
    );
  }
}

/**
 * {@link parseConfig} for a program's entry point: on `--help` prints {@link HELP} and exits 0;
 * on a {@link ConfigError} prints `error: <message> (see --help)` to stderr and exits 2.
 * Other errors propagate.
 */
export function configOrExit(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServerConfig {
  let config: ServerConfig;
  try {
    config = parseConfig(args, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`error: ${error.message} (see --help)`);
    Deno.exit(2);
  }
  if (config.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  return config;
}

/** A fresh admin token: 32 random bytes, base64url without padding (43 characters). */
export function generateAdminToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function parsePort(value: string, source: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ConfigError(`${source}: ${quote(value)} is not a port (an integer from 1 to 65535)`);
  }
  return port;
}

/** JSON-quotes a value so empty, spaced or control-character values stay visible on one line. */
function quote(value: string): string {
  return JSON.stringify(value);
}
