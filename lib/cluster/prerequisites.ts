/**
 * The programs a local cluster needs besides Deno (nginx with its stream module, and
 * redis-server unless `--redis` names one), found before anything starts; a missing one is one
 * line naming the Debian package.
 *
 * ```ts
 * const found = findPrerequisites({ redis: true }, findExecutable, await streamModulePresent());
 * if ("missing" in found) console.error(`error: ${found.missing}`);
 * ```
 * @module
 */

import { DEBIAN_STREAM_MODULE } from "./nginx_config.ts";

/** Where the cluster's programs are. */
export interface Prerequisites {
  nginx: string;
  /** Undefined when an existing Redis is used. */
  redisServer?: string;
}

/** Why the cluster cannot start here: one line naming the Debian package to install. */
export interface MissingPrerequisite {
  missing: string;
}

/** Directories searched after `PATH`: nginx lives in /usr/sbin, often not on a user's PATH. */
const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/**
 * The programs, or the one-line reason one is missing (nginx first, then its module, then Redis).
 * @param needs `redis: false` when `--redis` names an existing Redis.
 * @param find An executable's path by name, or undefined ({@link findExecutable}).
 * @param streamModule Whether nginx's stream module file is present.
 */
export function findPrerequisites(
  needs: { redis: boolean },
  find: (name: string) => string | undefined,
  streamModule: boolean,
): Prerequisites | MissingPrerequisite {
  const nginx = find("nginx");
  if (nginx === undefined) {
    return { missing: "nginx is not installed: apt-get install nginx libnginx-mod-stream" };
  }
  if (!streamModule) {
    return {
      missing:
        `nginx's stream module (UDP and TCP proxying) is missing, no ${DEBIAN_STREAM_MODULE}: ` +
        "apt-get install libnginx-mod-stream",
    };
  }
  if (!needs.redis) return { nginx };
  const redisServer = find("redis-server");
  if (redisServer === undefined) {
    return {
      missing: "redis-server is not installed: apt-get install redis-server (or give --redis URL)",
    };
  }
  return { nginx, redisServer };
}

/** The path of executable `name` on `PATH` or in the sbin directories, or undefined. */
export function findExecutable(
  name: string,
  path: string = Deno.env.get("PATH") ?? "",
): string | undefined {
  const dirs = [...path.split(":").filter((dir) => dir !== ""), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = `${dir}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // not there: try the next directory
    }
  }
  return undefined;
}

/** Whether Debian's stream module file is present. */
export async function streamModulePresent(): Promise<boolean> {
  return await Deno.stat(DEBIAN_STREAM_MODULE).then((info) => info.isFile, () => false);
}
