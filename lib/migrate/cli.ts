/**
 * `migrate`: the command-line migration checker (`deno task migrate`, `quic-server migrate`).
 *
 * It opens `--concurrency` HTTP/3 connections to the server's migration lab (`--url`), keeps
 * requests to `/api/test` flowing on each, has the lab move each connection `--migrations` times
 * (as admin with a token, else each connection moves itself with `"self"`), shows progress on
 * stderr, prints a table on stdout, and returns the exit code: 0 when every request succeeded and
 * every migration was detected, 1 otherwise, 2 for a bad option.
 *
 * ```ts
 * Deno.exit(await runMigrate(["--url", "https://localhost:9444", "--migrations", "5"]));
 * ```
 * @module
 */

import { startTool, type ToolIO } from "../cli/tool_io.ts";
import { ConfigError } from "../cli/config.ts";
import type { H3Client } from "../h3/client.ts";
import {
  connectFailure,
  connectToLab,
  messageOf,
  newConnectionReport,
  runLabConnection,
} from "./lab_connection_run.ts";
import { withTimeout } from "../timeout.ts";
import { MIGRATE_HELP, type MigrateOptions, parseMigrateOptions } from "./options.ts";
import { formatReportTable, ProgressLine, reportsPassed } from "./report.ts";

/** Where `migrate` reads and writes; every field defaults to the process's own. */
export interface MigrateIO extends ToolIO {
  /** Whether stderr is a terminal (then progress is one line redrawn in place). */
  stderrIsTerminal?: boolean;
}

/** Keep-alive on the admin control connection, which may wait long for the lab's report. */
const CONTROL_KEEP_ALIVE_MS = 1_000;

/**
 * Runs `migrate` with `args` (the arguments after `migrate`) and resolves with its exit code.
 * Never throws for bad input or an unreachable server; those are reported and give 2 or 1.
 */
export async function runMigrate(args: string[], io: MigrateIO = {}): Promise<number> {
  const started = await startTool(
    "migrate",
    MIGRATE_HELP,
    io,
    (env) => parseMigrateOptions(args, env),
    readTrust,
  );
  if (typeof started === "number") return started;
  const { options, prepared: trust, stdout, stderr } = started;

  const mode = trust.adminToken === undefined ? "self" : "admin";
  const reports = Array.from(
    { length: options.concurrency },
    (_, i) => newConnectionReport(i, mode),
  );
  stderr(
    `migrate: ${options.concurrency} connection(s) to ${options.target.url}, ` +
      `${options.migrations} ${options.kind} migration(s) each, ${options.intervalMs} ms apart; ` +
      `trusting ${trust.caSource}; ` +
      (mode === "admin"
        ? `moved by the lab as admin (token from ${trust.adminTokenSource})\n`
        : 'each connection moves itself ("self"; no admin token)\n'),
  );
  const progress = new ProgressLine(reports, options.migrations, {
    write: stderr,
    isTerminal: io.stderrIsTerminal ?? (io.stderr === undefined && Deno.stderr.isTerminal()),
  });
  let control: H3Client | undefined;
  try {
    if (trust.adminToken !== undefined) {
      try {
        control = await connectToLab(options.target, trust.caCerts, CONTROL_KEEP_ALIVE_MS);
      } catch (error) {
        const why = `control connection: ${connectFailure(options.target, error)}`;
        for (const report of reports) report.error = why;
      }
    }
    if (trust.adminToken === undefined || control !== undefined) {
      await Promise.all(reports.map((report) =>
        runLabConnection({
          target: options.target,
          caCerts: trust.caCerts,
          migrations: options.migrations,
          kind: options.kind,
          intervalMs: options.intervalMs,
          admin: control && trust.adminToken !== undefined
            ? { token: trust.adminToken, control }
            : undefined,
        }, report)
      ));
    }
  } finally {
    progress.stop();
    if (control !== undefined) {
      control.close();
      await withTimeout(control.closed, 1000, "closing").catch(() => {});
    }
  }
  for (const report of reports) {
    if (report.error !== undefined) {
      stderr(`error: connection ${report.position + 1}: ${report.error}\n`);
    }
  }
  stdout(formatReportTable(reports, options.migrations));
  return reportsPassed(reports, options.migrations) ? 0 : 1;
}

/** The certificates to trust and the admin token, read from the files the options name. */
interface Trust {
  caCerts?: string[];
  /** Where {@link caCerts} came from, for the first line. */
  caSource: string;
  adminToken?: string;
  adminTokenSource?: string;
}

/**
 * Reads `--ca` (or `<data-dir>/certs/ca.pem` if present) and the admin token (option, env, or
 * `<data-dir>/admin-token` if present).
 * @throws {ConfigError} if `--ca` cannot be read or holds no PEM certificate.
 */
async function readTrust(options: MigrateOptions): Promise<Trust> {
  const trust: Trust = { caSource: "the system's root certificates" };
  if (options.caPath !== undefined) {
    let pem: string;
    try {
      pem = await Deno.readTextFile(options.caPath);
    } catch (error) {
      throw new ConfigError(
        `--ca: cannot read ${JSON.stringify(options.caPath)}: ${messageOf(error)}`,
      );
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new ConfigError(`--ca: ${JSON.stringify(options.caPath)} holds no PEM certificate`);
    }
    trust.caCerts = [pem];
    trust.caSource = options.caPath;
  } else {
    const defaultCa = `${options.dataDir}/certs/ca.pem`;
    const pem = await readIfPresent(defaultCa);
    if (pem !== undefined) {
      trust.caCerts = [pem];
      trust.caSource = defaultCa;
    }
  }
  if (options.adminToken !== undefined) {
    trust.adminToken = options.adminToken;
    trust.adminTokenSource = options.adminTokenSource;
  } else {
    const tokenFile = `${options.dataDir}/admin-token`;
    const token = (await readIfPresent(tokenFile))?.trim();
    if (token) {
      trust.adminToken = token;
      trust.adminTokenSource = tokenFile;
    }
  }
  return trust;
}

/** A file's text, or undefined if it does not exist or cannot be read. */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}
