/**
 * `netlab`: run a client program behind real NATs with two uplinks and check what the server
 * saw (`deno task netlab [options] -- <client command>`, `quic-server netlab …`).
 *
 * ```ts
 * Deno.exit(await runNetlab(["--events", "1s:rebind", "--", "gtlsclient", "{server_ip}", "9443"]));
 * ```
 * @module
 */

import { startTool, type ToolIO } from "../cli/tool_io.ts";
import { ConfigError } from "../cli/server_config.ts";
import { NETLAB_HELP, type NetlabOptions, parseNetlabOptions } from "./options.ts";
import { runLab } from "./run.ts";
import { type ServerApi, serverApi } from "./server_api.ts";
import { isRoot, missingPackages } from "./system.ts";

/** Where `netlab` reads and writes; every field defaults to the process's own. */
export interface NetlabIO extends ToolIO {
  /** The client's stdio (default: this process's). */
  clientStdio?: "inherit" | "null";
  /** Handle SIGINT/SIGTERM (default true; tests running netlab in-process turn it off). */
  handleSignals?: boolean;
}

/**
 * Runs `netlab` with `args` (the arguments after `netlab`) and resolves with its exit code: 0
 * when the server saw every network change exactly once, 1 otherwise, 2 for bad arguments,
 * without root, or without the tools; 130/143 when stopped by SIGINT/SIGTERM.
 */
export async function runNetlab(args: string[], io: NetlabIO = {}): Promise<number> {
  const started = await startTool<NetlabOptions, ServerApi>(
    "netlab",
    NETLAB_HELP,
    io,
    (env) => parseNetlabOptions(args, env),
    serverApi,
  );
  if (typeof started === "number") return started;
  const { options, prepared: api, stdout, stderr } = started;
  if (!isRoot()) {
    stderr("error: netlab needs root (CAP_NET_ADMIN) to create namespaces and NATs\n");
    return 2;
  }
  const missing = await missingPackages();
  if (missing.length > 0) {
    stderr(`error: netlab needs ${missing.join(", ")}: apt-get install -y ${missing.join(" ")}\n`);
    return 2;
  }
  try {
    return await runLab(options, api, {
      stdout,
      stderr,
      clientStdio: io.clientStdio ?? "inherit",
      handleSignals: io.handleSignals ?? true,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`error: ${error.message} (see netlab --help)\n`);
    return 2;
  }
}
