/**
 * What every scenario of `bench/run.ts` shares: the options, progress lines on stderr,
 * statistics (median, percentiles, interleaved pairs) and the shape of a scenario's result.
 * @module
 */

/** The scenarios, in the order they run. */
export const SCENARIOS = ["one", "many", "bulk", "tcp", "migration", "idle", "tracker"] as const;

/** A scenario's name, as given to `--only`. */
export type ScenarioName = typeof SCENARIOS[number];

/** The command line of `deno task bench`. */
export interface BenchOptions {
  /** The scenarios to run. */
  only: ScenarioName[];
  /** Small sizes and fewer pairs, for a quick check (results are not comparable). */
  quick: boolean;
  /** Interleaved pairs per comparison. */
  pairs: number;
  /** GETs per run of the one-connection comparison. */
  requests: number;
  /** Whether to run the in-process `deno bench` files first. */
  denoBench: boolean;
}

/** What `--help` prints. */
export const USAGE = `deno task bench [-- options]
  --only a,b,…     scenarios to run: ${SCENARIOS.join(", ")} (default: all)
  --quick          small sizes and 2 pairs: a quick check, not a result to compare
  --pairs N        interleaved pairs per comparison (default 5; 1–50, at least 5 unless --quick)
  --requests N     GETs per one-connection run (default 20000)
  --no-deno-bench  skip the in-process micro-benchmarks`;

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseOptions(args: string[]): BenchOptions {
  const value = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
    return args[i + 1];
  };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
  const known = new Set(["--only", "--quick", "--pairs", "--requests", "--no-deno-bench"]);
  for (const [i, arg] of args.entries()) {
    const isValue = i > 0 && ["--only", "--pairs", "--requests"].includes(args[i - 1]);
    if (!isValue && !known.has(arg)) throw new Error(`unknown option ${JSON.stringify(arg)}`);
  }
  const quick = args.includes("--quick");
  const onlyRaw = value("--only");
  const only = onlyRaw === undefined ? [...SCENARIOS] : onlyRaw.split(",").map((s) => s.trim());
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown scenario ${JSON.stringify(name)} (${SCENARIOS.join(", ")})`);
    }
  }
  return {
    only: SCENARIOS.filter((s) => only.includes(s)),
    quick,
    pairs: int("--pairs", quick ? 2 : 5, quick ? 1 : 5, 50),
    requests: int("--requests", quick ? 2000 : 20_000, 1, 100_000),
    denoBench: !args.includes("--no-deno-bench") && !quick,
  };
}

const started = performance.now();

/** Prints a progress line on stderr, with the time since the task started. */
export function progress(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  console.error(`[${s} s] ${message}`);
}

/** Median of a list (NaN when empty). */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/**
 * The `p`-th percentile (0–100) by linear interpolation between closest ranks (NaN when
 * empty). `percentile([1, 2, 3, 4], 50)` is 2.5.
 */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** One measurement of one target in an interleaved comparison. */
export interface Sample {
  /** Pair (round) number, from 1; 0 is the uncounted warm-up. */
  pair: number;
  /** Which target. */
  target: string;
  /** The figure compared (higher is better: req/s, MB/s). */
  value: number;
  /** Whether the run succeeded. */
  ok: boolean;
  /** Anything else worth keeping about the run. */
  detail?: Record<string, unknown>;
}

/**
 * Runs `measure` for each target in turn, `pairs` times (A B A B …), after one uncounted
 * warm-up round, printing each figure as progress. Failed runs are kept with `ok` false; the
 * caller decides what they mean.
 */
export async function interleave(
  targets: string[],
  pairs: number,
  measure: (target: string, pair: number) => Promise<Omit<Sample, "pair" | "target">>,
  unit: string,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let pair = 0; pair <= pairs; pair++) {
    for (const target of targets) {
      const sample = { pair, target, ...(await measure(target, pair)) };
      const label = pair === 0 ? "warm-up" : `pair ${pair}/${pairs}`;
      progress(
        `  ${label} ${target.padEnd(10)} ${fmt(sample.value, 1).padStart(10)} ${unit}` +
          (sample.ok ? "" : " FAILED"),
      );
      if (pair > 0) samples.push(sample);
    }
  }
  return samples;
}

/** Per-pair ratios a/b over the pairs where both succeeded. */
export function pairRatios(samples: Sample[], a: string, b: string): number[] {
  const ratios: number[] = [];
  for (const x of samples) {
    if (x.target !== a || !x.ok) continue;
    const y = samples.find((s) => s.pair === x.pair && s.target === b);
    if (y?.ok && y.value > 0) ratios.push(round(x.value / y.value, 3));
  }
  return ratios;
}

/** Median value of one target's successful samples. */
export function medianOf(samples: Sample[], target: string): number {
  return median(samples.filter((s) => s.target === target && s.ok).map((s) => s.value));
}

/** A number for people: thousands separators, at most `digits` decimals, "n/a" if not finite. */
export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "n/a";
}

/** One line of the summary table (README and results). */
export interface SummaryRow {
  /** What was measured. */
  scenario: string;
  /** Our figure, with its unit. */
  ours: string;
  /** The peer's figure, or "—". */
  peer: string;
  /** Median ratio (or difference) and what it compares, or "—". */
  ratio: string;
  /** The target, or "—". */
  target: string;
  /** Whether the target was met; null when there is none or nothing was measured. */
  met: boolean | null;
}

/** What a scenario hands back to the report. */
export interface ScenarioResult {
  /** Its `--only` name. */
  name: ScenarioName;
  /** Section title in the report. */
  title: string;
  /** Lines of the summary table. */
  rows: SummaryRow[];
  /** The section's Markdown (without its title). */
  markdown: string[];
  /** Command lines used, for the record. */
  commands: Record<string, string>;
  /** The raw figures, for the JSON. */
  data: unknown;
  /** What went wrong, if anything. */
  errors: string[];
  /** When it was measured (set by the task; a result kept from an earlier run keeps its own). */
  measuredAt?: string;
}

/** Markdown table lines from a header and rows of cells. */
export function table(header: string[], rows: (string | number)[][]): string[] {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)];
}

/** The message of anything thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
