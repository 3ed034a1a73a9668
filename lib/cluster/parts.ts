/**
 * Starting each part of a local cluster and knowing when it is ready: redis-server (ready when
 * it answers PING), a node (ready when it prints its certificate's SPKI line) and the nginx
 * balancer (ready when its TCP port accepts). `cli.ts` decides the order and stops them.
 *
 * ```ts
 * const redis = await startRedis(redisServerPath, "/srv/qms/cluster/redis", log);
 * console.log(redis.url); // redis://127.0.0.1:<free port>
 * ```
 * @module
 */

import { DEBIAN_STREAM_MODULE, nginxStreamConfig } from "./nginx_config.ts";
import {
  freePortOn,
  ManagedProcess,
  type ProcessSpec,
  redisAnswersPing,
  waitForTcp,
} from "./processes.ts";
import { withTimeout } from "../timeout.ts";
import { serverV8FlagsArg } from "../runtime_flags.ts";

/** How long a node may take from spawn to its banner (a cold Deno cache loads modules first). */
const NODE_READY_MS = 90_000;
/** How long nginx and Redis may take to accept. */
const SERVICE_READY_MS = 15_000;

/** The flags `deno task start` runs the server with; a node gets the same, no more. */
export const NODE_RUN_FLAGS: readonly string[] = [
  "--unstable-net",
  "--unstable-kv",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname",
  "--allow-ffi",
  serverV8FlagsArg(),
];

/** A started Redis. */
export interface RedisPart {
  process: ManagedProcess;
  url: string;
}

/**
 * Starts redis-server on a free loopback port with its data (append-only file on) in `dir`,
 * and resolves once it answers PING.
 * @throws {Error} if it exits or does not answer in time; the process is then stopped.
 */
export async function startRedis(
  redisServer: string,
  dir: string,
  log: (line: string) => void,
  onSpawn: (process: ManagedProcess) => void,
): Promise<RedisPart> {
  await Deno.mkdir(dir, { recursive: true });
  const port = freePortOn("127.0.0.1");
  const process = spawnRegistered(
    {
      name: "redis",
      command: redisServer,
      args: [
        ...["--bind", "127.0.0.1", "--port", String(port), "--protected-mode", "yes"],
        ...["--dir", dir, "--appendonly", "yes", "--daemonize", "no", "--loglevel", "notice"],
      ],
    },
    log,
    onSpawn,
  );
  try {
    const deadline = Date.now() + SERVICE_READY_MS;
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (process.hasExited) throw new Error(`redis-server exited before answering PING`);
      if (await redisAnswersPing("127.0.0.1", port)) {
        return { process, url: `redis://127.0.0.1:${port}` };
      }
      if (Date.now() > deadline) break;
      await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    throw new Error(`redis-server did not answer PING on 127.0.0.1:${port}`);
  } catch (error) {
    await process.stop("SIGTERM", 5_000);
    throw error;
  }
}

/** A started node and what its banner said. */
export interface NodePart {
  process: ManagedProcess;
  /** The leaf's SPKI SHA-256 from the banner. */
  spki: string;
}

/** How to run `main.ts`: this executable, with `deno run` and the start task's flags unless compiled. */
export function nodeCommand(): { command: string; prefix: string[] } {
  if (Deno.build.standalone) return { command: Deno.execPath(), prefix: [] };
  const path = (relative: string) =>
    decodeURIComponent(new URL(relative, import.meta.url).pathname);
  return {
    command: Deno.execPath(),
    prefix: ["run", "--config", path("../../deno.json"), ...NODE_RUN_FLAGS, path("../../main.ts")],
  };
}

/**
 * Spawns a node (`main.ts` with `args`) named `name`, without waiting; {@link nodeReady} waits.
 */
export function spawnNode(
  name: string,
  args: string[],
  log: (line: string) => void,
  onSpawn: (process: ManagedProcess) => void,
): ManagedProcess {
  const { command, prefix } = nodeCommand();
  return spawnRegistered({ name, command, args: [...prefix, ...args] }, log, onSpawn);
}

/** Spawns `spec` and hands the process to `onSpawn` at once, so a stop can reach it mid-start. */
function spawnRegistered(
  spec: ProcessSpec,
  log: (line: string) => void,
  onSpawn: (process: ManagedProcess) => void,
): ManagedProcess {
  const process = ManagedProcess.spawn(spec, log);
  onSpawn(process);
  return process;
}

/** Resolves with the node's SPKI once it printed its banner. */
export async function nodeReady(process: ManagedProcess): Promise<NodePart> {
  const match = await process.waitForLine(/Leaf certificate SPKI SHA-256: (\S+)/, NODE_READY_MS);
  return { process, spki: match[1] };
}

/** A started balancer. */
export interface BalancerPart {
  process: ManagedProcess;
  configPath: string;
}

/**
 * Writes the stream config into `runDir` and starts nginx in the foreground with it; resolves
 * once its TCP port accepts.
 * @throws {Error} with nginx's last error-log line if it exits or does not accept in time.
 */
export async function startNginx(
  nginx: string,
  plan: { listenIp: string; listenPort: number; listen: string; source: string; nodes: string[] },
  runDir: string,
  log: (line: string) => void,
  onSpawn: (process: ManagedProcess) => void,
): Promise<BalancerPart> {
  await Deno.mkdir(runDir, { recursive: true });
  const configPath = `${runDir}/nginx.conf`;
  const errorLog = `${runDir}/nginx-error.log`;
  const pidFile = `${runDir}/nginx.pid`;
  await Deno.remove(pidFile).catch(() => {});
  await Deno.writeTextFile(
    configPath,
    nginxStreamConfig({
      listen: plan.listen,
      source: plan.source,
      nodes: plan.nodes,
      runDir,
      streamModule: DEBIAN_STREAM_MODULE,
    }),
  );
  const process = spawnRegistered(
    {
      name: "nginx",
      command: nginx,
      args: ["-c", configPath, "-e", errorLog],
    },
    log,
    onSpawn,
  );
  try {
    // nginx writes its pid file only once its listening sockets are bound: a TCP accept alone
    // could come from another program on that port.
    await waitForFile(pidFile, String(process.pid), SERVICE_READY_MS, process);
    await waitForTcp(plan.listenIp, plan.listenPort, SERVICE_READY_MS, process.exited);
    return { process, configPath };
  } catch (error) {
    await process.stop("SIGTERM", 5_000);
    const lastLine = await withTimeout(Deno.readTextFile(errorLog), 1000, errorLog)
      .then((text) => text.trim().split("\n").at(-1) ?? "", () => "");
    const why = lastLine || (error instanceof Error ? error.message : String(error));
    throw new Error(`nginx did not start on ${plan.listen}: ${why}`);
  }
}

/** Resolves once `path` holds `content` (trimmed), within `timeoutMs`, unless `process` exits. */
async function waitForFile(
  path: string,
  content: string,
  timeoutMs: number,
  process: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 10_000 && Date.now() < deadline; attempt++) {
    if (process.hasExited) throw new Error(`${process.name} exited`);
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text.trim() === content) return;
    await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  throw new Error(`${path} did not appear within ${timeoutMs} ms`);
}
