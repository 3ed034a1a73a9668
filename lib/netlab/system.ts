/**
 * The network lab's only contact with the system's tools: runs one {@link Command} (`ip`, `nft`,
 * `conntrack`, `sysctl`, `tc`) and says whether this process may change the network.
 * @module
 */

import type { Command } from "./topology.ts";

/** A command's result. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that failed, with its command line and what it printed. */
export class CommandError extends Error {
  /** @param command the command that failed @param result what it returned */
  constructor(readonly command: Command, readonly result: CommandResult) {
    super(`${command.argv.join(" ")}: ${result.stderr.trim() || `exit ${result.code}`}`);
    this.name = "CommandError";
  }
}

/** Upper bound for one administrative command (they take milliseconds). */
const COMMAND_TIMEOUT_MS = 15_000;

/** Runs `command` and returns its result; never throws for a non-zero exit. */
export async function runCommand(command: Command): Promise<CommandResult> {
  const child = new Deno.Command(command.argv[0], {
    args: command.argv.slice(1),
    stdin: command.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
  }).spawn();
  if (command.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(command.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `command`; throws a {@link CommandError} when it fails. */
export async function mustRun(command: Command): Promise<string> {
  const result = await runCommand(command);
  if (result.code !== 0) throw new CommandError(command, result);
  return result.stdout;
}

/** The tools the lab needs and the Debian package of each. */
export const REQUIRED_TOOLS: ReadonlyArray<{ command: string; pkg: string }> = [
  { command: "ip", pkg: "iproute2" },
  { command: "tc", pkg: "iproute2" },
  { command: "nft", pkg: "nftables" },
  { command: "conntrack", pkg: "conntrack" },
];

/** The packages of the required tools that are not on the PATH. */
export async function missingPackages(): Promise<string[]> {
  const missing = new Set<string>();
  for (const tool of REQUIRED_TOOLS) {
    const found = await runCommand({ argv: ["sh", "-c", `command -v ${tool.command}`] });
    if (found.code !== 0) missing.add(tool.pkg);
  }
  return [...missing];
}

/** True when this process runs as root (the lab needs CAP_NET_ADMIN). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}
