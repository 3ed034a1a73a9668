/**
 * The deterministic property suite: every property in `properties.ts` with a fixed seed and
 * about 50,000 cases in all, so a failure reproduces exactly. Longer fuzz runs reuse the same
 * properties with a larger budget.
 * @module
 */

import { budget, PROPERTIES } from "./properties.ts";

/** Fixed seed: the same cases on every run. */
const SEED = 0x5eed;
/** Total cases across the suite. */
const TOTAL_RUNS = 50_000;

const runs = budget(PROPERTIES, TOTAL_RUNS);
PROPERTIES.forEach((p, i) => {
  Deno.test(`fuzz: ${p.name} (${runs[i]} cases)`, () => p.check({ numRuns: runs[i], seed: SEED }));
});
