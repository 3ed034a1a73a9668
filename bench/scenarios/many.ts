/**
 * Scenario `many`: many connections. C `gtlsclient` processes run at once, each sending R GETs
 * on its own QUIC connection (C × R requests in all), to our server and to Caddy in
 * interleaved pairs. req/s = C × R / wall clock from spawning the first client to the last
 * one's exit. The clients run on the same 2 cores as the server: their CPU time (from the
 * shell's `times`) and the server's (from /proc) are recorded for each run, so the reader sees
 * how much of the machine each side took.
 * @module
 */

import { cpuSeconds } from "../support/process.ts";
import {
  type BenchOptions,
  fmt,
  interleave,
  median,
  medianOf,
  pairRatios,
  progress,
  round,
  type ScenarioResult,
  table,
} from "../support/common.ts";
import type { BenchEnv } from "../support/env.ts";
import { checkResponses, gtlsCommand } from "./one.ts";

const RUN_LIMIT_MS = 180_000;

/** The shell script starting `conns` clients at once and printing their CPU time (`times`). */
export function manyScript(port: number, conns: number, requests: number): string {
  const client = gtlsCommand(port, requests, true).join(" ");
  return `i=0; while [ $i -lt ${conns} ]; do ` +
    `(${client} >/dev/null || echo "client exit $?" >&2) & i=$((i+1)); done; wait; times`;
}

/** Children's user + system seconds from the second line of `times`. */
export function childCpuSeconds(timesOutput: string): number {
  const line = timesOutput.trim().split("\n").at(-1) ?? "";
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length < 2) return NaN;
  return parts.slice(0, 2).reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}

async function runScript(script: string) {
  const start = performance.now();
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_LIMIT_MS),
  }).output().catch((error) => ({
    code: -1,
    stdout: new Uint8Array(),
    stderr: new TextEncoder().encode(String(error)),
  }));
  const ms = performance.now() - start;
  const dec = new TextDecoder();
  return { code: out.code, ms, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the many-connections comparison. */
export async function runMany(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const conns = options.quick ? 20 : 100;
  const requests = options.quick ? 20 : 100;
  const pairs = options.pairs;
  const errors: string[] = [];
  const port = env.port();
  const caddyPort = env.port();
  const labPort = env.port();
  progress("many: starting our server and Caddy");
  const ours = await env.startOurs(port, labPort);
  const caddy = await env.startCaddy(caddyPort);
  const servers = { ours, caddy };
  const ports: Record<string, number> = { ours: port, caddy: caddyPort };
  try {
    for (const [target, p] of Object.entries(ports)) {
      const check = await checkResponses(p);
      if (check.error) throw new Error(`many: ${target}: ${check.error}`);
    }
    progress(`many: ${conns} connections × ${requests} GETs at once, ${pairs} pairs`);
    const samples = await interleave(["ours", "caddy"], pairs, async (target) => {
      const pid = servers[target as "ours" | "caddy"].pid;
      const cpuBefore = await cpuSeconds(pid);
      const run = await runScript(manyScript(ports[target], conns, requests));
      const serverCpu = (await cpuSeconds(pid)) - cpuBefore;
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`many ${target}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: Math.round((conns * requests) / (run.ms / 1000)),
        ok,
        detail: {
          ms: round(run.ms, 1),
          clientCpuS: round(childCpuSeconds(run.stdout), 2),
          serverCpuS: round(serverCpu, 2),
        },
      };
    }, "req/s");
    const ratios = pairRatios(samples, "ours", "caddy");
    const med = { ours: medianOf(samples, "ours"), caddy: medianOf(samples, "caddy") };
    const ratio = median(ratios);
    const cpu = (target: string, key: string) =>
      median(samples.filter((s) => s.target === target).map((s) => s.detail?.[key] as number));
    const wall = (target: string) =>
      median(samples.filter((s) => s.target === target).map((s) => s.detail?.ms as number)) /
      1000;
    return {
      name: "many",
      title: "Many connections (HTTP/3, ours vs Caddy)",
      rows: [{
        scenario: `${conns} connections × ${requests} GETs (req/s)`,
        ours: fmt(med.ours),
        peer: `Caddy ${fmt(med.caddy)}`,
        ratio: fmt(ratio, 2),
        target: "≥ 1.0× Caddy",
        met: Number.isFinite(ratio) ? ratio >= 1 : null,
      }],
      markdown: [
        `${conns} \`gtlsclient -n ${requests}\` processes started at once (one QUIC connection ` +
        `each, ${fmt(conns * requests)} GETs of the 15-byte JSON body per run), ${pairs} ` +
        "interleaved pairs after one uncounted warm-up each. req/s = all requests / wall clock " +
        "from the first spawn to the last exit, so it includes each client's process start and " +
        "TLS handshake, the same for both servers.",
        "",
        `**Median: ours ${fmt(med.ours)} req/s, Caddy ${fmt(med.caddy)} req/s; median ` +
        `per-pair ratio ours/Caddy ${fmt(ratio, 3)}.**`,
        "",
        "Client-side cost: the clients share the server's 2 cores. Median CPU seconds per run " +
        `(wall clock ours ${fmt(wall("ours"), 2)} s, Caddy ${fmt(wall("caddy"), 2)} s): ` +
        `clients ${fmt(cpu("ours", "clientCpuS"), 2)} s with ours, ` +
        `${fmt(cpu("caddy", "clientCpuS"), 2)} s with Caddy; server ours ` +
        `${fmt(cpu("ours", "serverCpuS"), 2)} s, Caddy ${fmt(cpu("caddy", "serverCpuS"), 2)} s. ` +
        "With 2 cores, the clients take a large share of the machine, so absolute req/s are " +
        "a floor; the ratio and the server CPU seconds per run are the comparison.",
        "",
        ...table(
          ["pair", "server", "ms", "req/s", "client CPU s", "server CPU s", "result"],
          samples.map((s) => [
            s.pair,
            s.target,
            fmt(s.detail?.ms as number, 1),
            fmt(s.value),
            fmt(s.detail?.clientCpuS as number, 2),
            fmt(s.detail?.serverCpuS as number, 2),
            s.ok ? "ok" : "FAILED",
          ]),
        ),
        "",
        `Per-pair ratios ours/Caddy: ${ratios.join(", ")}`,
      ],
      commands: {
        ours: env.ourServerCommand(port, labPort).join(" "),
        caddy: env.caddyCommand().join(" "),
        clients: `sh -c '${manyScript(port, conns, requests)}'`,
      },
      data: { conns, requests, pairs, samples, ratios, median: med, medianRatio: ratio },
      errors,
    };
  } finally {
    await Promise.all([env.stop(ours), env.stop(caddy)]);
  }
}
