/**
 * Process helpers for `bench/run.ts`: long-running servers whose readiness is a line they
 * print or a socket they bind (an event, never a fixed sleep), one-shot commands, timed client
 * runs, /proc readings and free loopback ports.
 * Every wait here is bounded in time.
 * @module
 */

import { parseProcStat } from "./proc_stat.ts";

const MAX_KEPT_LINES = 200;

/** A spawned server whose stdout and stderr are read line by line until it exits. */
export class ServerProcess {
  /** The last lines the server printed (both streams), for diagnostics. */
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #watchers = new Set<(line: string) => void>();
  readonly #done: Promise<Deno.CommandStatus>;
  #exited: Deno.CommandStatus | null = null;

  private constructor(readonly name: string, child: Deno.ChildProcess) {
    this.#child = child;
    const pumps = [this.#pump(child.stdout), this.#pump(child.stderr)];
    this.#done = Promise.all([child.status, ...pumps]).then(([status]) => {
      this.#exited = status;
      return status;
    });
  }

  /** Spawns `cmd` with piped output; `env` is added to the inherited environment. */
  static spawn(
    name: string,
    cmd: string[],
    env: Record<string, string> = {},
    onLine?: (line: string) => void,
  ): ServerProcess {
    const child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    const server = new ServerProcess(name, child);
    if (onLine) server.#watchers.add(onLine);
    return server;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited !== null;
  }

  /** Sends `sig`; a process that is already gone is ignored. */
  signal(sig: Deno.Signal): void {
    try {
      this.#child.kill(sig);
    } catch { /* already gone */ }
  }

  /**
   * Resolves with the first printed line containing `marker` (including lines already
   * printed); rejects on exit or after `timeoutMs`.
   */
  waitForLine(marker: string, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((line) => line.includes(marker));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, line = "") => {
        clearTimeout(timer);
        this.#watchers.delete(watch);
        if (error) reject(error);
        else resolve(line);
      };
      const watch = (line: string) => {
        if (line.includes(marker)) finish(undefined, line);
      };
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no "${marker}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#watchers.add(watch);
      this.#done.then((status) =>
        finish(new Error(`${this.name} exited (code ${status.code}) before "${marker}"`))
      );
    });
  }

  /** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; safe to call more than once. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#exited !== null) return;
    const signal = (sig: Deno.Signal) => {
      try {
        this.#child.kill(sig);
      } catch { /* already gone */ }
    };
    signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    const outcome = await Promise.race([this.#done, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      signal("SIGKILL");
      await this.#done;
    }
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) this.#line(line);
    }
    if (rest !== "") this.#line(rest);
  }

  #line(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_KEPT_LINES) this.lines.shift();
    for (const watch of [...this.#watchers]) watch(line);
  }
}

/** Result of a one-shot command. */
export interface CommandOutput {
  /** Exit code (-1 when it could not be started). */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`) and captures its output; never throws. */
export async function capture(
  cmd: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): Promise<CommandOutput> {
  try {
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      env: { NO_COLOR: "1", ...env },
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (error) {
    return { code: -1, stdout: "", stderr: String(error) };
  }
}

/** One timed client run. */
export interface TimedRun {
  /** Exit code, or -1 if it was killed for running past the limit. */
  code: number;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
  /** Standard error (gtlsclient -q prints only errors there). */
  stderr: string;
}

/** Runs `cmd` with stdout discarded, timing spawn to exit; killed after `limitMs`. */
export async function timedRun(cmd: string[], limitMs: number): Promise<TimedRun> {
  const start = performance.now();
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }, limitMs);
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  const ms = performance.now() - start;
  clearTimeout(timer);
  return { code: killed ? -1 : status.code, ms, stderr: stderr.slice(0, 2000) };
}

/** CPU time (user + system, all threads) of process `pid` so far, in seconds; NaN if gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = parseProcStat(await Deno.readTextFile(`/proc/${pid}/stat`));
    return stat === undefined ? NaN : stat.cpuTicks / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** Linux's USER_HZ: the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

/** Resident set size of process `pid` in KiB (`VmRSS` in /proc/<pid>/status); NaN if gone. */
export async function rssKiB(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(status.match(/^VmRSS:\s*(\d+)\s*kB/m)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Open file descriptors of process `pid` (entries of /proc/<pid>/fd); NaN if gone. */
export async function fdCount(pid: number): Promise<number> {
  try {
    let n = 0;
    for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return NaN;
  }
}

/** Whether some socket is bound to UDP `port` (any address), from /proc/net/udp and udp6. */
export async function udpPortBound(port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    const text = await Deno.readTextFile(table).catch(() => "");
    // Each line: slot, local address:port, remote address:port, …
    for (const line of text.split("\n").slice(1)) {
      if (line.trim().split(/\s+/)[1]?.endsWith(hex)) return true;
    }
  }
  return false;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { freePort } from "../../tests/support/free_port.ts";

/** Whether `command` is on PATH. */
export async function hasCommand(command: string): Promise<boolean> {
  return (await capture(["sh", "-c", `command -v ${command}`])).code === 0;
}

/**
 * Makes sure `command` exists, installing Debian package `pkg` with apt-get (after
 * `apt-get update`) when it is missing and we are root. Returns whether it is available.
 */
export async function ensureCommand(command: string, pkg: string): Promise<boolean> {
  if (await hasCommand(command)) return true;
  if (Deno.uid?.() !== 0) {
    console.error(`✗ ${command} is missing and we are not root: apt-get install ${pkg}`);
    return false;
  }
  console.log(`▶ installing ${pkg} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = await capture(["apt-get", "update"], env);
  if (update.code !== 0) {
    console.error(`✗ apt-get update failed:\n${update.stderr}`);
    return false;
  }
  const install = await capture(["apt-get", "install", "-y", "--no-install-recommends", pkg], env);
  if (install.code !== 0) console.error(`✗ apt-get install ${pkg} failed:\n${install.stderr}`);
  return await hasCommand(command);
}
