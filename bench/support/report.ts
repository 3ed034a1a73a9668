/**
 * Results of `bench/run.ts`: the machine and tool versions they were measured with, the
 * summary table of every scenario against its target, and the Markdown written next to the
 * JSON in `bench/results/`.
 * @module
 */

import { capture } from "./process.ts";
import type { BenchOptions } from "./options.ts";
import type { ScenarioResult, SummaryRow } from "./scenario_result.ts";
import { fmt } from "./format.ts";

/** The machine a run was measured on. */
export interface Machine {
  /** Output of `nproc`. */
  nproc: number;
  /** First `model name` in /proc/cpuinfo. */
  cpu: string;
  /** `MemTotal` from /proc/meminfo, in MiB. */
  memoryMiB: number;
  /** 1-minute load average when the run started (other work on the machine). */
  loadAverage: number;
  /** Soft limit on open files (`ulimit -n`) the task ran with. */
  openFilesLimit: number;
}

/** Versions of everything that took part. */
export interface Versions {
  /** Deno running the servers and this script. */
  deno: string;
  /** `caddy version`. */
  caddy: string;
  /** `dpkg-query -W ngtcp2-client`. */
  ngtcp2Client: string;
  /** `dpkg-query -W nghttp2-client` (h2load). */
  nghttp2Client: string;
  /** `curl --version`'s name and version. */
  curl: string;
}

/** The one-connection figures of an earlier run the same day, kept when a run replaces it. */
export interface PreviousRun {
  /** When it started. */
  startedAt: string;
  /** Median req/s of each server and the median ratio. */
  ours: number;
  /** Caddy's median req/s. */
  caddy: number;
  /** Median per-pair ratio ours/Caddy. */
  ratio: number;
}

/** Everything `bench/results/<date>.json` holds. */
export interface BenchReport {
  /** Date of the run, YYYY-MM-DD (UTC). */
  date: string;
  /** When it started and ended, ISO 8601. */
  startedAt: string;
  /** When it ended. */
  finishedAt: string;
  /** The options it ran with. */
  options: BenchOptions;
  /** The machine. */
  machine: Machine;
  /** Tool versions. */
  versions: Versions;
  /** Each scenario that ran. */
  scenarios: ScenarioResult[];
  /** `deno bench --allow-all bench/`: exit code and its output (absent when skipped). */
  denoBench?: { code: number; output: string };
  /** Earlier runs of the one-connection comparison the same day, oldest first. */
  previous?: PreviousRun[];
  /** Whether every run succeeded. */
  ok: boolean;
  /** What went wrong, if anything. */
  errors: string[];
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** Reads nproc, the CPU model, total memory, the load average and the open-files limit. */
export async function machineInfo(): Promise<Machine> {
  const nproc = Number((await capture(["nproc"])).stdout.trim()) ||
    navigator.hardwareConcurrency;
  const cpuinfo = await readText("/proc/cpuinfo");
  const cpu = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? "unknown";
  const meminfo = await readText("/proc/meminfo");
  const kb = Number(meminfo.match(/^MemTotal:\s*(\d+)\s*kB/m)?.[1] ?? NaN);
  const loadAverage = Number((await readText("/proc/loadavg")).split(" ")[0]);
  const openFilesLimit = Number((await capture(["sh", "-c", "ulimit -n"])).stdout.trim());
  return { nproc, cpu, memoryMiB: Math.round(kb / 1024), loadAverage, openFilesLimit };
}

/** Reads the versions of Deno, Caddy, the ngtcp2 and nghttp2 client packages and curl. */
export async function versionInfo(): Promise<Versions> {
  const caddy = (await capture(["caddy", "version"])).stdout.trim() || "unknown";
  const pkg = async (name: string) => {
    const dpkg = await capture(["dpkg-query", "-W", name]);
    return dpkg.code === 0 ? dpkg.stdout.trim().replace(/\t/g, " ") : "unknown";
  };
  // "curl 7.88.1": the rest of the line lists libraries.
  const curl = (await capture(["curl", "--version"])).stdout.split(" ").slice(0, 2).join(" ") ||
    "unknown";
  return {
    deno: Deno.version.deno,
    caddy,
    ngtcp2Client: await pkg("ngtcp2-client"),
    nghttp2Client: await pkg("nghttp2-client"),
    curl,
  };
}

/** The one-connection figures of a results file, before and since the ceiling joined. */
interface OneFigures {
  median: { ours: number; caddy: number };
  medianRatio: number | { caddy: number };
}

/**
 * The one-connection runs recorded in the results file at `path` (either format): the earlier
 * runs it lists, and its own one-connection figures if it has them.
 */
export async function previousOneConnection(
  path: string,
): Promise<{ earlier: PreviousRun[]; current?: PreviousRun }> {
  try {
    const old = JSON.parse(await Deno.readTextFile(path));
    // `previous` was a single run in the first files of this format.
    const earlier: PreviousRun[] = Array.isArray(old.previous)
      ? old.previous
      : old.previous
      ? [old.previous]
      : [];
    if (old.oneConnection) {
      const one = old.oneConnection;
      return {
        earlier,
        current: {
          startedAt: old.startedAt,
          ours: one.median.ours,
          caddy: one.median.caddy,
          ratio: one.medianRatio,
        },
      };
    }
    const one = (old.scenarios ?? []).find((s: ScenarioResult) => s.name === "one");
    if (one === undefined) return { earlier };
    // Since the ceiling joined, figures are per path; `/healthz` is the path measured before.
    const data = one.data as OneFigures & { paths?: Record<string, OneFigures> };
    const figures = data.paths?.["/healthz"] ?? data;
    const ratio = figures.medianRatio;
    return {
      earlier,
      current: {
        startedAt: one.measuredAt ?? old.startedAt,
        ours: figures.median.ours,
        caddy: figures.median.caddy,
        ratio: typeof ratio === "number" ? ratio : ratio.caddy,
      },
    };
  } catch {
    return { earlier: [] };
  }
}

/**
 * The scenarios of the results file at `path` (current format) that are not in `rerun`, to
 * keep when a run measures only some scenarios; empty when there is no such file.
 */
export async function earlierScenarios(
  path: string,
  rerun: string[],
): Promise<ScenarioResult[]> {
  try {
    const old = JSON.parse(await Deno.readTextFile(path));
    const scenarios = (old.scenarios ?? []) as ScenarioResult[];
    return scenarios
      .filter((s) => !rerun.includes(s.name))
      .map((s) => ({ ...s, measuredAt: s.measuredAt ?? old.startedAt }));
  } catch {
    return [];
  }
}

/** The `deno bench` output of the results file at `path`, if it has one. */
export async function earlierDenoBench(
  path: string,
): Promise<{ code: number; output: string } | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)).denoBench;
  } catch {
    return undefined;
  }
}

/** The summary table (scenario, ours, peer, ratio, target, met) as Markdown lines. */
export function summaryTable(rows: SummaryRow[]): string[] {
  const met = (m: boolean | null) => m === null ? "—" : m ? "met" : "**missed**";
  return [
    "| scenario | ours | peer | ratio | target | |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.scenario} | ${r.ours} | ${r.peer} | ${r.ratio} | ${r.target} | ${met(r.met)} |`
    ),
  ];
}

/** Renders the report as Markdown. */
export function renderMarkdown(r: BenchReport): string {
  const rows = r.scenarios.flatMap((s) => s.rows);
  const sections = r.scenarios.flatMap((s) => [
    `## ${s.title}`,
    "",
    ...(s.measuredAt ? [`Measured ${s.measuredAt}.`, ""] : []),
    ...s.markdown,
    "",
    "Commands:",
    "",
    ...Object.entries(s.commands).map(([k, v]) => `- ${k}: \`${v}\``),
    "",
  ]);
  const p = r.previous;
  return [
    `# Benchmark results ${r.date}`,
    "",
    `Measured on ${r.machine.cpu}, ${r.machine.nproc} cores, with Deno ${r.versions.deno}, ` +
    `Caddy ${r.versions.caddy} and ${r.versions.ngtcp2Client}. Comparisons are medians of ` +
    "per-round ratios (every server once per round, interleaved, after an uncounted warm-up " +
    "round).",
    "",
    `Started ${r.startedAt}, finished ${r.finishedAt}` +
    `${r.options.quick ? " (**--quick**: small sizes, not comparable)" : ""}. ` +
    `${r.ok ? "All runs succeeded." : "**Some runs failed.**"}`,
    ...(r.errors.length > 0 ? ["", ...r.errors.map((e) => `- ${e.split("\n")[0]}`)] : []),
    "",
    "## Machine and versions",
    "",
    `- CPUs (nproc): ${r.machine.nproc}; CPU: ${r.machine.cpu}; memory: ${
      fmt(r.machine.memoryMiB)
    } MiB; open-files limit ${r.machine.openFilesLimit}`,
    `- Load average at the start: ${r.machine.loadAverage}. A small shared virtual machine: ` +
    "absolute figures are noisy and the clients share the cores with the servers; the " +
    "interleaved ratios are the comparison.",
    `- Deno ${r.versions.deno}; Caddy ${r.versions.caddy}; ${r.versions.ngtcp2Client}; ` +
    `${r.versions.nghttp2Client}; ${r.versions.curl}`,
    `- This run: ${r.options.only.join(", ")}, ${r.options.rounds} rounds per comparison` +
    (r.scenarios.some((s) => !r.options.only.includes(s.name))
      ? `; kept from an earlier run today: ${
        r.scenarios.filter((s) => !r.options.only.includes(s.name)).map((s) => s.name).join(", ")
      } (each section says when it was measured)`
      : ""),
    "",
    "## Summary",
    "",
    ...summaryTable(rows),
    "",
    ...(p && p.length > 0
      ? [
        "Earlier runs today, one connection, `/healthz`: " + p.map((x) =>
          `${x.startedAt}: ours ${fmt(x.ours)} req/s, Caddy ${fmt(x.caddy)} req/s, ratio ${
            fmt(x.ratio, 3)
          }`
        ).join("; ") + ".",
        "",
      ]
      : []),
    ...sections,
    ...(r.denoBench
      ? [
        `## deno bench (exit ${r.denoBench.code})`,
        "",
        "```",
        r.denoBench.output.trimEnd(),
        "```",
        "",
      ]
      : []),
  ].join("\n");
}
