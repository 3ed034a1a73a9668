/**
 * Command-line and environment configuration for the server.
 *
 * Every option has a flag (`--port 9443` or `--port=9443`) and an environment variable
 * (`QUIC_PORT`); the flag wins. An empty environment variable counts as unset. Bad input throws a
 * {@link ConfigError} whose message is one line naming the option and the value.
 *
 * To add an option: add a field to `ServerConfig` and its default to `defaultConfig`
 * (`server_config.ts`), and one entry to `OPTION_SPECS` (`options.ts`); the help text is built from
 * that table. A resource limit is one entry in `lib/limits.ts`.
 *
 * ```ts
 * const config = configOrExit(Deno.args, Deno.env.toObject());
 * console.log(config.port);
 * ```
 * @module
 */

import { OPTION_SPECS } from "./options.ts";
import { lastPerFlag, scanFlags } from "./flag_scanner.ts";
import { checkClusterOptions } from "./cluster_options.ts";
import {
  ConfigError,
  defaultConfig,
  type OptionSpec,
  quote,
  type ServerConfig,
} from "./server_config.ts";

export { ConfigError, DEFAULT_HOST, defaultConfig } from "./server_config.ts";
export type { LogFormat, ServerConfig } from "./server_config.ts";

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
  // `deno task start -- --port 8443` passes the `--` on (the npm habit): the server takes no
  // operands, so a leading one only separates the task from its options.
  if (args[0] === "--") args = args.slice(1);
  const scan = scanFlags(args, env, {
    isFlag: (name) => SPECS_BY_FLAG.has(name),
    envFlags: OPTION_SPECS.map((spec) => [spec.envVar, spec.flag] as const),
    valueName: (flag) => SPECS_BY_FLAG.get(flag)?.valueName,
  });
  const config = defaultConfig();
  if (scan.help) return { ...config, help: true };
  if (scan.error) throw scan.error;
  const given = new Map<string, { value: string; source: string }>();
  for (const entry of lastPerFlag(scan.given)) {
    SPECS_BY_FLAG.get(entry.flag)!.apply(config, entry.value, entry.source);
    given.set(entry.flag, entry);
  }
  checkCombinations(config, given);
  return config;
}

const SPECS_BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(
  OPTION_SPECS.map((spec) => [spec.flag, spec]),
);

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
  checkClusterOptions(config);
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
