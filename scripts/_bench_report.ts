/**
 * Results of `scripts/bench.ts`: the machine and tool versions they were measured with, the
 * statistics, and the Markdown written next to the JSON in `bench/results/`.
 * @module
 */

import { capture } from "./_bench_proc.ts";

/** The machine a run was measured on. */
export interface Machine {
  /** Output of `nproc`. */
  nproc: number;
  /** First `model name` in /proc/cpuinfo. */
  cpu: string;
  /** `MemTotal` from /proc/meminfo, in MiB. */
  memoryMiB: number;
}

/** Versions of everything that took part. */
export interface Versions {
  /** Deno running the server and this script. */
  deno: string;
  /** `caddy version`. */
  caddy: string;
  /** `dpkg-query -W ngtcp2-client`, e.g. `ngtcp2-client 0.12.1+dfsg-1+deb12u1`. */
  ngtcp2Client: string;
}

/** One counted gtlsclient run against one server. */
export interface BenchRun {
  /** Pair number, from 1. */
  pair: number;
  /** `ours` or `caddy`. */
  server: "ours" | "caddy";
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
  /** Requests per second (requests / wall-clock seconds). */
  reqPerSec: number;
  /** Exit code (-1: killed at the time limit). */
  code: number;
  /** Whether the run counts as successful (exit 0, nothing on stderr). */
  ok: boolean;
  /** What gtlsclient printed on stderr, if anything. */
  stderr?: string;
}

/** Everything `bench/results/<date>.json` holds. */
export interface BenchReport {
  /** Date of the run, YYYY-MM-DD (UTC). */
  date: string;
  /** When it started, ISO 8601. */
  startedAt: string;
  /** The machine. */
  machine: Machine;
  /** Tool versions. */
  versions: Versions;
  /** The comparison "requests on one connection". */
  oneConnection: {
    /** Requests per gtlsclient run. */
    requests: number;
    /** Counted pairs (each after one uncounted warm-up per server). */
    pairs: number;
    /** Command lines: servers and clients. */
    commands: Record<string, string>;
    /** The Caddyfile Caddy ran with. */
    caddyfile: string;
    /** Response head fields each server sent (from the non-quiet check run). */
    responseFields: { ours: string[]; caddy: string[] };
    /** Every counted run, in the order they ran. */
    runs: BenchRun[];
    /** Median req/s of each server. */
    median: { ours: number; caddy: number };
    /** Median over pairs of ours/Caddy req/s. */
    medianRatio: number;
    /** Per-pair ratios ours/Caddy. */
    ratios: number[];
  };
  /** `deno bench --allow-all bench/`: exit code and its output. */
  denoBench: { code: number; output: string };
  /** Whether every run (and `deno bench`) succeeded. */
  ok: boolean;
  /** What went wrong, if anything. */
  errors: string[];
}

/** Median of a non-empty list (NaN when empty). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** Reads nproc, the CPU model and total memory. */
export async function machineInfo(): Promise<Machine> {
  const nproc = Number((await capture(["nproc"])).stdout.trim()) ||
    navigator.hardwareConcurrency;
  const cpuinfo = await readText("/proc/cpuinfo");
  const cpu = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? "unknown";
  const meminfo = await readText("/proc/meminfo");
  const kb = Number(meminfo.match(/^MemTotal:\s*(\d+)\s*kB/m)?.[1] ?? NaN);
  return { nproc, cpu, memoryMiB: Math.round(kb / 1024) };
}

/** Reads the versions of Deno, Caddy and the ngtcp2 client package. */
export async function versionInfo(): Promise<Versions> {
  const caddy = (await capture(["caddy", "version"])).stdout.trim() || "unknown";
  const dpkg = await capture(["dpkg-query", "-W", "ngtcp2-client"]);
  const ngtcp2Client = dpkg.code === 0 ? dpkg.stdout.trim().replace(/\t/g, " ") : "unknown";
  return { deno: Deno.version.deno, caddy, ngtcp2Client };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "n/a";

/** Renders the report as Markdown. */
export function renderMarkdown(r: BenchReport): string {
  const one = r.oneConnection;
  const rows = one.runs.map((run) =>
    `| ${run.pair} | ${run.server} | ${fmt(run.ms, 1)} | ${fmt(run.reqPerSec)} | ${run.code} | ${
      run.ok ? "ok" : "FAILED"
    } |`
  );
  const ratioRows = one.ratios.map((ratio, i) => `| ${i + 1} | ${fmt(ratio, 3)} |`);
  const commands = Object.entries(one.commands).map(([k, v]) => `- ${k}: \`${v}\``);
  return [
    `# Benchmark results ${r.date}`,
    "",
    `Started ${r.startedAt}. ${r.ok ? "All runs succeeded." : "**Some runs failed.**"}`,
    ...(r.errors.length > 0 ? ["", ...r.errors.map((e) => `- ${e}`)] : []),
    "",
    "## Machine and versions",
    "",
    `- CPUs (nproc): ${r.machine.nproc}; CPU: ${r.machine.cpu}; memory: ${
      fmt(r.machine.memoryMiB)
    } MiB`,
    `- Deno ${r.versions.deno}; Caddy ${r.versions.caddy}; ${r.versions.ngtcp2Client}`,
    "",
    "## Requests on one connection (ours vs Caddy, HTTP/3)",
    "",
    `${fmt(one.requests)} GETs of a 15-byte JSON body on one QUIC connection per run, ` +
    `${one.pairs} interleaved pairs after one uncounted warm-up per server. ` +
    "req/s = requests / wall clock from spawning gtlsclient to its exit.",
    "",
    `**Median: ours ${fmt(one.median.ours)} req/s, Caddy ${
      fmt(one.median.caddy)
    } req/s; median per-pair ratio ours/Caddy ${fmt(one.medianRatio, 3)}.**`,
    "",
    "| pair | server | ms | req/s | exit | result |",
    "| ---- | ------ | -- | ----- | ---- | ------ |",
    ...rows,
    "",
    "| pair | ours/Caddy |",
    "| ---- | ---------- |",
    ...ratioRows,
    "",
    "Commands:",
    "",
    ...commands,
    "",
    "Caddyfile:",
    "",
    "```",
    one.caddyfile.trimEnd(),
    "```",
    "",
    `Response fields, ours: ${one.responseFields.ours.join("; ")}`,
    "",
    `Response fields, Caddy: ${one.responseFields.caddy.join("; ")}`,
    "",
    `## deno bench (exit ${r.denoBench.code})`,
    "",
    "```",
    r.denoBench.output.trimEnd(),
    "```",
    "",
  ].join("\n");
}
