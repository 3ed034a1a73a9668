/**
 * An nginx load balancer for tests: the configuration from `lib/cluster/nginx_config.ts`, run
 * in the foreground in a temporary directory, ready once its TCP port accepts, stopped and
 * removed by `stop()`. Fails (never skips) when nginx or its stream module is missing.
 *
 * ```ts
 * const lb = await startBalancer({ listen: "127.0.0.1:7443", source: "127.0.0.9", nodes });
 * await lb.stop();
 * ```
 * @module
 */

import {
  type BalancerPlan,
  DEBIAN_STREAM_MODULE,
  nginxStreamConfig,
} from "../../lib/cluster/nginx_config.ts";

/** A running balancer. */
export interface Balancer {
  readonly listen: string;
  /** Stops nginx and removes its directory. */
  stop(): Promise<void>;
}

/** Starts nginx for `plan` (its `runDir` is made here) and waits until it accepts. */
export async function startBalancer(
  plan: Omit<BalancerPlan, "runDir" | "streamModule">,
): Promise<Balancer> {
  const stat = await Deno.stat(DEBIAN_STREAM_MODULE).catch(() => undefined);
  if (stat === undefined) {
    throw new Error(
      `nginx's stream module is missing (${DEBIAN_STREAM_MODULE}): apt-get install nginx libnginx-mod-stream`,
    );
  }
  const runDir = await Deno.makeTempDir({ prefix: "quic-nginx-" });
  const config = `${runDir}/nginx.conf`;
  await Deno.writeTextFile(
    config,
    nginxStreamConfig({ ...plan, runDir, streamModule: DEBIAN_STREAM_MODULE }),
  );
  const child = new Deno.Command("nginx", {
    args: ["-c", config, "-e", `${runDir}/nginx-error.log`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const exited = child.status;
  const [hostPart, portText] = [
    plan.listen.slice(0, plan.listen.lastIndexOf(":")),
    plan.listen.slice(plan.listen.lastIndexOf(":") + 1),
  ];
  const hostname = hostPart.replace(/^\[|\]$/g, "");
  let ready = false;
  for (let attempt = 0; attempt < 100 && !ready; attempt++) {
    const done = await Promise.race([exited.then(() => true), delay(50).then(() => false)]);
    if (done) break;
    const conn = await Deno.connect({ hostname, port: Number(portText) }).catch(() => undefined);
    if (conn) {
      conn.close();
      ready = true;
    }
  }
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await exited;
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(runDir, { recursive: true });
  };
  if (!ready) {
    const log = await Deno.readTextFile(`${runDir}/nginx-error.log`).catch(() => "");
    await stop();
    throw new Error(
      `nginx did not start on ${plan.listen}: ${log.trim().split("\n").at(-1) ?? ""}`,
    );
  }
  return { listen: plan.listen, stop };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
