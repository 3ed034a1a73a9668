/**
 * `main.ts cluster` end to end, as a child process: Redis, three nodes on their own loopback
 * IPs and nginx in front. A request over TCP and one over HTTP/3 through the balancer are served
 * by a node; ngtcp2's hand-off to the node's preferred address shows in that node's
 * `/api/connections` as a `preferred_address` event; SIGTERM stops nodes, then nginx, then
 * Redis, and leaves no process behind. A node that dies stops the cluster with exit 1.
 */

import { threeSpacedGets } from "./support/ngtcp2.ts";
import { strict as assert } from "node:assert";
import { freePort } from "./support/free_port.ts";
import { withTimeout } from "../lib/timeout.ts";

/** Addresses no other test uses, so tests running at once do not meet. */
const SOURCE = "127.0.0.29";
const NODE_IPS = ["127.0.0.21", "127.0.0.22", "127.0.0.23"];

/** A running `cluster` process, its output collected line by line. */
class ClusterProcess {
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly dataDir: string;
  readonly child: Deno.ChildProcess;
  readonly #drained: Promise<void>;
  #onLine = () => {};

  constructor(args: string[], dataDir: string) {
    this.dataDir = dataDir;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "cluster", "--data-dir", dataDir, ...args],
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, lines: string[]) => {
      let partial = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (partial + text).split("\n");
        partial = parts.pop()!;
        lines.push(...parts);
        this.#onLine();
      }
    };
    this.#drained = Promise.all([
      collect(this.child.stdout, this.out),
      collect(this.child.stderr, this.err),
    ])
      .then(() => {});
  }

  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
  async line(pattern: RegExp, ms: number): Promise<string> {
    const found = () => this.out.find((line) => pattern.test(line));
    const waiting = new Promise<string>((resolve, reject) => {
      this.#onLine = () => {
        const line = found();
        if (line !== undefined) resolve(line);
      };
      this.child.status.then((status) =>
        reject(new Error(`cluster exited ${status.code}:\n${this.text()}`))
      );
      this.#onLine();
    });
    return await withTimeout(waiting, ms, `${pattern} from cluster:\n${this.text()}`);
  }

  /** Sends `signal`, waits (bounded) for the exit and the end of its output. */
  async stop(signal: Deno.Signal | undefined, ms: number): Promise<Deno.CommandStatus> {
    if (signal) this.child.kill(signal);
    try {
      return await withTimeout(this.child.status, ms, `the cluster's exit:\n${this.text()}`);
    } finally {
      await this.#drained;
    }
  }

  /** Kills it and whatever it started, whatever state it is in (test cleanup). */
  async cleanUp(pids: number[]): Promise<void> {
    for (const pid of [this.child.pid, ...pids]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.child.status;
    await this.#drained;
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }

  text(): string {
    return [...this.out.slice(-30), ...this.err.slice(-10)].join("\n");
  }
}

/** Every process descended from `root` now, with its command line. */
async function descendants(root: number): Promise<Map<number, string>> {
  const parents = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      parents.set(Number(entry.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited while we looked
    }
  }
  const found = new Map<number, string>();
  let frontier = [root];
  for (let depth = 0; depth < 10 && frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const [pid, ppid] of parents) {
      if (frontier.includes(ppid) && !found.has(pid)) {
        const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
        found.set(pid, cmdline.replaceAll("\0", " ").trim());
        next.push(pid);
      }
    }
    frontier = next;
  }
  return found;
}

/** The pids among `pids` that still exist (and are not zombies). */
async function stillAlive(pids: Iterable<number>): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
    if (stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") alive.push(pid);
  }
  return alive;
}

interface ConnectionJson {
  local_addr: string;
  remote_addr: string;
  request_count: number;
  migration_count: number;
  migration_events: Array<{ kind: string; old_addr: string; new_addr: string }>;
}

Deno.test("cluster: 3 nodes behind nginx serve TCP and HTTP/3, the hand-off is recorded, SIGTERM leaves nothing", async () => {
  const port = freePort();
  const balancerPort = freePort([port]);
  const dataDir = await Deno.makeTempDir({ prefix: "quic-cluster-" });
  const cluster = new ClusterProcess([
    ...["--addresses", `balancer=127.0.0.1,source=${SOURCE},nodes=${NODE_IPS.join("+")}`],
    ...["--port", String(port), "--balancer-port", String(balancerPort)],
  ], dataDir);
  let started = new Map<number, string>();
  let http: Deno.HttpClient | undefined;
  try {
    await cluster.line(
      /^✅ Cluster ready: 3 node\(s\) behind https:\/\/127\.0\.0\.1:\d+\/$/,
      120_000,
    );
    started = await descendants(cluster.child.pid);
    const commands = [...started.values()];
    assert.equal(
      commands.filter((cmd) => cmd.includes("main.ts --host")).length,
      3,
      commands.join("\n"),
    );
    assert.ok(commands.some((cmd) => cmd.startsWith("nginx: master")), commands.join("\n"));
    assert.ok(commands.some((cmd) => cmd.includes("redis-server")), commands.join("\n"));
    for (const [i, ip] of NODE_IPS.entries()) {
      assert.ok(
        cluster.out.some((line) => line.startsWith(`   node${i + 1}: https://${ip}:${port}/`)),
      );
    }
    assert.ok(
      cluster.out.some((line) => line.startsWith("[node2] ")),
      "children's lines are prefixed",
    );
    assert.match(
      cluster.out.find((line) => line.startsWith("   Chromium over HTTP/3: "))!,
      new RegExp(`--origin-to-force-quic-on=127\\.0\\.0\\.1:${balancerPort} `),
    );

    const caPem = await Deno.readTextFile(`${dataDir}/cluster/certs/ca.pem`);
    http = Deno.createHttpClient({ caCerts: [caPem] });
    const client = http;
    const getJson = async (url: string) => {
      const res = await withTimeout(fetch(url, { client }), 10_000, url);
      assert.equal(res.status, 200, url);
      return await res.json();
    };

    // TCP through the balancer (the leaf covers 127.0.0.1): a node answers, seeing the balancer's source.
    const overTcp = await getJson(`https://127.0.0.1:${balancerPort}/api/test`);
    assert.equal(overTcp.protocol, "http/1.1");
    assert.ok(overTcp.remote_addr.startsWith(`${SOURCE}:`), overTcp.remote_addr);

    // HTTP/3 through the balancer; ngtcp2 follows the preferred address to its node.
    const run = await threeSpacedGets(balancerPort);
    assert.equal(run.code, 0, run.text.slice(-500));
    assert.deepEqual(run.statuses, ["200", "200", "200"]);
    const owners: Array<{ ip: string; conn: ConnectionJson }> = [];
    for (const ip of NODE_IPS) {
      // Each node straight at its own IP: the shared leaf covers the nodes' addresses too.
      const list = await getJson(`https://${ip}:${port}/api/connections?protocol=h3`);
      for (const conn of Object.values(list.connections) as ConnectionJson[]) {
        if (conn.local_addr === `${ip}:${port}`) owners.push({ ip, conn });
      }
    }
    assert.equal(owners.length, 1, `one HTTP/3 connection, on one node: ${JSON.stringify(owners)}`);
    const { conn } = owners[0];
    assert.equal(conn.request_count, 3);
    assert.equal(conn.migration_count, 0, "the hand-off is no migration");
    assert.equal(conn.migration_events.length, 1, JSON.stringify(conn.migration_events));
    const handoff = conn.migration_events[0];
    assert.equal(handoff.kind, "preferred_address");
    assert.ok(handoff.old_addr.startsWith(`${SOURCE}:`), handoff.old_addr);
    assert.ok(handoff.new_addr.startsWith("127.0.0.1:"), handoff.new_addr);
    http.close();
    http = undefined;

    const status = await cluster.stop("SIGTERM", 60_000);
    assert.equal(status.code, 0, cluster.text());
    const stopped = (name: string) =>
      cluster.out.findIndex((line) => line.startsWith(`stopped ${name}`));
    const lastNode = Math.max(...NODE_IPS.map((_, i) => stopped(`node${i + 1}`)));
    assert.ok(lastNode >= 0 && lastNode < stopped("nginx"), "nodes stop before nginx");
    assert.ok(stopped("nginx") < stopped("redis"), "nginx stops before redis");
    assert.deepEqual(await stillAlive(started.keys()), [], "no process is left behind");
    const aof = await Deno.stat(`${dataDir}/cluster/redis/appendonlydir`);
    assert.ok(aof.isDirectory, "Redis persists with appendonly");
  } finally {
    http?.close();
    await cluster.cleanUp([...started.keys()]);
  }
});

Deno.test("cluster: a node that dies stops the cluster with exit 1 and a line naming it", async () => {
  const port = freePort();
  const balancerPort = freePort([port]);
  const dataDir = await Deno.makeTempDir({ prefix: "quic-cluster-" });
  const cluster = new ClusterProcess([
    ...["--addresses", `balancer=127.0.0.1,source=${SOURCE},nodes=127.0.0.24`],
    ...["--port", String(port), "--balancer-port", String(balancerPort)],
  ], dataDir);
  let started = new Map<number, string>();
  try {
    const nodeLine = await cluster.line(/^ {3}node1: .* pid (\d+)$/, 120_000);
    await cluster.line(/^ {3}Ctrl-C stops everything\.$/, 10_000);
    started = await descendants(cluster.child.pid);
    const nodePid = Number(nodeLine.match(/pid (\d+)$/)![1]);
    assert.ok(started.has(nodePid), "the pid printed is the node's");
    Deno.kill(nodePid, "SIGKILL");
    const status = await cluster.stop(undefined, 60_000);
    assert.equal(status.code, 1, cluster.text());
    assert.ok(
      cluster.err.includes(
        `error: node1 (pid ${nodePid}) exited (signal SIGKILL); stopping the cluster`,
      ),
      cluster.text(),
    );
    assert.deepEqual(await stillAlive(started.keys()), [], "nginx and redis are stopped too");
  } finally {
    await cluster.cleanUp([...started.keys()]);
  }
});

Deno.test("cluster: a bad option, or an address this machine lacks, is one line and exit 2", async () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ["--nodes", "0"],
      /^error: --nodes: "0" is not a number of nodes from 1 to 32 \(see cluster --help\)$/,
    ],
    [["--", "--port", "1"], /^error: node option --port is set by cluster for each node/],
    [
      ["--addresses", "nodes=198.51.100.7", "--balancer-port", "1"],
      /^error: --addresses: 198\.51\.100\.7 is not an address of this machine/,
    ],
  ];
  // A balancer port another program holds: found before anything starts.
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = (holder.addr as Deno.NetAddr).port;
  cases.push([
    ["--balancer-port", String(held)],
    new RegExp(`^error: --balancer-port ${held} is in use on 127\\.0\\.0\\.1 \\(TCP or UDP\\)`),
  ]);
  // Without --allow-run (as a binary compiled without it): said plainly, not a stack trace.
  cases.push([["--deny-run"], /^error: cluster starts programs .* needs --allow-run/]);
  for (const [args, expected] of cases) {
    const permissions = args[0] === "--deny-run" ? ["-A", "--deny-run"] : ["-A"];
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...permissions,
        "main.ts",
        "cluster",
        ...args.filter((a) => a !== "--deny-run"),
      ],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(output.stderr).trimEnd();
    assert.equal(output.code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, expected);
    assert.equal(new TextDecoder().decode(output.stdout), "", "nothing started");
  }
  holder.close();
});
