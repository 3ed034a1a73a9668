/**
 * Scenario `bulk`: one large download (100 MiB), timed from spawning the client to its exit.
 * Over HTTP/3 with `gtlsclient`: our `/api/download?bytes=N` against Caddy serving a file of
 * the same bytes. Over TCP (HTTP/1.1, TLS: our TCP listener's default) with `curl --http1.1`:
 * our TCP listener and a bare
 * `Deno.serve` streaming the same bytes, the runtime's own ceiling. MB/s = bytes / 10⁶ / s.
 * @module
 */

import { capture, cpuSeconds, sleep, timedRun } from "../support/process.ts";
import { fmt, progress, table } from "../support/format.ts";
import type { BenchOptions } from "../support/options.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { interleave, median, medianOf, round, roundRatios } from "../support/stats.ts";
import { type BenchEnv, Restartable } from "../support/env.ts";
import { DOWNLOAD_CHUNK, fillDownloadChunk } from "../../lib/download.ts";

const RUN_LIMIT_MS = 120_000;
const MiB = 1024 * 1024;

/** Writes `bytes` download bytes (the same as `/api/download` streams) to `path`. */
async function writeDownloadFile(path: string, bytes: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const chunk = new Uint8Array(DOWNLOAD_CHUNK);
    for (let offset = 0; offset < bytes; offset += DOWNLOAD_CHUNK) {
      fillDownloadChunk(chunk, offset);
      const n = Math.min(DOWNLOAD_CHUNK, bytes - offset);
      let written = 0;
      while (written < n) written += await file.write(chunk.subarray(written, n));
    }
  } finally {
    file.close();
  }
}

function h3Command(port: number, path: string, downloadDir?: string): string[] {
  return [
    "gtlsclient",
    "-q",
    "--exit-on-all-streams-close",
    ...(downloadDir ? [`--download=${downloadDir}`] : []),
    "127.0.0.1",
    String(port),
    `https://localhost:${port}${path}`,
  ];
}

function curlCommand(port: number, path: string): string[] {
  return [
    "curl",
    "--http1.1",
    "-k",
    "-s",
    "-S",
    "-o",
    "/dev/null",
    "-w",
    "%{http_version} %{size_download}",
    `https://127.0.0.1:${port}${path}`,
  ];
}

/** Runs the bulk-download comparison. */
export async function runBulk(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const bytes = (options.quick ? 10 : 100) * MiB;
  const rounds = options.rounds;
  const errors: string[] = [];
  const port = env.port();
  const labPort = env.port();
  const caddyPort = env.port();
  const barePort = env.port();
  progress(`bulk: writing the ${bytes / MiB} MiB file for Caddy; starting the servers`);
  await Deno.mkdir(`${env.tmp}/www`, { recursive: true });
  await writeDownloadFile(`${env.tmp}/www/bulk.bin`, bytes);
  const ours = new Restartable(() => env.startOurs(port, labPort));
  await ours.ensure();
  const caddy = await env.startCaddy(caddyPort);
  const bare = await env.startBare(barePort);
  const ourPath = `/api/download?bytes=${bytes}`;
  const commands: Record<string, string[]> = {
    "ours-h3": h3Command(port, ourPath),
    "caddy-h3": h3Command(caddyPort, "/files/bulk.bin"),
    "ours-tcp": curlCommand(port, ourPath),
    "bare-tcp": curlCommand(barePort, ourPath),
  };
  try {
    // One checked download each: the whole size arrives.
    for (const [target, cmd] of Object.entries(commands)) {
      if (target.endsWith("-h3")) {
        const dir = `${env.tmp}/dl-${target}`;
        await Deno.mkdir(dir, { recursive: true });
        const path = target === "ours-h3" ? ourPath : "/files/bulk.bin";
        const out = await capture(
          h3Command(target === "ours-h3" ? port : caddyPort, path, dir),
          {},
          RUN_LIMIT_MS,
        );
        let size = 0;
        for await (const f of Deno.readDir(dir)) size += (await Deno.stat(`${dir}/${f.name}`)).size;
        await Deno.remove(dir, { recursive: true });
        if (out.code !== 0 || size !== bytes) {
          throw new Error(
            `bulk ${target}: check got ${size} bytes, exit ${out.code} ${out.stderr}`,
          );
        }
      } else {
        const out = await capture(cmd, {}, RUN_LIMIT_MS);
        if (out.code !== 0 || out.stdout.trim() !== `1.1 ${bytes}`) {
          throw new Error(`bulk ${target}: check printed "${out.stdout}", exit ${out.code}`);
        }
      }
    }
    progress(`bulk: ${bytes / MiB} MiB downloads, ${rounds} rounds of 4`);
    const samples = await interleave(Object.keys(commands), rounds, async (target) => {
      const server = target.startsWith("ours")
        ? await ours.ensure()
        : target === "caddy-h3"
        ? caddy
        : bare;
      const cpuBefore = await cpuSeconds(server.pid);
      const run = await timedRun(commands[target], RUN_LIMIT_MS);
      const serverCpuS = round((await cpuSeconds(server.pid)) - cpuBefore, 2);
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`bulk ${target}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: round(bytes / 1e6 / (run.ms / 1000), 1),
        ok,
        detail: { ms: round(run.ms, 1), serverCpuS },
      };
    }, "MB/s");
    const cpu = (target: string) =>
      median(samples.filter((s) => s.target === target).map((s) => s.detail?.serverCpuS as number));
    await sleep(300);
    await ours.ensure(); // records a crash after the last run
    for (const crash of ours.crashes) errors.push(`bulk: our server crashed: ${crash}`);
    const med = Object.fromEntries(Object.keys(commands).map((t) => [t, medianOf(samples, t)]));
    const ratios = {
      "ours-h3/caddy-h3": roundRatios(samples, "ours-h3", "caddy-h3"),
      "ours-h3/bare-tcp": roundRatios(samples, "ours-h3", "bare-tcp"),
      "ours-tcp/bare-tcp": roundRatios(samples, "ours-tcp", "bare-tcp"),
    };
    const r = Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, median(v)]));
    const size = `${bytes / MiB} MiB`;
    return {
      name: "bulk",
      title: `Bulk download (${size})`,
      rows: [
        {
          scenario: `${size} download, HTTP/3 (MB/s)`,
          ours: fmt(med["ours-h3"], 1),
          peer: `Caddy ${fmt(med["caddy-h3"], 1)}`,
          ratio: fmt(r["ours-h3/caddy-h3"], 2),
          target: "—",
          met: null,
        },
        {
          scenario: `${size} download, ours HTTP/3 vs bare Deno.serve TCP h1 (MB/s)`,
          ours: fmt(med["ours-h3"], 1),
          peer: `bare TCP ${fmt(med["bare-tcp"], 1)}`,
          ratio: fmt(r["ours-h3/bare-tcp"], 2),
          target: "—",
          met: null,
        },
        {
          scenario: `${size} download, ours TCP h1 vs bare Deno.serve (MB/s)`,
          ours: fmt(med["ours-tcp"], 1),
          peer: `bare TCP ${fmt(med["bare-tcp"], 1)}`,
          ratio: fmt(r["ours-tcp/bare-tcp"], 2),
          target: "—",
          met: null,
        },
      ],
      markdown: [
        `One ${size} download per run, ${rounds} interleaved rounds (ours-h3, caddy-h3, ` +
        "ours-tcp, bare-tcp) after one uncounted warm-up each. HTTP/3 with `gtlsclient` " +
        "(default flow-control windows, body discarded); HTTP/1.1 over TLS with " +
        "`curl --http1.1 -k -o /dev/null`. Our server streams `/api/download` (generated bytes, " +
        "64 KiB chunks, paced by flow control); Caddy serves a file with the same bytes; the " +
        "bare `Deno.serve` (`bench/tools/bare_server.ts`) streams the same generator without " +
        "Hono or tracking. A checked download first verified the full size from each.",
        "",
        `**Median MB/s: ours HTTP/3 ${fmt(med["ours-h3"], 1)}, Caddy HTTP/3 ` +
        `${fmt(med["caddy-h3"], 1)}, ours TCP ${fmt(med["ours-tcp"], 1)}, bare Deno.serve TCP ` +
        `${fmt(med["bare-tcp"], 1)}. Median ratios: ` +
        Object.entries(r).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(", ") + ".**",
        "",
        "Median server CPU seconds per download (utime + stime from /proc, all threads; the " +
        "client takes the rest of the 2 cores): " +
        Object.keys(commands).map((t) => `${t} ${fmt(cpu(t), 2)} s`).join(", ") + ".",
        "",
        ...table(
          ["round", "target", "ms", "MB/s", "server CPU s", "result"],
          samples.map((s) => [
            s.round,
            s.target,
            fmt(s.detail?.ms as number, 1),
            fmt(s.value, 1),
            fmt(s.detail?.serverCpuS as number, 2),
            s.ok ? "ok" : "FAILED",
          ]),
        ),
        "",
        ...Object.entries(ratios).map(([k, v]) => `Per-round ${k}: ${v.join(", ")}`),
        "",
        ours.crashes.length > 0
          ? `**Our server crashed ${ours.crashes.length} time(s) (restarted before the next ` +
            `run); last line before each: ${ours.crashes.map((c) => `\`${c}\``).join("; ")}**`
          : "No server crashed.",
      ],
      commands: {
        ours: env.ourServerCommand(port, labPort).join(" "),
        caddy: env.caddyCommand().join(" "),
        bare: env.bareServerCommand(barePort).join(" "),
        ...Object.fromEntries(
          Object.entries(commands).map(([k, v]) => [`client ${k}`, v.join(" ")]),
        ),
      },
      data: {
        crashes: ours.crashes,
        bytes,
        rounds,
        samples,
        ratios,
        median: med,
        medianRatios: r,
      },
      errors,
    };
  } finally {
    await Promise.all([ours.stop(env), env.stop(caddy), env.stop(bare)]);
    await Deno.remove(`${env.tmp}/www/bulk.bin`).catch(() => {});
  }
}
