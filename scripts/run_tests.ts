/**
 * The test task (`deno task test`): installs the Debian peers the tests need when they are
 * missing (as root, with apt-get), runs `deno fmt --check`, `deno lint` and `deno check`, then
 * every test, and ends with one line `N passed, N failed`. A suite that could not run is a
 * failure, never a skip.
 * @module
 */

/** A Debian package the tests need, found by a command on PATH or by a file it installs. */
const PEERS: Array<{ command: string; pkg: string; file?: string }> = [
  { command: "gtlsclient", pkg: "ngtcp2-client" },
  { command: "chromium", pkg: "chromium" },
  { command: "curl", pkg: "curl" },
  { command: "jq", pkg: "jq" },
  { command: "h2load", pkg: "nghttp2-client" },
  { command: "nginx", pkg: "nginx" },
  { command: "redis-server", pkg: "redis-server" },
  {
    command: "nginx stream module",
    pkg: "libnginx-mod-stream",
    file: "/usr/lib/nginx/modules/ngx_stream_module.so",
  },
  // The network lab (tests/netlab_*_test.ts): namespaces, veths, NAT and its mappings.
  { command: "ip", pkg: "iproute2" },
  { command: "nft", pkg: "nftables" },
  { command: "conntrack", pkg: "conntrack" },
];

let passed = 0;
let failed = 0;
const failures: string[] = [];

async function run(
  cmd: string[],
  options: { quiet?: boolean } = {},
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const decoder = new TextDecoder();
  let out = "";
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    sink: { writeSync(p: Uint8Array): number },
  ) => {
    for await (const chunk of stream) {
      out += decoder.decode(chunk, { stream: true });
      if (!options.quiet) sink.writeSync(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  return { code: status.code, out };
}

async function has(peer: { command: string; file?: string }): Promise<boolean> {
  if (peer.file !== undefined) return (await Deno.stat(peer.file).catch(() => null)) !== null;
  return (await run(["sh", "-c", `command -v ${peer.command}`], { quiet: true })).code === 0;
}

function record(name: string, ok: boolean): void {
  if (ok) passed++;
  else {
    failed++;
    failures.push(name);
  }
}

async function ensurePeers(): Promise<void> {
  const missing: string[] = [];
  for (const peer of PEERS) if (!(await has(peer))) missing.push(peer.pkg);
  if (missing.length === 0) return;
  const isRoot = Deno.uid?.() === 0;
  if (!isRoot) {
    console.error(
      `✗ missing test peers (${missing.join(", ")}) and not root: install them with apt-get`,
    );
    return;
  }
  console.log(`▶ installing test peers: ${missing.join(", ")}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await new Deno.Command("apt-get", { args: ["update"], env, stdout: "null" }).output();
  const install = await new Deno.Command("apt-get", {
    args: ["install", "-y", "--no-install-recommends", ...missing],
    env,
    stdout: "null",
  }).output();
  if (!install.success) console.error(new TextDecoder().decode(install.stderr));
}

/** Runs `deno test` with `args` and adds its summary to the counts; no summary is a failure. */
async function denoTest(name: string, args: string[]): Promise<void> {
  console.log(`▶ ${name}`);
  const test = await run([Deno.execPath(), "test", "--allow-all", "--unstable-net", ...args]);
  const summary = test.out.match(/(?:ok|FAILED) \| (\d+) passed(?: \([^)]*\))? \| (\d+) failed/);
  if (summary === null) {
    failed++;
    failures.push(`${name} did not report a summary (a suite could not run)`);
    return;
  }
  passed += Number(summary[1]);
  failed += Number(summary[2]);
  if (test.code !== 0 && Number(summary[2]) === 0) {
    failed++;
    failures.push(`${name} exited ${test.code}`);
  }
}

async function main(): Promise<void> {
  await ensurePeers();
  for (const peer of PEERS) {
    const ok = await has(peer);
    record(`peer ${peer.command} installed`, ok);
    if (!ok) console.error(`✗ peer ${peer.command} (${peer.pkg}) is missing: its tests will fail`);
  }
  for (
    const [name, cmd] of [
      ["deno fmt --check", ["deno", "fmt", "--check"]],
      ["deno lint", ["deno", "lint"]],
      ["deno check", [
        "deno",
        "check",
        "main.ts",
        "lib/",
        "routes/",
        "tests/",
        "scripts/",
        "bench/",
      ]],
    ] as const
  ) {
    console.log(`▶ ${name}`);
    const { code } = await run([Deno.execPath(), ...cmd.slice(1)]);
    record(name, code === 0);
  }
  // The soak tests measure a server under a long load from this side: they run in a test process
  // of their own, so nothing the other tests left in theirs (endpoints, timers, garbage) weighs on
  // the clients they drive.
  const soaks = ["tests/soak_test.ts", "tests/soak_attack_test.ts"];
  await denoTest("deno test", ["--ignore=" + soaks.join(",")]);
  await denoTest("deno test (soak)", soaks);
  if (failures.length > 0) console.log(`\nFailed: ${failures.join("; ")}`);
  console.log(`${passed} passed, ${failed} failed`);
  Deno.exit(failed === 0 ? 0 : 1);
}

await main();
