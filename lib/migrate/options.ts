/**
 * Command-line options of `migrate`, the migration checker (see `cli.ts` beside this file).
 *
 * Flags take `--opt value` or `--opt=value`, as the server's do (`lib/cli/`); a bad value
 * throws a {@link ConfigError} whose message is one line naming the option and the value.
 *
 * ```ts
 * const options = parseMigrateOptions(["--migrations", "5"], Deno.env.toObject());
 * options.target.port; // 9444
 * ```
 * @module
 */

import { SERVER_TOOL_ENV_FLAGS } from "../cli/tool_io.ts";
import { ConfigError, parseBoundedInt, parseHttpsUrl, quote } from "../cli/server_config.ts";
import { lastPerFlag, scanFlags } from "../cli/flag_scanner.ts";

/** How the lab rebinds the path: a new source port, a new loopback address, or alternating. */
export type MigrationKind = "port" | "address" | "mixed";

/** Where the lab is, taken apart from `--url`. */
export interface LabTarget {
  /** The URL as given, normalised (`https://localhost:9444/`). */
  url: string;
  /** Host to connect to, without IPv6 brackets. */
  hostname: string;
  /** Also the TLS server name (SNI) and the `:authority` host. */
  serverName: string;
  port: number;
  /** Path prefix for API paths, without a trailing slash (`""` for the root). */
  pathBase: string;
}

/** Everything `migrate` is configured with. Files are named, not yet read. */
export interface MigrateOptions {
  target: LabTarget;
  /** Migrations per connection, 1–1000. */
  migrations: number;
  kind: MigrationKind;
  /** Pause between migrations in ms, 0–10000. */
  intervalMs: number;
  /** Independent lab connections, each migrated {@link migrations} times, 1–100. */
  concurrency: number;
  /** PEM file to trust from `--ca`; undefined means `<data-dir>/certs/ca.pem` if it exists. */
  caPath?: string;
  /** Where a running server keeps `certs/ca.pem` and `admin-token`. Default `.data`. */
  dataDir: string;
  /** From `--admin-token` or `QUIC_ADMIN_TOKEN`; else `<data-dir>/admin-token` may supply one. */
  adminToken?: string;
  /** Where {@link adminToken} came from (`--admin-token`, `QUIC_ADMIN_TOKEN`). */
  adminTokenSource?: string;
  /** True when `--help`/`-h` was given; the other fields are then defaults. */
  help: boolean;
}

/** The lab a server started with defaults listens on. */
export const DEFAULT_LAB_URL = "https://localhost:9444";

/** Usage text for `migrate --help`. */
export const MIGRATE_HELP: string = [
  "Moves live HTTP/3 connections through the server's migration lab and checks that the",
  "server follows every move while requests keep flowing.",
  "",
  "Usage: main.ts migrate [options]      (deno task migrate …, quic-server migrate …)",
  "",
  "Options:",
  `  --url URL            the migration lab (default: ${DEFAULT_LAB_URL})`,
  "  --migrations N       migrations per connection, 1-1000 (default: 10)",
  "  --kind KIND          port, address or mixed (alternating; default: mixed)",
  "  --interval MS        pause between migrations, 0-10000 ms (default: 500)",
  "  --concurrency C      independent lab connections, each migrated N times, 1-100 (default: 1)",
  "  --ca FILE            PEM certificate(s) to trust (default: <data-dir>/certs/ca.pem if present)",
  "  --data-dir DIR       the server's data directory (default: .data; env: QUIC_DATA_DIR)",
  "  --admin-token TOKEN  move connections as admin (env: QUIC_ADMIN_TOKEN;",
  "                       default: <data-dir>/admin-token if present; without one each",
  '                       connection moves itself with "self")',
  "  -h, --help           show this help and exit",
  "",
  "Exit code: 0 if every request succeeded and every migration was detected, 1 otherwise,",
  "2 for a bad option.",
].join("\n");

/** Each flag and how its value is applied. */
const APPLY: Readonly<
  Record<string, (options: MigrateOptions, value: string, source: string) => void>
> = {
  "--url": (options, value, source) => (options.target = parseLabUrl(value, source)),
  "--migrations": (
    options,
    value,
    source,
  ) => (options.migrations = parseBoundedInt(value, source, 1, 1000, "a count")),
  "--kind": (options, value, source) => {
    if (value !== "port" && value !== "address" && value !== "mixed") {
      throw new ConfigError(`${source}: ${quote(value)} is not a kind (port, address or mixed)`);
    }
    options.kind = value;
  },
  "--interval": (
    options,
    value,
    source,
  ) => (options.intervalMs = parseBoundedInt(value, source, 0, 10_000, "an interval in ms")),
  "--concurrency": (
    options,
    value,
    source,
  ) => (options.concurrency = parseBoundedInt(value, source, 1, 100, "a number of connections")),
  "--ca": (options, value) => (options.caPath = value),
  "--data-dir": (options, value) => (options.dataDir = value),
  "--admin-token": (options, value, source) => {
    options.adminToken = value;
    options.adminTokenSource = source;
  },
};

/**
 * Builds `migrate`'s options from its arguments (after `migrate`) and the environment. If
 * `--help`/`-h` appears anywhere, returns the defaults with `help: true` and reports no error.
 *
 * @throws {ConfigError} for an unknown option, a missing or bad value.
 */
export function parseMigrateOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): MigrateOptions {
  const scan = scanFlags(args, env, {
    isFlag: (name) => name in APPLY,
    envFlags: SERVER_TOOL_ENV_FLAGS,
  });
  const options: MigrateOptions = {
    target: parseLabUrl(DEFAULT_LAB_URL, "default"),
    migrations: 10,
    kind: "mixed",
    intervalMs: 500,
    concurrency: 1,
    dataDir: ".data",
    help: scan.help,
  };
  if (scan.help) return options;
  if (scan.error) throw scan.error;
  for (const { flag, value, source } of lastPerFlag(scan.given)) {
    APPLY[flag](options, value, source);
  }
  return options;
}

/** Takes the lab's URL apart: `https://host[:port][/base]`, port 443 when not given. */
export function parseLabUrl(value: string, source: string): LabTarget {
  const url = parseHttpsUrl(value, source);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    url: url.href,
    hostname,
    serverName: hostname,
    port: url.port === "" ? 443 : Number(url.port),
    pathBase: url.pathname.replace(/\/+$/, ""),
  };
}
