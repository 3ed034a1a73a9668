/**
 * Statistics of the benchmark task: median and percentiles, and interleaved comparisons
 * (every target once per round, A B C A B C …, after one uncounted warm-up round) reported as
 * per-round ratios, so that drift in the machine's load affects every target alike.
 * @module
 */

import { fmt, progress } from "./format.ts";

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
  /** Round number, from 1; 0 is the uncounted warm-up. */
  round: number;
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
 * Runs `measure` for each target in turn, `rounds` times (A B C A B C …), after one uncounted
 * warm-up round, printing each figure as progress. Failed runs are kept with `ok` false; the
 * caller decides what they mean.
 */
export async function interleave(
  targets: readonly string[],
  rounds: number,
  measure: (target: string, round: number) => Promise<Omit<Sample, "round" | "target">>,
  unit: string,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let round = 0; round <= rounds; round++) {
    for (const target of targets) {
      const sample = { round, target, ...(await measure(target, round)) };
      const label = round === 0 ? "warm-up" : `round ${round}/${rounds}`;
      progress(
        `  ${label} ${target.padEnd(10)} ${fmt(sample.value, 1).padStart(10)} ${unit}` +
          (sample.ok ? "" : " FAILED"),
      );
      if (round > 0) samples.push(sample);
    }
  }
  return samples;
}

/**
 * Per-round ratios a/b over the rounds where both succeeded, of each sample's value or of what
 * `pick` reads from it.
 */
export function roundRatios(
  samples: Sample[],
  a: string,
  b: string,
  pick: (sample: Sample) => number = (s) => s.value,
): number[] {
  const ratios: number[] = [];
  for (const x of samples) {
    if (x.target !== a || !x.ok) continue;
    const y = samples.find((s) => s.round === x.round && s.target === b);
    if (y?.ok && pick(y) > 0) ratios.push(round(pick(x) / pick(y), 3));
  }
  return ratios;
}

/** Median value of one target's successful samples. */
export function medianOf(samples: Sample[], target: string): number {
  return median(samples.filter((s) => s.target === target && s.ok).map((s) => s.value));
}

/** Median of one `detail` field over a target's samples (NaN when there is none). */
export function medianDetail(samples: Sample[], target: string, key: string): number {
  return median(
    samples.filter((s) => s.target === target).map((s) => s.detail?.[key] as number)
      .filter(Number.isFinite),
  );
}

/** A range that holds the true median with at least `confidence`, from the samples alone. */
export interface MedianInterval {
  low: number;
  high: number;
  /** Its exact coverage (at least the confidence asked for). */
  confidence: number;
}

/**
 * A distribution-free confidence interval of the median: the k-th smallest and k-th largest
 * value, for the largest k whose coverage under Binomial(n, ½) still reaches `confidence`. It
 * assumes only independent rounds, not a normal spread, which per-round ratios on a shared
 * machine do not have. Undefined when there are too few values for any such k (fewer than 6
 * at 95 %).
 *
 * ```ts
 * medianInterval([...Array(15).keys()].map((i) => i + 1)); // { low: 4, high: 12, confidence: 0.965 }
 * ```
 */
export function medianInterval(values: number[], confidence = 0.95): MedianInterval | undefined {
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  // P(X ≤ j) for X ~ Binomial(n, ½), accumulated; k values below the interval leave it with
  // probability P(X ≤ k − 1) on each side.
  let term = 0.5 ** n; // P(X = 0)
  let below = 0;
  let best: MedianInterval | undefined;
  for (let k = 1; 2 * k <= n; k++) {
    below += term; // P(X ≤ k − 1)
    const coverage = 1 - 2 * below;
    if (coverage < confidence) break;
    best = { low: sorted[k - 1], high: sorted[n - k], confidence: round(coverage, 3) };
    term = (term * (n - (k - 1))) / k; // P(X = k)
  }
  return best;
}
