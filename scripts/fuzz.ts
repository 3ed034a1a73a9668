/**
 * The long fuzz run (`deno task fuzz`): the same HTTP/3 codec properties as
 * `tests/fuzz/fuzz_test.ts`, with 1,000,000 cases in all by default instead of the test task's
 * 50,000, split over the properties by the same weights. Deterministic: each property runs in
 * chunks of at most {@link CHUNK} cases, chunk `k` with seed `seed + k`, so a failure names the
 * property, seed and case count that reproduce it. `budget`'s rounding remainder is spread so
 * the run has exactly the cases asked for. Progress goes to stderr, one line per
 * property and a summary line to stdout; exits 1 when a property fails, 2 for a bad option.
 *
 * Options: `--cases N` (or `FUZZ_CASES`; default 1000000, 15–100000000), `--seed S` (or
 * `FUZZ_SEED`; default 0x5eed, the test task's seed).
 *
 * ```sh
 * deno task fuzz                       # 1,000,000 cases, seed 0x5eed
 * deno task fuzz --cases 5000000 --seed 7
 * ```
 * @module
 */

import { budget, PROPERTIES } from "../tests/fuzz/properties.ts";

/** Cases per chunk: a progress line at least this often, and a bounded replay on failure. */
export const CHUNK = 50_000;

/** The seed of `tests/fuzz/fuzz_test.ts`. */
const DEFAULT_SEED = 0x5eed;

/** A fuzz run's settings. */
export interface FuzzOptions {
  /** Total cases across all properties. */
  cases: number;
  /** Seed of each property's first chunk. */
  seed: number;
}

/**
 * Reads `--cases`/`--seed` from `args`, falling back to `FUZZ_CASES`/`FUZZ_SEED` in `env`.
 * Throws an Error with a one-line message for a bad value.
 *
 * ```ts
 * parseFuzzOptions(["--cases", "2000"], {}); // { cases: 2000, seed: 0x5eed }
 * ```
 */
export function parseFuzzOptions(
  args: readonly string[],
  env: Record<string, string | undefined>,
): FuzzOptions {
  const value = (flag: string, envVar: string): string | undefined => {
    const i = args.indexOf(flag);
    if (i >= 0) {
      if (i + 1 >= args.length) throw new Error(`${flag} needs a value`);
      return args[i + 1];
    }
    return env[envVar];
  };
  const integer = (text: string | undefined, name: string, fallback: number, min: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (text.trim() === "" || !Number.isSafeInteger(n) || n < min || n > 100_000_000) {
      throw new Error(`${name}: "${text}" is not an integer from ${min} to 100000000`);
    }
    return n;
  };
  for (const arg of args) {
    if (arg.startsWith("--") && arg !== "--cases" && arg !== "--seed") {
      throw new Error(`unknown option ${arg} (known: --cases N, --seed S)`);
    }
  }
  return {
    cases: integer(value("--cases", "FUZZ_CASES"), "--cases", 1_000_000, PROPERTIES.length),
    seed: integer(value("--seed", "FUZZ_SEED"), "--seed", DEFAULT_SEED, 0),
  };
}

/** What a run found. */
export interface FuzzResult {
  /** Cases run (all of them when nothing failed). */
  cases: number;
  /** Properties that failed, with the message fast-check gave (seed and counterexample). */
  failures: string[];
  /** Wall time in ms. */
  ms: number;
}

/**
 * Runs every property with its share of `options.cases`, reporting progress through `progress`.
 * Keeps going after a failing property so one run shows every failure.
 */
export function runFuzz(options: FuzzOptions, progress: (line: string) => void): FuzzResult {
  const runs = budget(PROPERTIES, options.cases);
  // `budget` rounds each share down: hand the few cases left over out one by one, so the run
  // has exactly the cases asked for.
  for (let i = 0; runs.reduce((a, b) => a + b, 0) < options.cases; i++) {
    runs[i % runs.length]++;
  }
  const total = runs.reduce((a, b) => a + b, 0);
  const start = performance.now();
  const failures: string[] = [];
  let done = 0;
  PROPERTIES.forEach((property, i) => {
    const began = performance.now();
    let ran = 0;
    for (let chunk = 0; ran < runs[i]; chunk++) {
      const numRuns = Math.min(CHUNK, runs[i] - ran);
      const seed = options.seed + chunk;
      try {
        property.check({ numRuns, seed });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${property.name} (seed ${seed}, ${numRuns} cases): ${message}`);
        progress(`✗ ${property.name}: failed in the chunk with seed ${seed}\n${message}`);
        break;
      }
      ran += numRuns;
      done += numRuns;
    }
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    const overall = `${done.toLocaleString("en")}/${total.toLocaleString("en")}`;
    progress(
      `${ran === runs[i] ? "✓" : "✗"} ${property.name}: ${ran} cases, ${seconds} s [${overall}]`,
    );
  });
  return { cases: done, failures, ms: performance.now() - start };
}

if (import.meta.main) {
  let options: FuzzOptions;
  try {
    options = parseFuzzOptions(Deno.args, {
      FUZZ_CASES: Deno.env.get("FUZZ_CASES"),
      FUZZ_SEED: Deno.env.get("FUZZ_SEED"),
    });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(2);
  }
  console.error(
    `▶ fuzz: ${PROPERTIES.length} properties, ${options.cases.toLocaleString("en")} cases, seed 0x${
      options.seed.toString(16)
    }`,
  );
  const result = runFuzz(options, (line) => console.error(line));
  const seconds = (result.ms / 1000).toFixed(1);
  const verdict = result.failures.length === 0 ? "OK" : "FAILED";
  console.log(
    `fuzz: ${verdict}: ${result.cases} cases, ${PROPERTIES.length} properties, ${result.failures.length} failed, seed 0x${
      options.seed.toString(16)
    }, ${seconds} s`,
  );
  Deno.exit(result.failures.length === 0 ? 0 : 1);
}
