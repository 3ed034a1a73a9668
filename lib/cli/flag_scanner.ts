/**
 * The one scanner of command-line flags, shared by the server and its sub-commands (`migrate`,
 * `netlab`, `cluster`): `--flag value` and `--flag=value`, `-h`/`--help` anywhere, environment
 * variables standing for flags (the command line wins), and the first mistake kept as a
 * one-line {@link ConfigError}. What a value means is left to each command's own table.
 *
 * ```ts
 * const scan = scanFlags(["--port", "8443"], {}, { isFlag: (f) => f === "--port" });
 * scan.given; // [{ flag: "--port", value: "8443", source: "--port" }]
 * ```
 * @module
 */

import { ConfigError, quote } from "./server_config.ts";

/** A flag's raw value and where it came from (the flag itself or an environment variable). */
export interface GivenFlag {
  flag: string;
  value: string;
  source: string;
}

/** What {@link scanFlags} found. */
export interface ScannedFlags {
  /** Environment values first, then the command line's, in order. */
  given: GivenFlag[];
  /** True when `-h`/`--help` appeared (then `error` is not to be reported). */
  help: boolean;
  /** The first mistake, if any. */
  error?: ConfigError;
}

/** How one command's flags are told apart. */
export interface FlagRules {
  /** Whether `name` is one of the command's flags. */
  isFlag(name: string): boolean;
  /** Environment variables that stand for flags, `[variable, flag]`. */
  envFlags?: ReadonlyArray<readonly [envVar: string, flag: string]>;
  /** How the value is named in "needs a value" (e.g. `(PORT)`), per flag. */
  valueName?(flag: string): string | undefined;
  /** Added to "unexpected argument" (e.g. where a command's own arguments go). */
  strayHint?: string;
}

/** Scans `args` (and `env`) by `rules`. Never throws: a mistake is returned in `error`. */
export function scanFlags(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  rules: FlagRules,
): ScannedFlags {
  const given: GivenFlag[] = [];
  for (const [envVar, flag] of rules.envFlags ?? []) {
    const value = env[envVar];
    if (value !== undefined && value !== "") given.push({ flag, value, source: envVar });
  }
  let help = false;
  let error: ConfigError | undefined;
  for (let index = 0; index < args.length; index++) {
    const argument = args[index];
    const equalsAt = argument.indexOf("=");
    const name = argument.startsWith("--") && equalsAt > 0 ? argument.slice(0, equalsAt) : argument;
    let value = name === argument ? undefined : argument.slice(equalsAt + 1);
    if (name === "--help" || name === "-h") {
      if (value === undefined) help = true;
      else error ??= new ConfigError(`${name} takes no value, got ${quote(value)}`);
      continue;
    }
    if (!rules.isFlag(name)) {
      error ??= new ConfigError(
        argument.startsWith("-")
          ? `unknown option ${quote(name)}`
          : `unexpected argument ${quote(argument)}${rules.strayHint ?? ""}`,
      );
      continue;
    }
    const next = args[index + 1];
    if (value === undefined && next !== undefined && !next.startsWith("--")) {
      value = next;
      index++;
    }
    if (value === undefined || value === "") {
      const valueName = rules.valueName?.(name);
      error ??= new ConfigError(`${name} needs a value${valueName ? ` (${valueName})` : ""}`);
      continue;
    }
    given.push({ flag: name, value, source: name });
  }
  return { given, help, error };
}

/** The last value given for each flag (the command line's over the environment's), in order. */
export function lastPerFlag(given: readonly GivenFlag[]): GivenFlag[] {
  const last = new Map<string, GivenFlag>();
  for (const entry of given) {
    last.delete(entry.flag);
    last.set(entry.flag, entry);
  }
  return [...last.values()];
}
