/**
 * The environment every scenario of `bench/run.ts` runs in: a temporary directory with one
 * certificate (made by our own dev-certificate code) that every server uses, free loopback
 * ports, and a registry of spawned processes so that each one is stopped at the end of its
 * scenario, when the task fails, and on Ctrl-C.
 * @module
 */

import { ensureDevCertificates } from "../../lib/certs.ts";
import { serverV8FlagsArg } from "../../lib/runtime_flags.ts";
import { freePort, ServerProcess, sleep, udpPortBound } from "./process.ts";
import { errorText, progress } from "./format.ts";

/** Where this repository is (with a trailing slash). */
export const ROOT = new URL("../..", import.meta.url).pathname;

/** The JSON body `/healthz` answers, on every server we compare. */
export const BODY = '{"status":"ok"}';

/**
 * The runtime ceiling: an HTTP/3 responder on `Deno.QuicEndpoint` that parses nothing and
 * answers every request stream with one fixed HEADERS + DATA. It is kept outside this
 * repository, in `shared/` beside it; this is its path from the repository's root.
 */
export const CEILING_PROBE = "../shared/probes/h3-ceiling.ts";

/** What our `main.ts` prints once it listens. */
const OUR_BANNER = "QUIC connection-migration server on";

/** Shared state of one `deno task bench` run. */
export class BenchEnv {
  readonly #processes = new Set<ServerProcess>();
  readonly #ports: number[] = [];
  /** What `stopAll` undoes after the processes stopped (network namespaces, …). */
  readonly #undos = new Set<() => Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(
    /** The temporary directory (removed by `close`). */
    readonly tmp: string,
    /** `cert.pem` (leaf), `key.pem` and `ca.pem` live here. */
    readonly certDir: string,
  ) {}

  /** Creates the temporary directory and the certificate. */
  static async create(): Promise<BenchEnv> {
    const tmp = await Deno.makeTempDir({ prefix: "quic-bench-" });
    await ensureDevCertificates(tmp);
    return new BenchEnv(tmp, `${tmp}/certs`);
  }

  /** A loopback port free for TCP and UDP, never one handed out before in this run. */
  port(): number {
    const port = freePort(this.#ports);
    this.#ports.push(port);
    return port;
  }

  /**
   * Spawns a long-running process, registers it for cleanup, and waits until it is ready: a
   * line containing `ready.line` in its output, or a socket bound to UDP `ready.udpPort` (for
   * a program that prints nothing), up to `timeoutMs`. On failure it is stopped and the error
   * says what it printed.
   */
  async spawn(
    name: string,
    cmd: string[],
    ready: { line: string } | { udpPort: number },
    timeoutMs: number,
    env: Record<string, string> = {},
    onLine?: (line: string) => void,
  ): Promise<ServerProcess> {
    const proc = ServerProcess.spawn(name, cmd, env, onLine);
    this.#processes.add(proc);
    try {
      if ("line" in ready) await proc.waitForLine(ready.line, timeoutMs);
      else await waitForUdpPort(proc, ready.udpPort, timeoutMs);
    } catch (error) {
      await this.stop(proc);
      throw new Error(`${errorText(error)}\n${tail(proc)}`);
    }
    return proc;
  }

  /** Stops one process (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(proc: ServerProcess, graceMs = 5000): Promise<void> {
    await proc.stop(graceMs);
    this.#processes.delete(proc);
  }

  /**
   * Registers `undo` (e.g. removing network namespaces) to run at the end of the scenario, on
   * failure and on Ctrl-C, after every process stopped; returns the function that runs it now
   * (once) and unregisters it.
   */
  defer(undo: () => Promise<void>): () => Promise<void> {
    // Once, and whoever comes second (a Ctrl-C's cleanup, the scenario's own) waits for the
    // first to finish instead of returning while it still runs.
    let running: Promise<void> | undefined;
    const once = () =>
      running ??= undo().catch((error) => progress(`cleanup failed: ${errorText(error)}`));
    this.#undos.add(once);
    return () => {
      this.#undos.delete(once);
      return once();
    };
  }

  /** Stops every process still running, then runs what was deferred. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#processes].map((p) => this.stop(p)));
    for (const once of [...this.#undos].reverse()) {
      this.#undos.delete(once);
      await once();
    }
  }

  /**
   * Stops everything and removes the temporary directory; a second call (the task's end while
   * a Ctrl-C's cleanup runs) waits for the first.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stopAll();
      await Deno.remove(this.tmp, { recursive: true }).catch(() => {});
    })();
    return this.#closing;
  }

  /**
   * Our server as shipped (`main.ts`), on `host` (an IP, 127.0.0.1 by default) and `port` (TCP
   * and UDP) with the lab on `labPort`.
   */
  ourServerCommand(port: number, labPort: number, host = "127.0.0.1"): string[] {
    return denoRun("main.ts", ["--host", host, ...this.#serverArgs(port, labPort)], [
      serverV8FlagsArg(),
    ]);
  }

  /** Ports and data directory, as both our entries take them. */
  #serverArgs(port: number, labPort: number): string[] {
    return ["--port", String(port), "--lab-port", String(labPort), "--data-dir", this.tmp];
  }

  /** Starts our server as shipped (on `host`, 127.0.0.1 by default). */
  startOurs(port: number, labPort: number, host?: string): Promise<ServerProcess> {
    const cmd = this.ourServerCommand(port, labPort, host);
    return this.spawn("our server", cmd, { line: OUR_BANNER }, 60_000);
  }

  /** The runtime ceiling probe on UDP `port` (it binds every address: it takes only a port). */
  ceilingCommand(port: number): string[] {
    return denoRun(CEILING_PROBE, [
      String(port),
      `${this.certDir}/cert.pem`,
      `${this.certDir}/key.pem`,
    ], ["--unstable-net"]);
  }

  /** Starts the runtime ceiling probe; it prints nothing, so it is ready once its port is bound. */
  startCeiling(port: number): Promise<ServerProcess> {
    return this.spawn("runtime ceiling", this.ceilingCommand(port), { udpPort: port }, 60_000);
  }

  /** The bare `Deno.serve` over TLS (`bench/tools/bare_server.ts`). */
  bareServerCommand(port: number): string[] {
    return denoRun("bench/tools/bare_server.ts", [
      "--port",
      String(port),
      "--cert",
      `${this.certDir}/cert.pem`,
      "--key",
      `${this.certDir}/key.pem`,
    ]);
  }

  /** Starts the bare `Deno.serve`. */
  startBare(port: number): Promise<ServerProcess> {
    const cmd = this.bareServerCommand(port);
    return this.spawn("bare Deno.serve", cmd, { line: "bare server ready" }, 60_000);
  }

  /** Our server through `bench/tools/server_entry.ts` (signals toggle the watcher, run a GC). */
  benchServerCommand(port: number, labPort: number, token: string): string[] {
    const args = [...this.#serverArgs(port, labPort), "--admin-token", token];
    return denoRun("bench/tools/server_entry.ts", args, [serverV8FlagsArg(["--expose-gc"])]);
  }

  /**
   * Starts our server through the bench entry, allowed at least `files` open files (the lab
   * relay holds one upstream UDP socket per client it relays).
   */
  async startBenchServer(
    port: number,
    labPort: number,
    token: string,
    files = 1024,
  ): Promise<ServerProcess> {
    const cmd = await withFileLimit(this.benchServerCommand(port, labPort, token), files);
    return this.spawn("our server (bench entry)", cmd, { line: "bench server ready" }, 60_000);
  }

  /** The Caddyfile: every path answers BODY (15 bytes of JSON); `/files/*` serves `<tmp>/www`. */
  caddyfile(port: number): string {
    return [
      "{",
      "\tadmin off",
      "\tauto_https disable_redirects",
      "\tservers {",
      "\t\tprotocols h1 h2 h3",
      "\t}",
      "}",
      "",
      `https://localhost:${port} {`,
      "\tbind 127.0.0.1",
      `\ttls ${this.certDir}/cert.pem ${this.certDir}/key.pem`,
      "\thandle_path /files/* {",
      `\t\troot * ${this.tmp}/www`,
      "\t\tfile_server",
      "\t}",
      "\thandle {",
      "\t\theader Content-Type application/json",
      `\t\trespond \`${BODY}\` 200`,
      "\t}",
      "}",
      "",
    ].join("\n");
  }

  /** Caddy's command line. */
  caddyCommand(): string[] {
    return ["caddy", "run", "--config", `${this.tmp}/Caddyfile`, "--adapter", "caddyfile"];
  }

  /** Writes the Caddyfile and starts Caddy on `port`. */
  async startCaddy(port: number): Promise<ServerProcess> {
    await Deno.mkdir(`${this.tmp}/www`, { recursive: true });
    await Deno.writeTextFile(`${this.tmp}/Caddyfile`, this.caddyfile(port));
    const env = {
      HOME: this.tmp,
      XDG_DATA_HOME: `${this.tmp}/xdg`,
      XDG_CONFIG_HOME: `${this.tmp}/xdg`,
    };
    const ready = { line: "serving initial configuration" };
    return this.spawn("caddy", this.caddyCommand(), ready, 30_000, env);
  }
}

/**
 * `deno run -A` of `script` (a path from the repository's root) with `args`; `flags` go
 * before the script.
 */
export function denoRun(script: string, args: string[], flags: string[] = []): string[] {
  return [Deno.execPath(), "run", "-A", ...flags, `${ROOT}${script}`, ...args];
}

/**
 * One clear line when the runtime ceiling probe is not beside the repository at `root` (with a
 * trailing slash; this repository by default), else undefined.
 */
export async function ceilingProbeMissing(root = ROOT): Promise<string | undefined> {
  try {
    await Deno.stat(`${root}${CEILING_PROBE}`);
    return undefined;
  } catch {
    return `the runtime ceiling probe ${CEILING_PROBE} is missing ` +
      "(the repository is checked out with shared/ beside it)";
  }
}

/** Resolves once some socket is bound to UDP `port`; rejects if `proc` exits or on timeout. */
async function waitForUdpPort(proc: ServerProcess, port: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!(await udpPortBound(port))) {
    if (proc.exited) throw new Error(`${proc.name} exited before binding UDP port ${port}`);
    if (performance.now() > deadline) {
      throw new Error(`${proc.name}: UDP port ${port} not bound within ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}

/** The last lines a process printed, for an error message. */
export function tail(proc: ServerProcess, n = 15): string {
  return `--- last lines of ${proc.name}:\n${proc.lines.slice(-n).join("\n")}`;
}

/**
 * `cmd`, run with a soft open-files limit of at least `need` (through `prlimit`, which sets the
 * limit and then executes the command, so the process id stays the command's). Unchanged when
 * the current soft limit is already enough.
 */
export async function withFileLimit(cmd: string[], need: number): Promise<string[]> {
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n; ulimit -Hn"] }).output();
  const [soft, hard] = new TextDecoder().decode(out.stdout).trim().split("\n");
  const softN = soft === "unlimited" ? Infinity : Number(soft);
  if (softN >= need) return cmd;
  const hardN = hard === "unlimited" ? Infinity : Number(hard);
  const limit = Math.min(need, hardN);
  return ["prlimit", `--nofile=${limit}:${hard === "unlimited" ? limit : hardN}`, "--", ...cmd];
}

/**
 * A server that is started again if it died between runs, remembering each crash (the last
 * line it printed), so one crash costs one run, not the rest of the scenario.
 */
export class Restartable {
  /** One entry per crash: the last line the server printed before it. */
  readonly crashes: string[] = [];
  #proc: ServerProcess | undefined;

  /** @param start starts the server and resolves once it is ready */
  constructor(private readonly start: () => Promise<ServerProcess>) {}

  /** The running server, started (again) if needed. */
  async ensure(): Promise<ServerProcess> {
    if (this.#proc?.exited) {
      const lines = this.#proc.lines;
      const last = lines.filter((l) => /assert|free\(|panic|abort|fatal|error/i.test(l)).at(-1) ??
        lines.at(-1);
      this.crashes.push(last ?? "(nothing printed)");
      progress(`  ${this.#proc.name} died (${last}); starting it again`);
    }
    if (this.#proc === undefined || this.#proc.exited) this.#proc = await this.start();
    return this.#proc;
  }

  /** Whether the server died since the last `ensure`. */
  get died(): boolean {
    return this.#proc?.exited ?? false;
  }

  /** Stops the server if it runs. */
  async stop(env: BenchEnv): Promise<void> {
    if (this.#proc) await env.stop(this.#proc);
  }
}
