/**
 * What the sub-commands (`migrate`, `netlab`, `cluster`) share around their own work: where their
 * text goes (injectable for tests), the environment variables a tool that talks to a server reads,
 * and the one way a bad command line ends: `error: <one line> (see <tool> --help)` and exit 2.
 *
 * ```ts
 * const started = await startTool("migrate", MIGRATE_HELP, io, parseMigrateOptions, readTrust);
 * if (typeof started === "number") return started; // --help (0) or a bad option (2)
 * ```
 * @module
 */

import { ConfigError } from "./server_config.ts";

/** Where a tool's text goes and what environment it reads; each defaults to this process's. */
export interface ToolIO {
  /** Results and `--help`. */
  stdout?: (text: string) => void;
  /** Progress and errors. */
  stderr?: (text: string) => void;
  /** Environment variables (`QUIC_ADMIN_TOKEN`, `QUIC_DATA_DIR`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The variables a tool that talks to this server reads, and the flag each stands for. */
export const SERVER_TOOL_ENV_FLAGS: ReadonlyArray<readonly [envVar: string, flag: string]> = [
  ["QUIC_DATA_DIR", "--data-dir"],
  ["QUIC_ADMIN_TOKEN", "--admin-token"],
];

/** A function writing text whole to `file` (a partial write goes on until all is written). */
export function writerTo(file: { writeSync(p: Uint8Array): number }): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    const bytes = encoder.encode(text);
    for (let written = 0; written < bytes.length;) {
      written += file.writeSync(bytes.subarray(written));
    }
  };
}

/** A tool ready to run: its options, what `prepare` made of them, and its outputs. */
export interface StartedTool<O, P> {
  options: O;
  prepared: P;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * Parses a tool's options and prepares what it needs, or ends it: `--help` prints `help` (exit
 * code 0); a `ConfigError` from parsing or preparing prints one line (exit code 2). Other errors
 * propagate.
 */
export async function startTool<O extends { help: boolean }, P>(
  name: string,
  help: string,
  io: ToolIO,
  parse: (env: Readonly<Record<string, string | undefined>>) => O,
  prepare: (options: O) => P | Promise<P>,
): Promise<StartedTool<O, P> | number> {
  const stdout = io.stdout ?? writerTo(Deno.stdout);
  const stderr = io.stderr ?? writerTo(Deno.stderr);
  try {
    const options = parse(io.env ?? Deno.env.toObject());
    if (options.help) {
      stdout(help + "\n");
      return 0;
    }
    return { options, prepared: await prepare(options), stdout, stderr };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`error: ${error.message} (see ${name} --help)\n`);
    return 2;
  }
}
