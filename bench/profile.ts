/**
 * `deno task profile`: profiles the server's hot path under real load and prints where its main
 * thread spends time. It starts `main.ts` with `--cpu-prof`, sends `--requests` GETs (default
 * 20,000, `--rounds` times), stops the server with SIGTERM (which writes the profile), and prints:
 * - busy main-thread time per request, split into our code, Hono, Deno's `node:` compatibility
 *   layer, the rest of Deno's JS runtime (fetch, web streams, …), native ops and garbage
 *   collection;
 * - the functions with the most self time.
 *
 * HTTP/3 by default: one connection with ngtcp2's `gtlsclient`, or with `--connections C` that
 * many clients at once, one connection each, as the `many` scenario runs them (what each
 * connection costs shows up then; `--requests` is then per connection). With `--tcp`: the TCP
 * listener (HTTP/1.1 over TLS) with `h2load --h1` on `--connections` keep-alive connections
 * (default 10, as in the bench's `tcp` scenario), one request at a time each, `--requests` in all.
 *
 * Options: `--tcp`, `--connections N`, `--path /healthz` (what to GET), `--requests N`,
 * `--rounds N`, `--top N`, `--keep DIR` (keep the .cpuprofile there, to open in Chrome DevTools).
 * @module
 */

import { gtlsCommand } from "./support/gtls.ts";
import { manyScript } from "./scenarios/many.ts";
import { h2loadH1Command } from "./support/h2load.ts";
import { freePort } from "./support/process.ts";
import { serverV8FlagsArg } from "../lib/runtime_flags.ts";

const ROOT = new URL("../", import.meta.url);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(name);
  return at !== -1 && Deno.args[at + 1] !== undefined ? Deno.args[at + 1] : fallback;
}

function count(name: string, fallback: number, max: number): number {
  const raw = option(name, String(fallback));
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 1 || n > max) {
    console.error(`error: ${name} must be an integer from 1 to ${max}, not "${raw}"`);
    Deno.exit(2);
  }
  return n;
}

/** Which part of the program a profile node belongs to. */
function category(node: ProfileNode): string {
  const { functionName: f, url } = node.callFrame;
  if (f === "(idle)") return "idle";
  if (f === "(garbage collector)") return "garbage collection";
  if (f === "(program)" || f.startsWith("op_")) return "native (ops, V8)";
  if (url.includes("hono")) return "Hono";
  if (url.startsWith("node:") || url.startsWith("ext:deno_node/")) return "Deno node: layer";
  if (url.startsWith("ext:")) return "Deno JS runtime";
  if (url.startsWith(ROOT.href)) return "our code";
  return "other";
}

/** Self time per category and per function, in microseconds. */
export function summarize(profile: CpuProfile) {
  const byNode = new Map<number, number>();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + profile.timeDeltas[i]));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of byNode) {
    const node = nodes.get(id)!;
    const cat = category(node);
    categories.set(cat, (categories.get(cat) ?? 0) + us);
    if (cat === "idle") continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.startsWith(ROOT.href) ? url.slice(ROOT.href.length) : url.split("/").pop();
    const key = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  return { categories, functions };
}

async function waitForServer(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error("the server did not start within 30 s");
}

if (import.meta.main) {
  const path = option("--path", "/healthz");
  const requests = count("--requests", 20_000, 200_000);
  const rounds = count("--rounds", 3, 20);
  const top = count("--top", 25, 200);
  const keep = option("--keep", "");
  const tcp = Deno.args.includes("--tcp");
  const connections = count("--connections", tcp ? 10 : 1, 1000);
  // h2load's -n counts every request; the many-clients script counts per connection.
  const perRound = tcp ? requests : requests * connections;
  const dir = await Deno.makeTempDir({ prefix: "quic-profile-" });
  const port = freePort();
  const labPort = freePort([port]);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      serverV8FlagsArg(),
      new URL("main.ts", ROOT).pathname,
      ...["--host", "127.0.0.1", "--port", String(port), "--lab-port", String(labPort)],
      ...["--data-dir", `${dir}/data`, "--persist", "false"],
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForServer(port);
    for (let round = 1; round <= rounds; round++) {
      const started = performance.now();
      const [command, ...args] = tcp
        ? h2loadH1Command(port, requests, connections, path)
        : connections === 1
        ? gtlsCommand(port, requests, true, path)
        : ["sh", "-c", manyScript(port, connections, requests, path)];
      const out = await new Deno.Command(command, {
        args,
        stdout: "null",
        stderr: "piped",
        signal: AbortSignal.timeout(120_000),
      }).output();
      const ms = performance.now() - started;
      // The many-clients script exits 0 and says on stderr which client failed.
      const failed = !out.success || (!tcp && connections > 1 && out.stderr.length > 0);
      console.error(
        `round ${round}/${rounds}: ${perRound} GETs in ${ms.toFixed(0)} ms` +
          (failed ? ` (${command} failed: ${new TextDecoder().decode(out.stderr)})` : ""),
      );
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
  const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error("the server wrote no profile");
  const profile: CpuProfile = JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`));
  const { categories, functions } = summarize(profile);
  const total = rounds * perRound;
  const busy = [...categories].reduce((n, [c, us]) => (c === "idle" ? n : n + us), 0);
  console.log(
    `\nMain thread, ${total} requests of ${path} over ${tcp ? "TCP" : "HTTP/3"}: ${
      (busy / total).toFixed(1)
    } µs busy per request (profiler on)`,
  );
  for (const [cat, us] of [...categories].sort((a, b) => b[1] - a[1])) {
    if (cat === "idle") continue;
    console.log(
      `  ${cat.padEnd(20)} ${(us / total).toFixed(1).padStart(6)} µs  ${
        (us / busy * 100).toFixed(1).padStart(5)
      } %`,
    );
  }
  console.log(`\nTop ${top} functions by self time (µs per request):`);
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${(us / total).toFixed(2).padStart(6)}  ${name}`);
  }
  if (keep !== "") {
    await Deno.mkdir(keep, { recursive: true });
    await Deno.copyFile(`${dir}/${file.name}`, `${keep}/${file.name}`);
    console.log(`\nProfile kept: ${keep}/${file.name}`);
  }
  await Deno.remove(dir, { recursive: true });
}
