/**
 * The benchmark task (`deno task bench`). First runs the in-process `Deno.bench` files in
 * `bench/` (`deno bench --allow-all bench/`) and keeps their table; then compares our HTTP/3
 * server with Caddy on "requests on one connection": ngtcp2's `gtlsclient` sends N GETs of a
 * tiny JSON response over one QUIC connection, against each server in interleaved pairs
 * (A B A B …, after one uncounted warm-up each), timed from spawn to exit. Both servers use the
 * same certificate and key and listen on 127.0.0.1 only. Writes
 * `bench/results/<YYYY-MM-DD>.md` and `.json`, prints a summary, and exits non-zero if any run
 * failed.
 *
 * Options: `--pairs N` (default 7, 5–50), `--requests N` (default 20000, 1–100000).
 * @module
 */

import { capture, ensureCommand, freePort, ServerProcess, timedRun } from "./_bench_proc.ts";
import {
  type BenchReport,
  type BenchRun,
  machineInfo,
  median,
  renderMarkdown,
  versionInfo,
} from "./_bench_report.ts";

const RUN_LIMIT_MS = 120_000;
const OUR_BANNER = "QUIC connection-migration server on";
const CADDY_READY = "serving initial configuration";
const BODY = '{"status":"ok"}';
const ROOT = new URL("..", import.meta.url).pathname;

function intOption(name: string, fallback: number, min: number, max: number): number {
  const i = Deno.args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(Deno.args[i + 1]);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name} must be an integer from ${min} to ${max}`);
    Deno.exit(2);
  }
  return value;
}

/** Runs `deno bench` in a subprocess, echoing and capturing what it prints. */
async function runDenoBench(): Promise<{ code: number; output: string }> {
  console.log("▶ deno bench --allow-all bench/");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "bench/"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(600_000),
  }).spawn();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      output += new TextDecoder().decode(chunk);
      sink.writeSync(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  return { code: status.code, output };
}

function caddyfile(port: number, certDir: string): string {
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
    `\ttls ${certDir}/cert.pem ${certDir}/key.pem`,
    "\theader Content-Type application/json",
    `\trespond \`${BODY}\` 200`,
    "}",
    "",
  ].join("\n");
}

function clientCommand(port: number, requests: number, quiet: boolean): string[] {
  return [
    "gtlsclient",
    ...(quiet ? ["-q"] : []),
    "--exit-on-all-streams-close",
    "-n",
    String(requests),
    `--max-streams-bidi=${requests}`,
    "127.0.0.1",
    String(port),
    `https://localhost:${port}/healthz`,
  ];
}

/**
 * A small non-quiet run: every response must be `:status: 200` with our body. Returns the
 * first response's fields, or an error.
 */
async function checkResponses(port: number): Promise<{ fields: string[]; error?: string }> {
  const n = 3;
  const out = await capture(clientCommand(port, n, false), {}, 30_000);
  const text = out.stdout + out.stderr;
  const statuses = [...text.matchAll(/^http: stream 0x[0-9a-f]+ \[:status: (\d+)\]$/gm)];
  const ok = statuses.filter((m) => m[1] === "200").length;
  const fields = [...text.matchAll(/^http: stream 0x0 \[(.+)\]$/gm)].map((m) => m[1]);
  const bodies = text.split(BODY).length - 1;
  if (out.code !== 0 || ok !== n || statuses.length !== n || bodies < n) {
    return {
      fields,
      error: `check run on port ${port}: exit ${out.code}, ${ok}/${n} ":status: 200" ` +
        `(${statuses.length} statuses), ${bodies} bodies`,
    };
  }
  return { fields };
}

async function main(): Promise<number> {
  const pairs = intOption("--pairs", 7, 5, 50);
  const requests = intOption("--requests", 20_000, 1, 100_000);
  const startedAt = new Date().toISOString();
  const errors: string[] = [];

  const denoBench = await runDenoBench();
  if (denoBench.code !== 0) errors.push(`deno bench exited ${denoBench.code}`);

  const haveClient = await ensureCommand("gtlsclient", "ngtcp2-client");
  const haveCaddy = await ensureCommand("caddy", "caddy");
  if (!haveClient || !haveCaddy) {
    console.error("✗ gtlsclient and caddy are both needed for the server comparison");
    return 1;
  }

  const tmp = await Deno.makeTempDir({ prefix: "quic-bench-" });
  const port = freePort();
  const labPort = freePort([port]);
  const caddyPort = freePort([port, labPort]);
  const certDir = `${tmp}/certs`;
  const caddyConfig = caddyfile(caddyPort, certDir);
  const ourCmd = [
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}main.ts`,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--lab-port",
    String(labPort),
    "--data-dir",
    tmp,
  ];
  const caddyCmd = ["caddy", "run", "--config", `${tmp}/Caddyfile`, "--adapter", "caddyfile"];
  const caddyEnv = { HOME: tmp, XDG_DATA_HOME: `${tmp}/xdg`, XDG_CONFIG_HOME: `${tmp}/xdg` };
  const servers: ServerProcess[] = [];
  const runs: BenchRun[] = [];
  const responseFields = { ours: [] as string[], caddy: [] as string[] };
  try {
    console.log(`▶ starting our server on 127.0.0.1:${port}`);
    const ours = ServerProcess.spawn("our server", ourCmd);
    servers.push(ours);
    await ours.waitForLine(OUR_BANNER, 60_000);
    await Deno.writeTextFile(`${tmp}/Caddyfile`, caddyConfig);
    console.log(`▶ starting Caddy on 127.0.0.1:${caddyPort}`);
    const caddy = ServerProcess.spawn("caddy", caddyCmd, caddyEnv);
    servers.push(caddy);
    await caddy.waitForLine(CADDY_READY, 30_000);

    const targets = [
      { server: "ours" as const, port },
      { server: "caddy" as const, port: caddyPort },
    ];
    let checked = true;
    for (const t of targets) {
      const check = await checkResponses(t.port);
      responseFields[t.server] = check.fields;
      if (check.error) errors.push(`${t.server}: ${check.error}`);
      checked &&= check.error === undefined;
    }
    if (!checked) throw new Error("response check failed: no timed runs");

    for (let pair = 0; pair <= pairs; pair++) {
      for (const t of targets) {
        const run = await timedRun(clientCommand(t.port, requests, true), RUN_LIMIT_MS);
        const ok = run.code === 0 && run.stderr.trim() === "";
        const reqPerSec = requests / (run.ms / 1000);
        const label = pair === 0 ? "warm-up" : `pair ${pair}`;
        console.log(
          `  ${label} ${t.server.padEnd(5)} ${run.ms.toFixed(1).padStart(8)} ms ` +
            `${Math.round(reqPerSec).toString().padStart(7)} req/s${ok ? "" : " FAILED"}`,
        );
        if (!ok) {
          errors.push(
            `${label} ${t.server}: exit ${run.code}${run.stderr ? `, stderr: ${run.stderr}` : ""}`,
          );
        }
        if (pair === 0) continue;
        runs.push({
          pair,
          server: t.server,
          ms: Math.round(run.ms * 10) / 10,
          reqPerSec: Math.round(reqPerSec),
          code: run.code,
          ok,
          ...(run.stderr ? { stderr: run.stderr } : {}),
        });
      }
    }
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
    for (const s of servers) console.error(`--- last lines of ${s.name}:\n${s.lines.join("\n")}`);
  } finally {
    await Promise.all(servers.map((s) => s.stop(8000)));
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const rate = (server: string) =>
    runs.filter((r) => r.server === server && r.ok).map((r) => r.reqPerSec);
  const ratios: number[] = [];
  for (let pair = 1; pair <= pairs; pair++) {
    const a = runs.find((r) => r.pair === pair && r.server === "ours");
    const b = runs.find((r) => r.pair === pair && r.server === "caddy");
    if (a?.ok && b?.ok) ratios.push(Math.round((a.reqPerSec / b.reqPerSec) * 1000) / 1000);
  }
  const report: BenchReport = {
    date: startedAt.slice(0, 10),
    startedAt,
    machine: await machineInfo(),
    versions: await versionInfo(),
    oneConnection: {
      requests,
      pairs,
      commands: {
        ours: ourCmd.join(" "),
        caddy: caddyCmd.join(" "),
        "client (ours)": clientCommand(port, requests, true).join(" "),
        "client (caddy)": clientCommand(caddyPort, requests, true).join(" "),
        "response check": clientCommand(port, 3, false).join(" "),
      },
      caddyfile: caddyConfig,
      responseFields,
      runs,
      median: { ours: median(rate("ours")), caddy: median(rate("caddy")) },
      medianRatio: median(ratios),
      ratios,
    },
    denoBench,
    ok: errors.length === 0,
    errors,
  };
  const dir = `${ROOT}bench/results`;
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir}/${report.date}`;
  // Results are committed: no path of this machine goes into them.
  const redact = (text: string) =>
    text.replaceAll(Deno.execPath(), "deno")
      .replaceAll(tmp, "<tmp>")
      .replaceAll(`file://${ROOT}`, "./")
      .replaceAll(ROOT, "./");
  await Deno.writeTextFile(`${base}.json`, redact(JSON.stringify(report, null, 2)) + "\n");
  await Deno.writeTextFile(`${base}.md`, redact(renderMarkdown(report)));

  const one = report.oneConnection;
  console.log(
    `\nRequests on one connection (${requests} GETs, ${pairs} pairs): median ours ` +
      `${Math.round(one.median.ours)} req/s, Caddy ${Math.round(one.median.caddy)} req/s, ` +
      `median ratio ours/Caddy ${one.medianRatio.toFixed(3)}`,
  );
  if (errors.length > 0) console.error(`✗ ${errors.length} problem(s):\n  ${errors.join("\n  ")}`);
  console.log(`Results: ${base}.md and ${base}.json`);
  return errors.length === 0 ? 0 : 1;
}

Deno.exit(await main());
